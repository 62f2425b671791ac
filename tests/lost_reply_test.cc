// lost_reply_test.cc: a waiter whose network to Redis drops or goes silent
// while it waits. It reaches Redis through a relay the test controls
// (tcp_relay.h); everyone else uses the server's unix socket.
//
// What is proven:
//   * A grant whose reply was lost is taken by the waiter's retried ACQUIRE,
//     and the lease the waiter then counts on is one that Redis has: a
//     second writer is never granted while the first can still write. The
//     retry renews the entry's lease in Redis, as its owner's renewal, and
//     the client never counts on more of it than Redis said was left.
//   * A waiter whose LEAVE for a dead holder of its host (reaping) fails
//     tries again at its next liveness tick: a dead holder still frees the
//     lock within about a tick once Redis answers, not after its lease.
//
// To watch them fail: in kAcquire (vfd/lock/lock_protocol.cc), take out the
// renewal in the branch for an entry that exists; or keep a failed reaping
// LEAVE's tokens in the acquisition's set of reaped entries
// (Acquisition::Reap). Then
//   build/tests/lost_reply_test
// shows the first writer writing after the second was granted, and the
// waiter getting the lock only when the dead holder's lease ran out.
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
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

// A writer waits in the queue through the relay. The relay goes silent, the
// holder closes and the lock is granted to the waiter, whose connections are
// then reset (its BLPOP breaks; the grant's reply is lost). Most of a lease
// later the network is back: the waiter's retried ACQUIRE finds the grant
// and its open returns. Then it is cut off again, so that only the lease
// Redis holds for it protects it, and a second writer asks for the lock.
// The first must have stopped writing before the second is granted.
TEST_F(LostReplyTest, GrantWhoseReplyWasLostNeverOutlivesItsRedisLease) {
  constexpr double kLease = 3;
  const std::string path = MakeFile("lost-grant.h5", LocalConfig(2));
  ASSERT_NO_FATAL_FAILURE(HoldAndQueue(path, kLease, kLease));
  Puppet& first = *waiter_;

  relay_.Pause();
  ASSERT_TRUE(holder_->Ask('c')) << holder_->last_error();
  const double granted = MonotonicSeconds();
  relay_.Drop();
  SleepSeconds(0.7 * kLease);
  // Reset again what the waiter started meanwhile, so that the next thing it
  // sends is its ACQUIRE, tried again (its lease keeper's next round comes a
  // renewal period later).
  relay_.Drop();
  relay_.Resume();
  ASSERT_TRUE(first.Opened()) << first.last_error();
  relay_.Pause();
  std::printf("the first writer's open returned %.3f s after its grant (lease %.1f s)\n",
              first.opened_at() - granted, kLease);

  Puppet second(path, LocalConfig(kLease), true);
  std::vector<double> writes;  // when each of the first writer's writes finished
  const double until = MonotonicSeconds() + 3 * kLease;
  while (MonotonicSeconds() < until && first.Ask('w')) {
    writes.push_back(first.last_write_done());
    SleepSeconds(0.02);
  }
  ASSERT_TRUE(second.Opened()) << second.last_error();
  int overlapping = 0;
  for (double t : writes) overlapping += t >= second.opened_at();
  std::printf("the first writer wrote %zu times after its open, its last write %.3f s after its grant; the second "
              "writer was granted %.3f s after it; %d writes overlapped\n",
              writes.size(), first.last_write_done() - granted, second.opened_at() - granted, overlapping);
  EXPECT_FALSE(writes.empty()) << "the first writer could not write at all: " << first.last_error();
  EXPECT_EQ(overlapping, 0) << "two writers: the first wrote after the second was granted";
  EXPECT_LT(first.last_write_done(), second.opened_at());
  EXPECT_TRUE(second.Ask('w')) << second.last_error();
  EXPECT_TRUE(second.Ask('c')) << second.last_error();
  relay_.Resume();
}

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
