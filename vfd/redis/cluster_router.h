// cluster_router.h: lock commands to the Redis Cluster node that serves the
// lock's hash slot.
//
// The slot map (which master serves each of the 16384 slots) is read with
// CLUSTER SLOTS from a node we know: the url's nodes at first, later the
// masters of the last map. It is read again whenever it proves wrong:
//   MOVED      the slot is served elsewhere: it is updated at once, and the
//              map refreshed (after a failover, every slot of the old master
//              has moved);
//   ASK        the slot is being migrated: that one command goes to the
//              importing node after ASKING; the map stays;
//   READONLY, a node that stops answering or that is no longer a master:
//              the cluster may be failing it over.
// A node that was a master in the previous map and is not one in the new map
// was failed over: its term ends, and every lock it granted is fenced
// (master_term.h). A slot that merely moved to another master (resharding:
// the keys move with it, intact) fences nothing.
//
// Each node has its own pool, so the keeper pipelines the renewals of all
// locks on one node in one round trip (lease_keeper.h), and waiters block in
// BLPOP on the node of their lock.
//
// Thread-safety: thread-safe.
#ifndef H5REDISLOCK_CLUSTER_ROUTER_H_
#define H5REDISLOCK_CLUSTER_ROUTER_H_

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "redis/router.h"

namespace h5redislock {

class ClusterRouter : public Router {
 public:
  ClusterRouter(const RedisEndpoint& endpoint, double timeout_s, ReplicaPolicy policy);

  Status Get(int slot, ConnectionPool::Lease* out) override;
  ConnectionPool* PoolFor(int slot) override;

 protected:
  bool Learn(const HostPort& node, const Redirection& r) override;
  Status GetNode(const HostPort& address, ConnectionPool::Lease* out) override;

 private:
  struct SlotRange {
    int first, last;
    HostPort master;
  };

  // The pool of a node, made on first use; guarded by mu_.
  ConnectionPool* NodeLocked(const HostPort& address);
  // Reads the slot map anew, asking `first` (if given) before the others,
  // and `avoid` (a node that just failed, if given) last. OK if a node
  // answered.
  Status Refresh(const HostPort* first, const HostPort* avoid);
  Status ReadSlots(const HostPort& node, std::vector<SlotRange>* ranges) const;
  void Apply(const std::vector<SlotRange>& ranges);

  const RedisEndpoint endpoint_;
  std::mutex mu_;
  // Never removed: leases of connections point to their pool.
  std::map<HostPort, std::shared_ptr<ConnectionPool>> nodes_;  // guarded by mu_
  std::vector<ConnectionPool*> slots_;                         // guarded by mu_; null: unknown
  std::set<ConnectionPool*> masters_;                          // guarded by mu_
  std::mutex refresh_mu_;                                      // one refresh at a time
  Clock::time_point last_refresh_;                             // guarded by refresh_mu_
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_CLUSTER_ROUTER_H_
