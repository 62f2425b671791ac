#include "lock/lock_lease.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include "base/process_identity.h"

namespace h5redislock {
namespace {

long long ToNs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

LockLease::LockLease(std::shared_ptr<Router> router, LockKeys keys, std::string token, double lease_s,
                     double retain_s, std::string file)
    : router_(std::move(router)),
      keys_(std::move(keys)),
      token_(std::move(token)),
      lease_ms_(static_cast<long long>(lease_s * 1000)),
      retain_ms_(static_cast<long long>(retain_s * 1000)),
      file_(std::move(file)),
      fork_generation_(ForkGeneration()) {}

Clock::time_point LockLease::deadline() const {
  return Clock::time_point(std::chrono::nanoseconds(deadline_ns_.load(std::memory_order_acquire)));
}

void LockLease::Start(Clock::time_point sent_at, std::chrono::milliseconds left) {
  long long proposed = ToNs(sent_at + left - margin());
  std::lock_guard<std::mutex> lock(mu_);
  started_ns_ = ToNs(sent_at);
  // A renewal sent later may have set a later deadline; a lost lease's is void.
  if (lost_.load(std::memory_order_relaxed) || proposed > deadline_ns_.load(std::memory_order_relaxed))
    deadline_ns_.store(proposed, std::memory_order_release);
  lost_.store(false, std::memory_order_release);
}

void LockLease::Extend(Clock::time_point sent_at) {
  long long proposed = ToNs(sent_at + std::chrono::milliseconds(lease_ms_) - margin());
  long long current = deadline_ns_.load(std::memory_order_acquire);
  // Only a renewal sent while the lease was still valid extends it.
  while (!lost() && ToNs(sent_at) < current && proposed > current) {
    if (deadline_ns_.compare_exchange_weak(current, proposed, std::memory_order_acq_rel)) return;
  }
  if (ToNs(sent_at) >= current) MarkLost("the lease ran out before it could be renewed");
}

void LockLease::Vanished(Clock::time_point sent_at) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ToNs(sent_at) < started_ns_) return;
  MarkLostLocked("Redis no longer has this process's entry: its lease expired, the lock was broken, or Redis lost "
                 "its data");
}

void LockLease::MarkLost(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  MarkLostLocked(reason);
}

void LockLease::MarkLostLocked(const std::string& reason) {
  if (lost_.load(std::memory_order_relaxed)) return;
  lost_reason_ = reason;
  lost_.store(true, std::memory_order_release);
}

bool LockLease::owned_by_this_process() const { return ForkGeneration() == fork_generation_; }

Status LockLease::CheckValid(const char* operation) const {
  if (!owned_by_this_process())
    return Status::LockLost(std::string(operation) + " on '" + file_ +
                            "' refused: the file was opened by the parent process before fork(); "
                            "the lock belongs to the parent");
  if (lost()) {
    std::lock_guard<std::mutex> lock(mu_);
    return Status::LockLost(std::string(operation) + " on '" + file_ + "' refused: the lock was lost (" +
                            lost_reason_ + ")");
  }
  if (ToNs(Clock::now()) >= deadline_ns_.load(std::memory_order_acquire))
    return Status::LockLost(std::string(operation) + " on '" + file_ +
                            "' refused: the lock's lease was not renewed in time (process paused, or Redis "
                            "unreachable); another process may hold the lock now");
  return Status::OK();
}

void LockLease::SetWanted() {
  if (wanted_.exchange(true, std::memory_order_acq_rel)) return;
  const int fd = WantedFd();
  const uint64_t one = 1;
  if (fd >= 0 && write(fd, &one, sizeof one) < 0) {
    // A full counter is readable already.
  }
}

int LockLease::WantedFd() {
  static const int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  return fd;
}

}  // namespace h5redislock
