// lock_lease.h: this process's local view of one entry's lease in Redis.
//
// An entry (a waiter, and after the grant a holder) lives in Redis only as
// long as its lease, which the lease keeper renews. Redis measures the lease on
// its own clock from when it ran our command; we measure a deadline on our
// clock from when we *sent* the command, which is no later, minus a safety
// margin. So while our clock says "before the deadline", Redis has not
// expired the entry and nobody else can hold a conflicting lock, provided the
// two clocks run at about the same rate (see "Guarantees" in the README).
//
// Our clock is CLOCK_BOOTTIME (clock.h), not CLOCK_MONOTONIC: Redis's clock
// runs on while this machine is suspended, hibernated or paused for a VM
// snapshot, and so must ours. On CLOCK_MONOTONIC, which stops meanwhile, a
// holder resumed after its entry expired would find its deadline still ahead
// and write on, next to the process Redis granted the lock to, until its
// keeper's next renewal found the entry gone.
//
// The I/O path asks CheckValid(): two atomic loads and a clock read, no lock
// and no Redis round trip. Once the deadline passes, the keeper learns that
// the entry is gone, or the master that granted the lock is failed over
// (master_term.h), the lease is lost for good: a later successful renewal
// cannot revive it, because someone else may have held the lock in between.
// Only while it waits (before the grant, when nothing was done under it) may
// a new entry start it afresh.
//
// Thread-safety: all methods are thread-safe.
#ifndef H5REDISLOCK_LOCK_LEASE_H_
#define H5REDISLOCK_LOCK_LEASE_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "base/clock.h"
#include "base/status.h"
#include "lock/lock_keys.h"
#include "redis/master_term.h"
#include "redis/router.h"

namespace h5redislock {

class LockLease : public Fenceable, public std::enable_shared_from_this<LockLease> {
 public:
  // The deadline is the lease minus this fraction of it: time for a paused
  // process to notice, and for clock rate differences.
  static constexpr double kSafetyMarginFraction = 0.2;

  LockLease(std::shared_ptr<Router> router, LockKeys keys, std::string token, double lease_s, double retain_s,
            std::string file);
  LockLease(const LockLease&) = delete;
  LockLease& operator=(const LockLease&) = delete;

  // OK while the entry is certainly ours; otherwise a kLockLost error naming
  // the file, the operation and why. Also fails in a child of the process
  // that took the lock: a fork inherits the file, not the lock.
  Status CheckValid(const char* operation) const;

  // An ACQUIRE sent at `sent_at` found or made the entry (queued or
  // granted), and `left` of the entry's lease remained in Redis when it ran
  // it: the lease runs until sent_at + left, which is no later than Redis's
  // expiry, as Redis ran the command after we sent it. (A deadline counted
  // from a send time must never pass the expiry Redis has: a retried ACQUIRE
  // that finds an old grant, whose reply was lost, renews the entry and says
  // so.) Only for AcquireLock, before the lock is used: it also revives a
  // lease lost while waiting (the waiter's entry vanished with a Redis
  // restart or failover, and this ACQUIRE made a new one).
  void Start(Clock::time_point sent_at, std::chrono::milliseconds left);
  // A renewal sent at `sent_at` found the entry and extended it.
  void Extend(Clock::time_point sent_at);
  // A renewal sent at `sent_at` found the entry gone (expired, broken, or
  // Redis lost its data): lost, unless an ACQUIRE made it anew since.
  void Vanished(Clock::time_point sent_at);
  // The lock can no longer be trusted, for `reason` (also when the term of
  // the master that granted it ends: master_term.h).
  void MarkLost(const std::string& reason) override;

  // Someone else waits for the lock (a revocation, or a renewal's reply said
  // so): a process that caches it lets it go as soon as it is idle, and
  // does not cache it again (lock_table.h). The first call also signals
  // WantedFd.
  void SetWanted();
  bool wanted() const { return wanted_.load(std::memory_order_acquire); }
  // An eventfd of the process that becomes readable when some lease becomes
  // wanted, for a program that keeps files open while nobody else wants
  // them (H5FD_redislock_revocation_fd); -1 if none could be made. Shared
  // with forked children: a wake is a hint, to check wanted() by.
  static int WantedFd();

  bool active() const { return deadline_ns_.load(std::memory_order_acquire) != 0 || lost(); }
  bool lost() const { return lost_.load(std::memory_order_acquire); }
  // False in a child forked after the lease was created.
  bool owned_by_this_process() const;
  Clock::time_point deadline() const;

  Router& router() const { return *router_; }
  const LockKeys& keys() const { return keys_; }
  const std::string& token() const { return token_; }
  const std::string& file() const { return file_; }
  long long lease_ms() const { return lease_ms_; }
  std::chrono::milliseconds lease() const { return std::chrono::milliseconds(lease_ms_); }
  // The safety margin: how much sooner than Redis this process stops.
  std::chrono::milliseconds margin() const {
    return std::chrono::milliseconds(static_cast<long long>(lease_ms_ * kSafetyMarginFraction));
  }
  long long retain_ms() const { return retain_ms_; }
  std::chrono::milliseconds renew_period() const { return std::chrono::milliseconds(lease_ms_ / 3); }

 private:
  void MarkLostLocked(const std::string& reason);  // needs mu_

  const std::shared_ptr<Router> router_;
  const LockKeys keys_;
  const std::string token_;
  const long long lease_ms_;
  const long long retain_ms_;
  const std::string file_;
  const unsigned long fork_generation_;

  std::atomic<long long> deadline_ns_{0};  // on Clock (BOOTTIME); 0 until Start
  std::atomic<bool> lost_{false};
  std::atomic<bool> wanted_{false};
  mutable std::mutex mu_;
  std::string lost_reason_;                // guarded by mu_
  long long started_ns_ = 0;               // guarded by mu_; the last Start's sent_at
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_LOCK_LEASE_H_
