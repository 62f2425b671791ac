#include "fenced_handover.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "puppet.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {

void CheckFencedHandOver(const HandOver& h, const std::function<void()>& fail_over) {
  Puppet holder(h.path, h.holder_config, true);
  ASSERT_TRUE(holder.Opened()) << holder.last_error();
  ASSERT_TRUE(holder.Ask('w')) << holder.last_error();
  Puppet waiter(h.path, h.waiter_config, true);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the waiter queues
  fail_over();
  const double failed_over = MonotonicSeconds();

  // The holder goes on writing until it is refused.
  bool fenced = false;
  while (!fenced && MonotonicSeconds() < failed_over + h.fence_within) {
    fenced = !holder.Ask('w');
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double fenced_after = MonotonicSeconds() - failed_over;
  EXPECT_TRUE(fenced) << "the holder still wrote " << h.fence_within << " s after the failover";
  if (!h.reason.empty()) {
    EXPECT_NE(holder.last_error().find(h.reason), std::string::npos) << holder.last_error();
  }

  ASSERT_TRUE(waiter.Opened()) << waiter.last_error();
  const double granted_after = waiter.opened_at() - failed_over;
  std::printf("after the failover: holder fenced within %.3f s, waiter granted after %.3f s\n", fenced_after,
              granted_after);
  EXPECT_LT(granted_after, h.grant_within);
  EXPECT_LT(holder.last_write_done(), waiter.opened_at()) << "two writers overlapped";
  EXPECT_TRUE(waiter.Ask('w')) << waiter.last_error();
  EXPECT_TRUE(waiter.Ask('c')) << waiter.last_error();
  EXPECT_FALSE(holder.Ask('c')) << "a fenced holder committed its session";
}

}  // namespace testing
}  // namespace h5redislock
