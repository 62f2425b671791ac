#include "lock/lease_keeper.h"

#include <algorithm>
#include <map>

#include "base/log.h"
#include "lock/lock_protocol.h"

namespace h5redislock {
namespace {

// What a renewal's outcome means for the lease: extended, lost, or (Redis
// unreachable, replicas behind) unchanged until the next round.
void Settle(LockLease* lease, const Status& renewal, bool alive, const Status& replicated, Clock::time_point sent) {
  if (!renewal.ok()) {
    Log(LogLevel::kInfo, "lease renewal for '" + lease->file() + "' failed: " + renewal.message());
  } else if (!alive) {
    lease->Vanished(sent);
    if (lease->lost()) Log(LogLevel::kInfo, "lock on '" + lease->file() + "' lost: I/O on it is fenced from now on");
  } else if (!replicated.ok()) {
    Log(LogLevel::kInfo, "lease on '" + lease->file() + "' not extended: " + replicated.message());
  } else {
    lease->Extend(sent);
    Log(LogLevel::kDebug, "renewed the lease on '" + lease->file() + "'");
  }
}

// Renews one lease on its own (after a redirection or NOSCRIPT).
void RenewOne(LockLease* lease) {
  Router& router = lease->router();
  Reply reply;
  Clock::time_point sent;
  Status replicated;
  bool fenced = false;
  Status s = router.Run(lease->keys().slot(), [&](RedisConnection& conn) {
    fenced = lease->lost();  // fenced meanwhile: see RenewBatch
    if (fenced) return Status::OK();
    sent = Clock::now();
    Status run = RunScript(conn, Script::kRenew, lease->keys(), RenewArgs(*lease), &reply);
    replicated = run.ok() ? router.ConfirmReplicated(conn, "the renewal") : Status::OK();
    return run;
  });
  if (fenced) return;
  bool alive = false;
  if (s.ok()) s = ParseRenewReply(*lease, reply.get(), &alive);
  Settle(lease, s, alive, replicated, sent);
}

// Renews leases whose locks are on one master, in one round trip.
void RenewBatch(Router& router, const std::vector<LockLease*>& batch) {
  const Argv wait = router.WaitCommand();
  std::vector<LockLease*> sent_for;
  std::vector<Reply> replies;
  std::vector<bool> redirected;
  Clock::time_point sent;
  Status replicated;
  // All of the batch's locks are on the master of the first one's slot.
  Status s = router.Run(batch.front()->keys().slot(), [&](RedisConnection& conn) {
    // A lease fenced meanwhile (its master failed over, as a retry here may
    // have just learnt) is not renewed: its entry runs out for the waiters.
    sent_for.clear();
    std::vector<Argv> commands;
    for (LockLease* l : batch) {
      if (l->lost()) continue;
      sent_for.push_back(l);
      commands.push_back(RenewCommand(*l));
    }
    if (commands.empty()) return Status::OK();
    if (!wait.empty()) commands.push_back(wait);
    sent = Clock::now();
    Status run = conn.Pipeline(commands, &replies);
    if (!run.ok()) return run;
    // A lock whose slot moved is renewed again on its own below; the others
    // are answered, so the batch is not sent again.
    redirected.clear();
    for (size_t i = 0; i < sent_for.size(); ++i) redirected.push_back(router.Redirected(conn, replies[i].get()));
    conn.TakeRedirection();
    replicated = wait.empty() ? Status::OK() : router.CheckWaitReply(conn, replies.back().get(), "the renewals");
    return run;
  });
  if (!s.ok()) {
    Log(LogLevel::kInfo, "lease renewal failed, will retry: " + s.message());
    return;
  }
  for (size_t i = 0; i < sent_for.size(); ++i) {
    LockLease* lease = sent_for[i];
    if (redirected[i] || ReplyString(replies[i].get()).rfind("NOSCRIPT", 0) == 0) {
      RenewOne(lease);  // elsewhere now, or the script cache was flushed: run it by body once
      continue;
    }
    bool alive = false;
    Status r = ParseRenewReply(*lease, replies[i].get(), &alive);
    Settle(lease, r, alive, replicated, sent);
  }
}

}  // namespace

void LeaseKeeper::Add(std::shared_ptr<LockLease> lease) {
  std::lock_guard<std::mutex> lock(mu_);
  // Wake the thread only if its next round would come too late for this
  // lease: an uncontended open must not cost a context switch.
  const bool wake = idle_ || Clock::now() + lease->renew_period() < next_round_;
  leases_.push_back(std::move(lease));
  if (!started_) {
    started_ = true;
    std::thread(&LeaseKeeper::Run, this).detach();  // lives as long as the process
  }
  if (wake) wake_.notify_one();
}

void LeaseKeeper::Remove(const LockLease* lease) {
  std::lock_guard<std::mutex> lock(mu_);
  leases_.erase(std::remove_if(leases_.begin(), leases_.end(),
                               [lease](const std::shared_ptr<LockLease>& l) { return l.get() == lease; }),
                leases_.end());
}

void LeaseKeeper::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    idle_ = true;
    wake_.wait(lock, [this] { return !leases_.empty(); });
    idle_ = false;
    auto period = std::chrono::milliseconds::max();
    for (const auto& l : leases_) period = std::min(period, l->renew_period());
    next_round_ = Clock::now() + period;
    // Across a suspend this wakes late by the time suspended (clock.h); the
    // leases' deadlines, on the same clock, do not move meanwhile.
    wake_.wait_until(lock, next_round_);
    std::vector<std::shared_ptr<LockLease>> due;
    for (const auto& l : leases_)
      if (l->active() && !l->lost()) due.push_back(l);
    if (due.empty()) continue;
    lock.unlock();
    RenewRound(due);
    lock.lock();
  }
}

void LeaseKeeper::RenewRound(const std::vector<std::shared_ptr<LockLease>>& leases) {
  // By master: leases whose master is not known yet go on their own.
  using Batches = std::map<std::pair<Router*, ConnectionPool*>, std::vector<LockLease*>>;
  Batches by_master;
  for (const auto& l : leases) by_master[{&l->router(), l->router().PoolFor(l->keys().slot())}].push_back(l.get());
  auto renew = [](Batches::const_iterator it) {
    if (it->first.second) {
      RenewBatch(*it->first.first, it->second);
    } else {
      for (LockLease* lease : it->second) RenewOne(lease);
    }
  };
  if (by_master.size() == 1) {
    renew(by_master.begin());
    return;
  }
  // A master that does not answer (a host down: connects time out) must not
  // hold up the renewals on the others: a thread per master.
  std::vector<std::thread> threads;
  for (auto it = by_master.cbegin(); it != by_master.cend(); ++it) threads.emplace_back(renew, it);
  for (std::thread& t : threads) t.join();
}

}  // namespace h5redislock
