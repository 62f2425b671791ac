// sentinel_test.cc: the lock on a master watched by Redis Sentinel, started
// by the test with two replicas and three Sentinels: locks go to the master
// the Sentinels name, a grant that the replicas do not confirm is refused,
// and a failover, by SENTINEL FAILOVER or by killing the master, fences the
// holder while the waiter proceeds on the new master. (Two replicas, so that
// the new master still has one to confirm grants: replicas=1.)
#include <gtest/gtest.h>

#include "fenced_handover.h"
#include "hdf5_files.h"
#include "locked_file_test.h"
#include "sentinel_fixture.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

class SentinelTest : public LockedFileTest {
 protected:
  std::string Config(double lease = 3, double timeout = 60) const {
    return "url=" + sentinels_.url() + ";lease=" + std::to_string(lease) + ";timeout=" + std::to_string(timeout);
  }
  bool Create(const std::string& path, const std::string& config) { return CreateLockedFile(path, config, &error_); }

  LocalSentinels sentinels_{2};
};

TEST_F(SentinelTest, LocksGoToTheMasterTheSentinelsName) {
  // A Sentinel that is down is skipped.
  const std::string dead = "redis-sentinel://127.0.0.1:" + std::to_string(FreeTcpPort()) + "," +
                           sentinels_.url().substr(std::string("redis-sentinel://").size());
  ASSERT_TRUE(Create(dir_.File("a.h5"), "url=" + dead + ";retain=60")) << error_;
  EXPECT_FALSE(sentinels_.server(sentinels_.master()).Keys("h5redislock:*").empty());

  const std::string unknown = sentinels_.url().substr(0, sentinels_.url().rfind('/')) + "/nosuchmaster";
  EXPECT_FALSE(Create(dir_.File("b.h5"), "url=" + unknown + ";connect_timeout=1"));
  EXPECT_NE(error_.find("knows no master named 'nosuchmaster'"), std::string::npos) << error_;

  // Three replicas asked for, two there: the grant does not count.
  EXPECT_FALSE(Create(dir_.File("c.h5"), Config(3, 1) + ";replicas=3;replica_timeout=0.1"));
  EXPECT_NE(error_.find("2 of the 3 replicas"), std::string::npos) << error_;
}

// The old master answers as a master until a Sentinel turns it into a replica
// (seconds later); but its replicas stop confirming the holder's renewals, so
// the holder asks the Sentinels, learns of the failover and is fenced, before
// its lease would have run out.
TEST_F(SentinelTest, SentinelFailoverFencesTheHolder) {
  const std::string path = dir_.File("failover.h5");
  ASSERT_TRUE(Create(path, Config())) << error_;
  CheckFencedHandOver({path, Config(6), Config(6), /*fence_within=*/5, /*grant_within=*/10, "failed over"},
                      [&] { sentinels_.FailOver(); });
}

TEST_F(SentinelTest, KilledMasterFencesTheHolder) {
  const std::string path = dir_.File("killed.h5");
  ASSERT_TRUE(Create(path, Config())) << error_;
  CheckFencedHandOver({path, Config(8), Config(8), /*fence_within=*/10, /*grant_within=*/20, ""},
                      [&] { sentinels_.KillMaster(); });
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
