// lost_reply_test.cc: a waiter whose network to Redis drops or goes silent
// while it waits. It reaches Redis through a relay the test controls
// (tcp_relay.h); everyone else uses the server's unix socket.
//
// What is proven:
//   * A waiter whose LEAVE for a dead holder of its host (reaping) fails
//     tries again at its next liveness tick: a dead holder still frees the
//     lock within about a tick once Redis answers, not after its lease.
//
// To watch it fail: keep a failed reaping LEAVE's tokens in the
// acquisition's set of reaped entries (Acquisition::Reap,
// vfd/lock/lock_protocol.cc). Then
//   build/tests/lost_reply_test
// shows the waiter getting the lock only when the dead holder's lease ran
// out.
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <thread>
#include <vector>

#include "locked_file_test.h"
#include "polling.h"
#include "puppet.h"
#include "tcp_relay.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

class LostReplyTest : public LockedFileTest {
 protected:
  // Through the server's unix socket.
  std::string LocalConfig(double lease) const {
    return "url=" + redis_.url() + ";retain=0;timeout=30;lease=" + std::to_string(lease);
  }
  // Through the relay. connect_timeout=0.5: a command that gets no answer
  // fails in half a second, and the waiter tries again.
  std::string RelayedConfig(double lease) const {
    return "url=" + relay_.url() + ";retain=0;timeout=30;connect_timeout=0.5;lease=" + std::to_string(lease);
  }
  // A holder through the unix socket, which has written, and a writer that
  // waits for it through the relay, blocked in BLPOP by the time this returns.
  void HoldAndQueue(const std::string& path, double holder_lease, double waiter_lease) {
    holder_ = std::make_unique<Puppet>(path, LocalConfig(holder_lease), true);
    ASSERT_TRUE(holder_->Opened()) << holder_->last_error();
    ASSERT_TRUE(holder_->Ask('w')) << holder_->last_error();
    waiter_ = std::make_unique<Puppet>(path, RelayedConfig(waiter_lease), true);
    SleepSeconds(0.5);
  }

  RedisServer redis_{{}, /*tcp=*/true};
  TcpRelay relay_{redis_.port()};
  std::unique_ptr<Puppet> holder_, waiter_;
};

// A holder of this host dies while the waiter's network is silent: the
// waiter sees it die at its next liveness tick, but its LEAVE for the dead
// entry gets no answer. Once the network is back, it must try again, and get
// the lock within about a second, not when the dead holder's lease ends.
TEST_F(LostReplyTest, ReapingLeaveThatFailsIsRetriedAtTheNextTick) {
  constexpr double kHolderLease = 20;
  const std::string path = MakeFile("reaped.h5", LocalConfig(2));
  ASSERT_NO_FATAL_FAILURE(HoldAndQueue(path, kHolderLease, kHolderLease));
  Puppet& waiter = *waiter_;

  relay_.Pause();
  kill(holder_->pid(), SIGKILL);
  EXPECT_EQ(holder_->Wait(), 128 + SIGKILL);
  SleepSeconds(1.5);  // the waiter's reaping LEAVE times out (connect_timeout 0.5 s, tried on two connections)
  const double resumed = MonotonicSeconds();
  relay_.Resume();
  ASSERT_TRUE(waiter.Opened()) << waiter.last_error();
  const double recovery = waiter.opened_at() - resumed;
  std::printf("the waiter got the lock %.3f s after its network came back (the dead holder's lease: %.0f s)\n",
              recovery, kHolderLease);
  EXPECT_LT(recovery, 1.5) << "the dead holder was not reaped again once Redis answered";
  EXPECT_TRUE(waiter.Ask('c')) << waiter.last_error();
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
