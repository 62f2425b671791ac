// clock_test.cc: lease deadlines are measured on CLOCK_BOOTTIME, which runs
// on while the machine is suspended, as Redis's clock does, and not on
// CLOCK_MONOTONIC (steady_clock), which stops. No test may suspend this
// machine, but a time namespace shows its children the two clocks apart by
// an offset of our choosing, as a suspend of that length leaves them. There,
// the driver's clock must read CLOCK_BOOTTIME, and a lock taken through the
// driver's lock table from a real Redis must have its deadline, after the
// grant and after the keeper's renewals, lease × 0.8 ahead on CLOCK_BOOTTIME.
//
// To watch them fail, measure on the old clock: in vfd/clock.h, replace
// `using Clock = BootClock;` by `using Clock = std::chrono::steady_clock;`,
// then `scripts/build clock_test && build/tests/clock_test`: both tests find
// the driver's clock, and the deadline, 100000 s behind CLOCK_BOOTTIME.
//
// Needs root (a time namespace); skips without.
#include <gtest/gtest.h>
#include <time.h>

#include <thread>

#include "base/clock.h"
#include "lock/config.h"
#include "lock/lock_table.h"
#include "namespaces.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

// Seconds by which the boot clock leads in the namespace: a long suspend.
constexpr long kSuspended = 100000;

double Seconds(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

double Seconds(Clock::time_point t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

class ClockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string unsupported = NamespacesUnsupported();
    if (!unsupported.empty()) GTEST_SKIP() << unsupported;
  }
};

TEST_F(ClockTest, ClockReadsBootTimeNotMonotonicTime) {
  SharedArray<double> seen(3);
  const pid_t child = RunInNewNamespaces([] { return EnterTimeNamespaceForChildren(kSuspended); }, [&] {
    seen[0] = Seconds(CLOCK_MONOTONIC);
    seen[1] = Seconds(Clock::now());
    seen[2] = Seconds(CLOCK_BOOTTIME);
    return 0;
  });
  ASSERT_EQ(WaitChild(child), 0);
  ASSERT_GE(seen[2] - seen[0], kSuspended) << "the namespace did not set the clocks apart";
  EXPECT_NEAR(seen[1], seen[2], 1.0) << "the driver's clock is not CLOCK_BOOTTIME (it is " << seen[1] - seen[0]
                                     << " s from CLOCK_MONOTONIC)";
}

TEST_F(ClockTest, LeaseDeadlineIsLeaseAheadOnBootTime) {
  RedisServer redis;
  const double lease = 1, margin = lease * LockLease::kSafetyMarginFraction;
  SharedArray<double> ahead(2);  // deadline - CLOCK_BOOTTIME: after the grant, after renewals
  const pid_t child = RunInNewNamespaces([] { return EnterTimeNamespaceForChildren(kSuspended); }, [&] {
    Config config;
    if (!ParseConfig("url=" + redis.url() + ";retain=0;lease=" + std::to_string(lease), &config).ok()) return 2;
    LockTable& table = LockTable::ForThisProcess();
    std::shared_ptr<HeldLock> held;
    if (!table.Acquire(config, "boottime", LockMode::kWrite, "boottime", &held).ok()) return 3;
    ahead[0] = Seconds(held->lease().deadline()) - Seconds(CLOCK_BOOTTIME);
    // Past the first deadline: only the keeper's renewals keep the lock.
    std::this_thread::sleep_for(std::chrono::duration<double>(lease * 1.5));
    ahead[1] = Seconds(held->lease().deadline()) - Seconds(CLOCK_BOOTTIME);
    if (!held->CheckValid("writing").ok()) return 4;
    return table.Release(held).ok() ? 0 : 5;
  });
  ASSERT_EQ(WaitChild(child), 0);
  for (double left : {ahead[0], ahead[1]}) {
    EXPECT_GT(left, 0) << "the deadline is not ahead on CLOCK_BOOTTIME";
    EXPECT_LE(left, lease - margin) << "the deadline is further ahead than the lease allows";
  }
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
