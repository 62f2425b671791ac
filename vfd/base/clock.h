// clock.h: the clock of every deadline in the driver: CLOCK_BOOTTIME.
//
// A holder stops its I/O at a deadline it measures on its own clock, a margin
// before Redis expires its entry on Redis's clock (lock_lease.h). That holds
// only if the holder's clock runs whenever Redis's does. CLOCK_MONOTONIC
// (std::chrono::steady_clock) stops while the machine is suspended or
// hibernated, or while a VM is paused for a snapshot and restored: after
// resuming, a holder would find its deadline "still ahead" while Redis has
// long expired its entry and granted the lock to someone else. CLOCK_BOOTTIME
// is CLOCK_MONOTONIC plus the time spent suspended: it never jumps back, is
// not set by NTP or by hand, and runs while the machine sleeps. Reading it
// costs what reading CLOCK_MONOTONIC costs (the vDSO serves both).
//
// BootClock is a std::chrono clock, so time points, durations, sleep_until
// and condition_variable::wait_until work as with steady_clock. How long such
// a *wait* lasts is still measured by the kernel on CLOCK_MONOTONIC:
// libstdc++'s wait_until for a clock other than steady_clock and system_clock
// converts the deadline to a steady_clock one when the wait starts, and when
// that passes checks this clock and reports a timeout only if it has passed
// here too (std::this_thread::sleep_until sleeps for the difference). A wait
// that spans a suspend therefore ends late by the time suspended, never
// early. That is on the safe side: the deadline itself is checked against
// BootClock on every I/O, so a holder resumed after its deadline stops at
// once, whenever its keeper wakes.
//
// Thread-safety: now() is safe from any thread.
#ifndef H5REDISLOCK_CLOCK_H_
#define H5REDISLOCK_CLOCK_H_

#include <time.h>

#include <chrono>

namespace h5redislock {

struct BootClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<BootClock>;
  // It never goes back and runs at one rate; it only also runs in suspend.
  static constexpr bool is_steady = true;

  static time_point now() noexcept {
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
  }
};

using Clock = BootClock;

}  // namespace h5redislock

#endif  // H5REDISLOCK_CLOCK_H_
