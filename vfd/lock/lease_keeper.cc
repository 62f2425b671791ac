#include "lock/lease_keeper.h"

#include <algorithm>

#include "base/fork_gate.h"
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

// Renews one lease on its own (after a redirection, or where the server lacked the function).
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
  bool alive = false, wanted = false;
  if (s.ok()) s = ParseRenewReply(*lease, reply.get(), &alive, &wanted);
  if (wanted) lease->SetWanted();
  Settle(lease, s, alive, replicated, sent);
}

// Renews leases whose locks are on one master, in one round trip whose
// replies must come within `reply_within` (see the header).
void RenewBatch(Router& router, const std::vector<LockLease*>& batch, Clock::duration reply_within) {
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
      commands.push_back(RenewCommand(conn, *l));
    }
    if (commands.empty()) return Status::OK();
    if (!wait.empty()) commands.push_back(wait);
    sent = Clock::now();
    Status run = conn.PipelineUntil(commands, sent + reply_within, &replies);
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
    if (redirected[i] || RenewRanNothing(replies[i].get())) {
      RenewOne(lease);  // elsewhere now, or the server lacked the function: load it, once
      continue;
    }
    bool alive = false, wanted = false;
    Status r = ParseRenewReply(*lease, replies[i].get(), &alive, &wanted);
    if (wanted) lease->SetWanted();
    Settle(lease, r, alive, replicated, sent);
  }
}

}  // namespace

LeaseKeeper::Master LeaseKeeper::MasterOf(const LockLease& lease) {
  return {&lease.router(), lease.router().PoolFor(lease.keys().slot())};
}

void LeaseKeeper::Add(std::shared_ptr<LockLease> lease) {
  std::lock_guard<std::mutex> lock(mu_);
  const Clock::time_point due = Clock::now() + lease->renew_period();
  PlaceLocked(std::move(lease), due);
}

void LeaseKeeper::Remove(const LockLease* lease) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& entry : lanes_) {
    std::vector<std::shared_ptr<LockLease>>& leases = entry.second->leases;
    leases.erase(std::remove_if(leases.begin(), leases.end(),
                                [lease](const std::shared_ptr<LockLease>& l) { return l.get() == lease; }),
                 leases.end());
  }
}

void LeaseKeeper::PlaceLocked(std::shared_ptr<LockLease> lease, Clock::time_point due) {
  const Master master = MasterOf(*lease);
  std::unique_ptr<Lane>& lane = lanes_[master];
  if (!lane) {
    lane = std::make_unique<Lane>();
    // The lane's thread lives as long as the process.
    Lane* const started = lane.get();
    ForkGate::StartThread([this, master, started](ForkGate::Busy& busy) { Run(master, started, busy); });
  }
  lane->leases.push_back(std::move(lease));
  // Wake the lane only if its next round would come too late for this
  // lease: an uncontended open must not cost a context switch.
  if (due < lane->next_round) {
    lane->next_round = due;
    lane->wake.notify_one();
  }
}

// `busy` is left while the lane waits (fork_gate.h).
void LeaseKeeper::Run(Master master, Lane* lane, ForkGate::Busy& busy) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // PlaceLocked may bring the round forward.
    while (Clock::now() < lane->next_round) {
      busy.Leave();
      if (lane->next_round == Clock::time_point::max()) {
        lane->wake.wait(lock);
      } else {
        // Across a suspend this wakes late by the time suspended (clock.h);
        // the leases' deadlines, on the same clock, do not move meanwhile.
        lane->wake.wait_until(lock, lane->next_round);
      }
      lock.unlock();  // a fork holds the gate: wait for it without mu_
      busy.Enter();
      lock.lock();
    }
    const Clock::time_point started = Clock::now();
    std::vector<std::shared_ptr<LockLease>> mine, moved;
    for (std::shared_ptr<LockLease>& l : lane->leases) (MasterOf(*l) == master ? mine : moved).push_back(std::move(l));
    lane->leases.swap(mine);
    for (std::shared_ptr<LockLease>& l : moved) PlaceLocked(std::move(l), started);  // due now: this round's
    auto period = std::chrono::milliseconds::max();
    std::vector<std::shared_ptr<LockLease>> due;  // kept alive while renewed, even if removed meanwhile
    for (const auto& l : lane->leases) {
      period = std::min(period, l->renew_period());
      if (l->active() && !l->lost()) due.push_back(l);
    }
    // From the round's start, whatever it lasts (see the header).
    lane->next_round = lane->leases.empty() ? Clock::time_point::max() : started + period;
    if (due.empty()) continue;
    lock.unlock();
    std::vector<LockLease*> batch;
    for (const auto& l : due) batch.push_back(l.get());
    if (master.second) {
      Router& router = batch.front()->router();
      const auto timeout =
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(router.timeout_s()));
      RenewBatch(router, batch, std::min<Clock::duration>(period, timeout));
    } else {
      for (LockLease* lease : batch) RenewOne(lease);  // the router finds its master
    }
    lock.lock();
  }
}

}  // namespace h5redislock
