#include "lease_keeper.h"

#include <algorithm>
#include <map>

#include "lock_protocol.h"
#include "log.h"
#include "server_watch.h"

namespace h5redislock {

void LeaseKeeper::Add(std::shared_ptr<LockLease> lease) {
  std::lock_guard<std::mutex> lock(mu_);
  // Wake the thread only if its next round would come too late for this
  // lease: an uncontended open must not cost a context switch.
  const bool wake = idle_ || Clock::now() + lease->renew_period() < next_round_;
  if (watched_.insert(&lease->pool()).second) {
    // The pool lives as long as the process's lock table: so does the watch.
    ConnectionPool* pool = &lease->pool();
    WatchServer(
        lease->pool_ptr(), [this, pool] { return HasLeasesOn(pool); },
        [this, pool](const std::string& reason) { LoseAll(pool, reason); });
  }
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

bool LeaseKeeper::HasLeasesOn(const ConnectionPool* pool) {
  std::lock_guard<std::mutex> lock(mu_);
  return std::any_of(leases_.begin(), leases_.end(),
                     [pool](const std::shared_ptr<LockLease>& l) { return &l->pool() == pool; });
}

void LeaseKeeper::LoseAll(const ConnectionPool* pool, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& l : leases_) {
    if (&l->pool() != pool || l->lost()) continue;
    l->MarkLost(reason);
    Log(LogLevel::kInfo, "lock on '" + l->file() + "' lost: " + reason + "; I/O on it is fenced from now on");
  }
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
  std::map<ConnectionPool*, std::vector<LockLease*>> by_server;
  for (const auto& l : leases) by_server[&l->pool()].push_back(l.get());
  for (auto& [pool, batch] : by_server) {
    std::vector<Reply> replies;
    Clock::time_point sent;
    Status s = pool->Run([&](RedisConnection& conn) {
      std::vector<Argv> commands;
      for (LockLease* l : batch) commands.push_back(RenewCommand(*l));
      sent = Clock::now();
      return conn.Pipeline(commands, &replies);
    });
    if (!s.ok()) {
      Log(LogLevel::kInfo, "lease renewal failed, will retry: " + s.message());
      continue;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      LockLease* lease = batch[i];
      bool alive = false;
      Status r = ParseRenewReply(*lease, replies[i].get(), &alive);
      if (!r.ok() && ReplyString(replies[i].get()).rfind("NOSCRIPT", 0) == 0) {
        Reply again;  // the script cache was flushed: run it by body once
        r = pool->Run([&](RedisConnection& conn) {
          return RunScript(conn, Script::kRenew, lease->keys(), RenewArgs(*lease), &again);
        });
        if (r.ok()) r = ParseRenewReply(*lease, again.get(), &alive);
      }
      if (!r.ok()) {
        Log(LogLevel::kInfo, "lease renewal for '" + lease->file() + "' failed: " + r.message());
      } else if (!alive) {
        lease->MarkLost("Redis no longer has this process's entry: its lease expired, the lock was broken, "
                        "or Redis lost its data");
        Log(LogLevel::kInfo, "lock on '" + lease->file() + "' lost: I/O on it is fenced from now on");
      } else {
        lease->Extend(sent);
        Log(LogLevel::kDebug, "renewed the lease on '" + lease->file() + "'");
      }
    }
  }
}

}  // namespace h5redislock
