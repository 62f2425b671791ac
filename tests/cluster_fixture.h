// cluster_fixture.h: a Redis Cluster on this host, for the tests.
//
// `masters` masters with `replicas` replicas each, every node a RedisServer on
// a 127.0.0.1 port (and its own cluster bus port), joined with
// `redis-cli --cluster create` (valkey-cli with H5REDISLOCK_TEST_SERVER=valkey).
// Nodes are stopped by pid when the fixture goes, whatever the test did.
// Failure detection is quick (cluster-node-timeout 1 s), so a killed master
// is replaced within a few seconds.
#ifndef H5REDISLOCK_TESTS_CLUSTER_FIXTURE_H_
#define H5REDISLOCK_TESTS_CLUSTER_FIXTURE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "test_support.h"

namespace h5redislock {
namespace testing {

class LocalCluster {
 public:
  LocalCluster(int masters, int replicas);
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  // redis-cluster://127.0.0.1:<port>,... with every node, or only the first.
  std::string url() const;
  std::string first_node_url() const;
  size_t size() const { return nodes_.size(); }
  RedisServer& node(size_t i) { return *nodes_[i]; }

  // The node that serves `slot` as master now, as the live nodes agree.
  size_t MasterOf(int slot) const;
  // A live replica of the node `master`.
  size_t ReplicaOf(size_t master) const;

  // A replica of the master of `slot` takes over with CLUSTER FAILOVER (it
  // catches up first: nothing is lost); waits until every node agrees and the
  // old master replicates from it. Returns the new master.
  size_t FailOver(int slot);
  // SIGKILLs the master of `slot` (writes its replica had not received are
  // lost) and waits until a replica took over. Returns the new master.
  size_t KillMaster(int slot);

  // Moves `slot` to the master `to` as resharding does: IMPORTING/MIGRATING,
  // MIGRATE of its keys, then SETSLOT NODE everywhere. `between` runs while
  // the slot is migrating, before its keys move.
  void MigrateSlot(int slot, size_t to, const std::function<void()>& between);

  // Waits until every live node says the cluster is ok, they agree on which
  // master serves each slot, and every replica's link to its master is up.
  void WaitUntilStable() const;

 private:
  struct View;  // one node's CLUSTER NODES
  View ViewOf(size_t node) const;
  size_t IndexOfPort(int port) const;
  size_t AnyLiveNode() const;

  std::vector<std::unique_ptr<RedisServer>> nodes_;
  TempDir dir_;
};

}  // namespace testing
}  // namespace h5redislock

#endif  // H5REDISLOCK_TESTS_CLUSTER_FIXTURE_H_
