// sentinel_router.h: lock commands to the master that Redis Sentinel names.
//
// The Sentinels of the url are asked, in turn, for the master's address
// (SENTINEL get-master-addr-by-name); the first that answers is believed.
// Every new connection to the master checks that it is one (INFO: role, and
// the identity of its reign, master_term.h). The Sentinels are asked again
// whenever the master stops answering, answers as a replica (READONLY), or is
// not a master when we connect: after a failover they name the promoted
// replica. Then the old master's term ends, and every lock it granted is
// fenced (its lease marked lost), since the new master may lack the grant.
//
// Sentinels are asked without credentials unless they demand them (NOAUTH);
// then with the url's.
//
// Thread-safety: thread-safe.
#ifndef H5REDISLOCK_SENTINEL_ROUTER_H_
#define H5REDISLOCK_SENTINEL_ROUTER_H_

#include <map>
#include <memory>
#include <mutex>

#include "redis/router.h"

namespace h5redislock {

class SentinelRouter : public Router {
 public:
  SentinelRouter(const RedisEndpoint& endpoint, double timeout_s, ReplicaPolicy policy);

  Status Get(int slot, ConnectionPool::Lease* out) override;
  ConnectionPool* PoolFor(int slot) override;

 protected:
  bool Learn(const HostPort& node, const Redirection& r) override;

 private:
  ConnectionPool* master();
  // Asks the Sentinels for the master anew; OK if one answered.
  Status Resolve();
  Status AskSentinel(const HostPort& sentinel, HostPort* master) const;

  const RedisEndpoint endpoint_;
  std::mutex mu_;
  // Never removed: leases of connections point to their pool.
  std::map<HostPort, std::shared_ptr<ConnectionPool>> nodes_;  // guarded by mu_
  ConnectionPool* master_ = nullptr;                           // guarded by mu_; null until resolved
  std::mutex resolve_mu_;                                      // one resolution at a time
  Clock::time_point last_resolve_;                             // guarded by resolve_mu_
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_SENTINEL_ROUTER_H_
