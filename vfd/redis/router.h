// router.h: which Redis server a lock's commands go to.
//
// Locks live on one server, on the nodes of a Redis Cluster (the node that
// serves the lock's hash slot), or on the master that Sentinel names. A Router
// hides which: the lock code asks it for a connection for a lock's slot
// (LockKeys::slot) and runs commands there, as it would with one pool.
//
//   SingleRouter    one pool; the slot is ignored (router.cc)
//   ClusterRouter   a pool per node and the slot map (cluster_router.h)
//   SentinelRouter  a pool per master Sentinel has named (sentinel_router.h)
//
// When a reply redirects (MOVED, ASK, READONLY; redirection.h) or a server
// stops answering, the router learns what changed (a new slot map, a new
// master), ends the terms of masters that were failed over (master_term.h),
// and the command is sent again where it belongs now.
//
// A router also carries the replication policy of its locks (`replicas=`):
// how many replicas must have a grant or a renewal before it counts.
//
// Thread-safety: routers are thread-safe.
#ifndef H5REDISLOCK_ROUTER_H_
#define H5REDISLOCK_ROUTER_H_

#include <functional>
#include <memory>

#include "base/status.h"
#include "redis/redis_connection.h"
#include "redis/redis_endpoint.h"

namespace h5redislock {

struct ReplicaPolicy {
  int replicas = 0;        // WAIT for this many replicas; 0: no WAIT
  long long wait_ms = 0;   // WAIT's timeout
};

class Router {
 public:
  using Op = std::function<Status(RedisConnection&)>;

  Router(double timeout_s, ReplicaPolicy policy) : timeout_s_(timeout_s), policy_(policy) {}
  virtual ~Router() = default;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // A connection to the master that serves `slot` now.
  virtual Status Get(int slot, ConnectionPool::Lease* out) = 0;

  // The pool of the master that serves `slot`, to pipeline the commands of
  // many locks on one master (the lease keeper); null when not known yet.
  virtual ConnectionPool* PoolFor(int slot) = 0;

  // Runs `op` on the master of `slot`, following redirections, retrying once
  // when a reused connection had died, and for up to the connect timeout
  // while the cluster says TRYAGAIN or CLUSTERDOWN: `op` must be safe to
  // repeat, as every lock script is.
  Status Run(int slot, const Op& op);

  // After commands on `conn` (from this router): learns what their replies
  // or a transport failure say about the topology. True if the command
  // should be sent again, to wherever Get routes it now, or (*ask set) once
  // to the node of an ASK redirection; after TRYAGAIN, shortly.
  bool Reroute(const ConnectionPool::Lease& conn, HostPort* ask);

  // Learns from one reply among many on `conn` (the keeper's pipelines):
  // true if it redirected, and that command must be sent again through Run.
  bool Redirected(const RedisConnection& conn, const redisReply* reply);

  double timeout_s() const { return timeout_s_; }
  const ReplicaPolicy& policy() const { return policy_; }

  // Confirms that the writes made through `conn` so far reached the policy's
  // replicas (WAIT); OK at once when the policy asks for none. `what` was
  // written ("the grant of the lock on 'x.h5'"), for the error. Replicas
  // that stop confirming may mean that the master was failed over behind our
  // back (Sentinel promoted one of them; the old master answers until it is
  // turned into a replica), so the router also looks again.
  Status ConfirmReplicated(RedisConnection& conn, const std::string& what);
  // The same, in pieces, for pipelines: the command (empty when the policy
  // asks for none), and the meaning of its reply.
  Argv WaitCommand() const;
  // A master with fewer connected replicas than the policy asks for fails
  // with kUnsatisfiable: asking again cannot help.
  Status CheckWaitReply(RedisConnection& conn, const redisReply* reply, const std::string& what);

 protected:
  // What the topology-specific routers do with news of a change from the
  // server at `node`: a MOVED or READONLY (`r`), or a transport failure (`r`
  // empty). True if sending the command again may now succeed.
  virtual bool Learn(const HostPort& node, const Redirection& r) = 0;
  // A connection to the node of an ASK redirection.
  virtual Status GetNode(const HostPort& address, ConnectionPool::Lease* out);

 private:
  const double timeout_s_;
  const ReplicaPolicy policy_;
};

// The router for `endpoint`'s topology.
std::shared_ptr<Router> MakeRouter(const RedisEndpoint& endpoint, double timeout_s, ReplicaPolicy policy);

}  // namespace h5redislock

#endif  // H5REDISLOCK_ROUTER_H_
