#include "lock/lock_table.h"

#include <sys/random.h>

#include <atomic>

#include "base/fork_gate.h"
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

LockTable::LockTable() : process_token_(NewToken()) {}

std::string LockTable::ChannelFor(const std::string& prefix) const { return prefix + "revoke:" + process_token_; }

LockTable::Terms LockTable::Terms::Of(const Config& config) {
  return Terms{config.replicas, config.replica_timeout_s, config.lease_s, config.linger_s, config.journal,
               config.durable};
}

bool LockTable::Terms::operator==(const Terms& other) const {
  return replicas == other.replicas && replica_timeout_s == other.replica_timeout_s && lease_s == other.lease_s &&
         linger_s == other.linger_s && journal == other.journal && durable == other.durable;
}

bool LockTable::Reusable(const Entry& entry, LockMode mode, const Terms& terms) {
  return (entry.mode == LockMode::kWrite || mode == LockMode::kRead) && entry.terms == terms &&
         entry.held->undisputed();
}

bool LockTable::Cacheable(const Entry& entry) {
  if (!entry.heard) return false;
  if (entry.terms.linger_s <= 0 || exiting_ || !entry.pool) return false;
  if (!entry.held->undisputed()) return false;
  // Only while a waiter's message would reach us; else it would wait for
  // the linger or the lease, for no use of ours.
  return entry.pool->watch().Subscribed(ChannelFor(entry.held->lease().keys().prefix()));
}

void LockTable::Listen(ConnectionPool* pool, const std::string& prefix) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!listened_[pool].insert(prefix).second) return;
    auto& listener = revocations_[pool];
    if (!listener) listener = std::make_unique<Revocations>(this, pool);
  }
  pool->watch().Subscribe(ChannelFor(prefix), revocations_[pool].get());
}

void LockTable::Wanted(ConnectionPool* pool, const std::string* lock_base) {
  // A cached entry goes here and now, on the watch's thread: the waiter
  // waits for nothing else (no hop to the sweeper). One in use is marked,
  // and is not cached at its last close.
  std::vector<std::shared_ptr<HeldLock>> idle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      Entry& entry = it->second;
      LockLease* lease = entry.held ? &entry.held->mutable_lease() : entry.taking.get();
      if (!lease || entry.pool != pool || (lock_base && lease->keys().base() != *lock_base)) {
        ++it;
        continue;
      }
      if (entry.cached()) {
        idle.push_back(std::move(entry.held));
        it = entries_.erase(it);
      } else {
        lease->SetWanted();
        ++it;
      }
    }
  }
  for (const auto& held : idle) LetGo(held, false);
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
      Entry& entry = it->second;
      if (entry.acquiring || entry.closing) {
        // Another thread of ours is taking the lock in Redis, or closing the
        // last handle: its outcome is ours too (we share its hold, or try
        // ourselves if it fails or lets the lock go), but we wait for it no
        // longer than our own timeout.
        if (config.timeout_s < 0) {
          settled_.wait(lock);
        } else if (settled_.wait_until(lock, started + std::chrono::duration_cast<Clock::duration>(
                                                          std::chrono::duration<double>(config.timeout_s))) ==
                   std::cv_status::timeout) {
          return OtherThreadTakesIt(config, mode, file, started);
        }
        continue;
      }
      if (entry.refs == 0) {
        if (Reusable(entry, mode, Terms::Of(config))) {
          entry.refs = 1;
          *out = entry.held;
          return Status::OK();
        }
        // Cached in another mode or on other terms, wanted, or in doubt: let
        // it go first.
        std::shared_ptr<HeldLock> stale = std::move(entry.held);
        entries_.erase(it);
        lock.unlock();
        LetGo(stale, false);
        lock.lock();
        continue;
      }
      if (mode == LockMode::kWrite && entry.mode == LockMode::kRead)
        return Status::Upgrade("cannot open '" + file +
                               "' for writing: this process has it open read-only, and a read lock cannot "
                               "be upgraded (close the read-only handles first)");
      ++entry.refs;
      *out = entry.held;
      return Status::OK();
    }
    Entry acquiring;
    acquiring.mode = mode;
    acquiring.terms = Terms::Of(config);
    entries_.emplace(table_key, std::move(acquiring));
  }

  auto lease = std::make_shared<LockLease>(RouterFor(config),
                                           LockKeys(config.prefix, lock_name), NewToken(), config.lease_s,
                                           config.retain_s, file);
  // A process that caches locks subscribes to its revocation channel before
  // it asks, where it knows the master already: a waiter that comes right
  // after the grant must find the message heard.
  const bool caching = config.linger_s > 0;
  ConnectionPool* pool = lease->router().PoolFor(lease->keys().slot());
  if (caching && pool) Listen(pool, config.prefix);
  // A revocation published before the watch's subscription is confirmed is
  // lost, and the entry's flag says it was sent: such an entry is never
  // cached (else a waiter would wait for a renewal's news, lease/3).
  const bool heard = caching && pool && pool->watch().Subscribed(ChannelFor(config.prefix));
  if (heard) {
    // A waiter may come, and its message arrive, after Redis granted the
    // lock and before the reply reaches us: Wanted finds the lease here.
    std::lock_guard<std::mutex> lock(mu_);
    Entry& entry = entries_.find(table_key)->second;
    entry.pool = pool;
    entry.taking = lease;
  }
  keeper_.Add(lease);
  AcquireRequest request{mode, config.timeout_s, file, started};
  long long fence = 0;
  SessionMark mark;
  Status s = AcquireLock(request, ThisProcessRecord(session_dev, caching ? ChannelFor(config.prefix) : ""),
                         lease.get(), &fence, &mark);
  if (mark.token == lease->token()) mark = SessionMark();  // our own
  if (s.ok() && caching && !pool) {
    pool = lease->router().PoolFor(lease->keys().slot());
    if (pool) Listen(pool, config.prefix);
  }

  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(table_key);
  if (s.ok()) {
    it->second.acquiring = false;
    it->second.taking.reset();
    it->second.refs = 1;
    it->second.pool = pool;
    it->second.heard = heard;
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
  settled_.notify_all();
  return s;
}

Status LockTable::Release(const std::shared_ptr<HeldLock>& held, const BeforeRelease& before_release,
                          bool may_cache) {
  bool keep = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(held->table_key());
    if (it == entries_.end() || it->second.held != held) return Status::Internal("release of a lock not held");
    if (--it->second.refs > 0) return Status::OK();
    // Only a close that finishes its session (the driver's) may cache; the
    // driver's own releases on its error paths let the lock go.
    keep = before_release && may_cache && Cacheable(it->second);
    it->second.closing = true;
  }
  bool clean = false;
  const Status finished = before_release ? before_release(keep, &clean) : Status::OK();
  bool mark_cached = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(held->table_key());
    Entry& entry = it->second;
    entry.closing = false;
    settled_.notify_all();
    // The driver may not have kept the session (it committed it for good:
    // *clean), and the lease may have changed meanwhile.
    if (keep && finished.ok() && !clean && Cacheable(entry)) {
      entry.linger_until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(entry.terms.linger_s));
      mark_cached = !entry.marked_cached;
      entry.marked_cached = true;
      StartSweeper();
      if (entry.linger_until < sweep_at_) sweep_.notify_one();
    } else {
      entries_.erase(it);
      keep = false;
    }
  }
  if (keep) {
    // For `h5redislock status`, and for a timeout=0 opener, which revokes a
    // cached entry rather than fail against it. Not waited for.
    if (mark_cached) PostCached(held->lease());
    Log(LogLevel::kDebug, std::string("cached the ") + ModeName(held->mode()) + " lock on '" +
                              held->lease().file() + "'");
    return finished;
  }
  Status s = LetGo(held, clean);
  return finished.ok() ? s : finished;
}

Status LockTable::LetGo(const std::shared_ptr<HeldLock>& held, bool clean) {
  const LockLease& lease = held->lease();
  Status valid = held->CheckValid("releasing the lock");
  // A session kept for a cached lock is removed only while the lock is
  // ours: else it is the next holder's to deal with (a rollback that
  // changes nothing).
  Status finished = valid.ok() ? held->Finish(&clean) : Status::OK();
  keeper_.Remove(&lease);
  Status s = ReleaseLock(lease, clean && valid.ok() && finished.ok());
  Log(LogLevel::kInfo, std::string("released the ") + ModeName(held->mode()) + " lock on '" + lease.file() + "'");
  if (!finished.ok()) return finished;
  return s.ok() ? valid : s;
}

void LockTable::StartSweeper() {
  if (sweeper_started_) return;
  sweeper_started_ = true;
  ForkGate::StartThread([this](ForkGate::Busy& busy) { Sweep(busy); });  // lives as long as the table: the process
  // A process that exits normally lets its cached locks go (HDF5's own
  // atexit closes files later than this runs: nothing is cached from then).
  static std::once_flag at_exit;
  std::call_once(at_exit, [] { std::atexit([] { LockTable::ForThisProcess().ReleaseCached(true); }); });
}

void LockTable::Sweep(ForkGate::Busy& busy) {
  // A wanted entry is let go at once when the news comes by message (by
  // the watch's thread: Wanted); a renewal's reply only sets its lease's
  // flag, which the sweeper sees
  // within a tick.
  constexpr auto kTick = std::chrono::milliseconds(100);
  // `busy` is left while the sweeper waits (fork_gate.h).
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    const auto now = Clock::now();
    auto next = now + kTick;
    std::vector<std::shared_ptr<HeldLock>> due;
    for (auto it = entries_.begin(); it != entries_.end();) {
      Entry& entry = it->second;
      const bool cached = entry.cached();
      if (cached && (now >= entry.linger_until || exiting_ || !entry.held->undisputed())) {
        due.push_back(std::move(entry.held));
        it = entries_.erase(it);
        continue;
      }
      if (cached) next = std::min(next, entry.linger_until);
      ++it;
    }
    if (due.empty()) {
      busy.Leave();
      sweep_at_ = next;
      sweep_.wait_until(lock, next);
      sweep_at_ = Clock::time_point::min();
      lock.unlock();  // a fork holds the gate: wait for it without mu_
      busy.Enter();
      lock.lock();
      continue;
    }
    lock.unlock();
    for (const auto& held : due) LetGo(held, false);
    lock.lock();
  }
}

std::vector<LockTable::Entry*> LockTable::HeldNamed(const std::string& lock_name) {
  std::vector<Entry*> found;
  for (auto& [key, entry] : entries_) {
    if (entry.held && entry.held->lease().keys().lock_name() == lock_name) found.push_back(&entry);
  }
  return found;
}

bool LockTable::Wanted(const std::string& lock_name) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry* entry : HeldNamed(lock_name)) {
    if (entry->held->lease().wanted()) return true;
  }
  return false;
}

unsigned long long LockTable::HoldOf(const std::string& lock_name) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::vector<Entry*> found = HeldNamed(lock_name);
  if (found.empty()) return 0;
  const HeldLock& held = *found.front()->held;
  return held.undisputed() ? held.id() : 0;
}

void LockTable::MarkIdle(const std::string& lock_name) {
  std::vector<std::shared_ptr<HeldLock>> unmarked;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Entry* entry : HeldNamed(lock_name)) {
      if (entry->marked_cached) continue;
      entry->marked_cached = true;
      unmarked.push_back(entry->held);
    }
  }
  for (const auto& held : unmarked) PostCached(held->lease());
}

void LockTable::ReleaseCached(bool for_good) {
  std::vector<std::shared_ptr<HeldLock>> cached;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (for_good) exiting_ = true;
    for (auto it = entries_.begin(); it != entries_.end();) {
      const Entry& entry = it->second;
      if (entry.cached()) {
        cached.push_back(entry.held);
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& held : cached) LetGo(held, false);
}

}  // namespace h5redislock
