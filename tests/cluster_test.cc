// cluster_test.cc: the lock on a Redis Cluster started by the test: locks
// spread over the shards and live on the node that serves their slot, the
// driver follows the slot map from one seed node, resharding (MOVED, ASK)
// keeps held locks, and a failover of the shard that holds a lock, manual or
// by killing its master, fences the holder while the waiter proceeds and the
// other shards' holders go on.
#include <gtest/gtest.h>
#include <limits.h>
#include <stdlib.h>

#include <cstdio>
#include <functional>
#include <set>
#include <thread>

#include "cluster_fixture.h"
#include "fenced_handover.h"
#include "hdf5_files.h"
#include "lock/lock_keys.h"
#include "locked_file_test.h"
#include "puppet.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

class ClusterTest : public LockedFileTest {
 protected:
  static std::string Config(const std::string& url, double lease = 3, double timeout = 30, int replicas = 1) {
    return "url=" + url + ";lease=" + std::to_string(lease) + ";timeout=" + std::to_string(timeout) +
           ";replicas=" + std::to_string(replicas);
  }
  static LockKeys KeysOf(const std::string& path) {
    char real[PATH_MAX];
    EXPECT_NE(realpath(path.c_str(), real), nullptr);
    return LockKeys("h5redislock:", real);
  }
  // A file whose lock is served by another master than `avoid`'s.
  std::string FileOnAnotherShard(LocalCluster& cluster, size_t avoid, const std::string& config) {
    for (int i = 0;; ++i) {
      std::string name = "other-" + std::to_string(i) + ".h5";
      if (cluster.MasterOf(LockKeys("h5redislock:", dir_.path() + "/" + name).slot()) != avoid)
        return MakeFile(name, config);
    }
  }

  // Fails over the shard that serves the lock of a new file `name` with
  // `fail_over(slot)` while a holder writes and a waiter queues: the hand-over
  // is fenced as `expect` says (its path and configs filled in here), and a
  // holder on another shard goes on writing.
  void CheckShardFailover(LocalCluster& cluster, const std::string& name, const std::string& config,
                          HandOver expect, const std::function<void(int slot)>& fail_over) {
    const std::string path = MakeFile(name, config);
    const int slot = KeysOf(path).slot();
    Puppet elsewhere(FileOnAnotherShard(cluster, cluster.MasterOf(slot), config), config, true);
    ASSERT_TRUE(elsewhere.Opened()) << elsewhere.last_error();
    expect.path = path;
    expect.holder_config = expect.waiter_config = config;
    CheckFencedHandOver(expect, [&] { fail_over(slot); });
    EXPECT_TRUE(elsewhere.Ask('w')) << elsewhere.last_error();
    EXPECT_TRUE(elsewhere.Ask('c')) << elsewhere.last_error();
  }
};

TEST_F(ClusterTest, LocksSpreadOverTheShardsFromOneSeedNode) {
  LocalCluster cluster(3, 0);
  // One node is enough to learn the rest.
  const std::string config = Config(cluster.first_node_url(), 3, 30, 0) + ";retain=60";
  std::set<size_t> masters;
  for (int i = 0; i < 12; ++i) {
    const std::string path = MakeFile("spread-" + std::to_string(i) + ".h5", config);
    const LockKeys keys = KeysOf(path);
    const std::string state = keys.ScriptKeys()[0];
    const size_t master = cluster.MasterOf(keys.slot());
    EXPECT_EQ(cluster.node(master).Command({"CLUSTER", "KEYSLOT", state}), std::to_string(keys.slot()));
    EXPECT_EQ(cluster.node(master).Command({"EXISTS", state}), "1") << "lock state not on the slot's master";
    masters.insert(master);
  }
  EXPECT_EQ(masters.size(), 3u) << "twelve locks all on fewer than three shards";

  // A waiter blocks on the lock's node and is woken by the release.
  const std::string path = dir_.File("spread-0.h5");
  Puppet holder(path, config, true);
  ASSERT_TRUE(holder.Opened()) << holder.last_error();
  Puppet waiter(path, config, true);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const double released = MonotonicSeconds();
  ASSERT_TRUE(holder.Ask('c'));
  ASSERT_TRUE(waiter.Opened()) << waiter.last_error();
  EXPECT_LT(waiter.opened_at() - released, 0.5);
  EXPECT_TRUE(waiter.Ask('c'));
}

// Resharding moves a slot's keys to another master: a lock held meanwhile
// keeps working (MOVED: nothing was lost, so nothing is fenced). A lock taken
// while the slot migrates is sent to the importing node (ASK), which cannot
// make new keys before the migration ends (TRYAGAIN): the open waits for it.
TEST_F(ClusterTest, ReshardingKeepsHeldLocks) {
  LocalCluster cluster(3, 0);
  const std::string config = Config(cluster.url(), 1.5, 30, 0) + ";retain=60";
  const std::string path = MakeFile("resharded.h5", config);
  const int slot = KeysOf(path).slot();
  // A lock name that has never been used, in the same slot.
  std::string fresh;
  for (int i = 0; fresh.empty(); ++i)
    if (LockKeys("h5redislock:", "fresh-" + std::to_string(i)).slot() == slot) fresh = "fresh-" + std::to_string(i);

  Puppet holder(path, config, true);
  ASSERT_TRUE(holder.Opened()) << holder.last_error();
  const size_t from = cluster.MasterOf(slot), to = (from + 1) % 3;
  pid_t during = -1;
  cluster.MigrateSlot(slot, to, [&] {
    during = RunChild([&] {
      hid_t fapl = LockedFapl(config + ";key=" + fresh);
      bool ok = CreateFileWithDatasets(dir_.File("during.h5"), fapl, {"x"}, 4, H5T_STD_I32LE);
      if (!ok) std::fprintf(stderr, "%s", ErrorText().c_str());
      return ok ? 0 : 1;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // it meets the migration
  });
  EXPECT_EQ(WaitChild(during), 0);
  EXPECT_NE(cluster.node(to).Command({"INFO", "commandstats"}).find("cmdstat_asking"), std::string::npos)
      << "the open during the migration never followed an ASK";
  EXPECT_EQ(cluster.MasterOf(slot), to);
  EXPECT_EQ(cluster.node(to).Command({"EXISTS", LockKeys("h5redislock:", fresh).ScriptKeys()[0]}), "1");
  for (int i = 0; i < 4; ++i) {  // past two leases: renewals now go to the new node
    EXPECT_TRUE(holder.Ask('w')) << holder.last_error();
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
  }
  EXPECT_TRUE(holder.Ask('c')) << holder.last_error();
  EXPECT_EQ(cluster.node(to).Command({"EXISTS", KeysOf(path).ScriptKeys()[0]}), "1");
}

// CLUSTER FAILOVER on the replica of the shard that holds the lock: the
// holder is fenced at its next renewal (it learns that its master is a
// replica now), the waiter gets the lock on the new master, and a holder on
// another shard goes on writing.
TEST_F(ClusterTest, ManualFailoverFencesTheHolder) {
  LocalCluster cluster(3, 1);
  CheckShardFailover(cluster, "failover.h5", Config(cluster.url(), 3, 60),
                     {"", "", "", /*fence_within=*/3, /*grant_within=*/6, "failed over"},
                     [&](int slot) { cluster.FailOver(slot); });
}

// The shard's master is killed: its replicas have every grant and renewal
// (replicas=1: WAIT), one takes over within seconds, and the holder is fenced
// when it learns that (or when its lease runs out, whichever comes first);
// the waiter gets the lock once the holder's entry expires on the new master.
// Two replicas per master, so that the new master has one to confirm grants.
TEST_F(ClusterTest, KilledMasterFencesTheHolder) {
  LocalCluster cluster(3, 2);
  CheckShardFailover(cluster, "killed.h5", Config(cluster.url(), 8, 60),
                     {"", "", "", /*fence_within=*/10, /*grant_within=*/20, ""},
                     [&](int slot) { cluster.KillMaster(slot); });
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
