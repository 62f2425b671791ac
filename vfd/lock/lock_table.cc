#include "lock/lock_table.h"

#include <sys/random.h>

#include <atomic>

#include "base/hex.h"
#include "base/log.h"
#include "base/process_identity.h"

namespace h5redislock {
namespace {

std::string NewToken() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  return HexString(bytes, sizeof bytes);
}

double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The failure of an open that waited its whole timeout for another thread of
// the process, itself waiting for the lock in Redis.
Status OtherThreadTakesIt(const Config& config, LockMode mode, const std::string& file, Clock::time_point started) {
  const std::string what = std::string(ModeName(mode)) + " lock on '" + file + "'";
  if (config.timeout_s == 0)
    return Status::Busy("the " + what + " is being taken by another thread of this process, and timeout=0 forbids "
                        "waiting for it");
  char waited[32];
  std::snprintf(waited, sizeof waited, "%.3g s", SecondsSince(started));
  return Status::Timeout(std::string("timed out after ") + waited + " waiting for the " + what +
                         ", which another thread of this process is waiting for");
}

}  // namespace

LockTable& LockTable::ForThisProcess() {
  // One table per fork generation. The previous generation's table belongs to
  // the parent and is leaked on purpose (see the header).
  struct Generation {
    unsigned long fork_generation;
    LockTable table;
  };
  static std::atomic<Generation*> current{nullptr};
  for (;;) {
    Generation* g = current.load(std::memory_order_acquire);
    if (g && g->fork_generation == ForkGeneration()) return g->table;
    auto fresh = std::make_unique<Generation>();
    fresh->fork_generation = ForkGeneration();
    if (current.compare_exchange_strong(g, fresh.get(), std::memory_order_acq_rel)) return fresh.release()->table;
  }
}

std::shared_ptr<Router> LockTable::RouterFor(const Config& config) {
  const ReplicaPolicy policy{config.replicas, static_cast<long long>(config.replica_timeout_s * 1000)};
  const std::string key = config.redis.PoolKey() + '\0' + std::to_string(policy.replicas) + '/' +
                          std::to_string(policy.wait_ms);
  std::lock_guard<std::mutex> lock(mu_);
  auto& router = routers_[key];
  if (!router) router = MakeRouter(config.redis, config.connect_timeout_s, policy);
  return router;
}

Status LockTable::Acquire(const Config& config, const std::string& lock_name, LockMode mode,
                          const std::string& file, std::shared_ptr<HeldLock>* out, bool* fresh,
                          const std::string& session_dev) {
  if (fresh) *fresh = false;
  const std::string table_key = config.redis.PoolKey() + '\0' + config.prefix + lock_name;
  const auto started = Clock::now();  // the timeout runs from here, also while we wait for another thread
  {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      auto it = entries_.find(table_key);
      if (it == entries_.end()) break;
      if (it->second.acquiring) {
        // Another thread of ours is taking the lock in Redis: its outcome
        // is ours too (we share its hold, or try ourselves if it fails), but
        // we wait for it no longer than our own timeout.
        if (config.timeout_s < 0) {
          acquired_.wait(lock);
        } else if (acquired_.wait_until(lock, started + std::chrono::duration_cast<Clock::duration>(
                                                          std::chrono::duration<double>(config.timeout_s))) ==
                   std::cv_status::timeout) {
          return OtherThreadTakesIt(config, mode, file, started);
        }
        continue;
      }
      if (mode == LockMode::kWrite && it->second.mode == LockMode::kRead)
        return Status::Upgrade("cannot open '" + file +
                               "' for writing: this process has it open read-only, and a read lock cannot "
                               "be upgraded (close the read-only handles first)");
      ++it->second.refs;
      *out = it->second.held;
      return Status::OK();
    }
    Entry acquiring;
    acquiring.mode = mode;
    entries_.emplace(table_key, std::move(acquiring));
  }

  auto lease = std::make_shared<LockLease>(RouterFor(config),
                                           LockKeys(config.prefix, lock_name), NewToken(), config.lease_s,
                                           config.retain_s, file);
  keeper_.Add(lease);
  AcquireRequest request{mode, config.timeout_s, file, started};
  long long fence = 0;
  SessionMark mark;
  Status s = AcquireLock(request, ThisProcessRecord(session_dev), lease.get(), &fence, &mark);
  if (mark.token == lease->token()) mark = SessionMark();  // our own

  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(table_key);
  if (s.ok()) {
    it->second.acquiring = false;
    it->second.refs = 1;
    it->second.held = std::make_shared<HeldLock>(table_key, mode, lease, fence, mark);
    *out = it->second.held;
    if (fresh) *fresh = true;
    Log(LogLevel::kInfo, std::string("acquired the ") + ModeName(mode) + " lock on '" + file + "' after " +
                             std::to_string(SecondsSince(started)) + " s (fence " + std::to_string(fence) + ")" +
                             (mark.set() ? "; marked: " + mark.Describe() + " may have left a journal" : ""));
  } else {
    keeper_.Remove(lease.get());
    entries_.erase(it);
    Log(LogLevel::kInfo, s.message());
  }
  acquired_.notify_all();
  return s;
}

Status LockTable::Release(const std::shared_ptr<HeldLock>& held, const BeforeRelease& before_release) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(held->table_key());
    if (it == entries_.end() || it->second.held != held) return Status::Internal("release of a lock not held");
    if (--it->second.refs > 0) return Status::OK();
    entries_.erase(it);
  }
  bool clean = false;
  Status finished = before_release ? before_release(&clean) : Status::OK();
  const LockLease& lease = held->lease();
  keeper_.Remove(&lease);
  Status valid = held->CheckValid("releasing the lock");
  Status s = ReleaseLock(lease, clean && valid.ok());
  Log(LogLevel::kInfo, std::string("released the ") + ModeName(held->mode()) + " lock on '" + lease.file() + "'");
  if (!finished.ok()) return finished;
  return s.ok() ? valid : s;
}

}  // namespace h5redislock
