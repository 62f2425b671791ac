// lease_keeper.h: the threads that keep this process's lock entries alive.
//
// One keeper per process renews every registered lease (waiters and holders)
// every lease/3, in one *lane* per Redis master (the one server, Sentinel's
// master, each node of a cluster: router.h). A lane is a thread with a
// schedule of its own, made when a lease's lock is first seen on that master
// and idle while it has nothing to renew; each of its rounds is one
// pipelined round trip for all the master's leases, whatever their number.
// A round waits for its own master only (when that one fails, it asks the
// others for the slot map, the failed one last), so a master that hangs (a
// stopped or overloaded node, a connection gone silent) delays the renewals
// of its own leases and of no other master's: a process's locks on the
// healthy nodes of a cluster are renewed on time while one node hangs.
// A lease whose lock moves to another master (a failover, resharding, or a
// master learnt since the lease was added) goes to that master's lane.
//
// A renewal that hangs must not push its own lane's next round past what
// the leases can bear. A lease's deadline is 0.8 × lease after the *sending*
// of the last renewal that succeeded (lock_lease.h); so when a round gets no
// reply, its leases have 0.8 - 1/3 ≈ 0.47 × lease left from that round's
// start. Hence a lane's rounds start lease/3 apart counted from when each
// began, not ended, and a round waits for its replies only until the next is
// due (or the command timeout, if shorter): then the connection is dropped
// and the renewals are sent again on a fresh one, still 0.13 × lease before
// the deadline. A connection that died silently thus costs no lease. Waiting
// the command timeout instead (5 s by default: more than 0.47 × 10 s) would
// send the next renewal after the deadline, and counting the period from a
// round's end would put the next one a whole period later still. A master
// that answers no connection before the deadline loses its leases whatever
// the schedule; the fresh connection's attempt is bounded by the connect
// timeout, and the lane's next round starts when it ends. (WAIT is part of
// the round: replica_timeout is best well below lease/3.)
//
// A renewal that finds its entry gone marks the lease lost; one that fails
// for transport reasons changes nothing, and the lease's local deadline runs
// out by itself if Redis stays away (lock_lease.h). With replicas= (router.h)
// a round ends with WAIT, and extends the leases only if enough replicas
// have the renewals: a failover to one of them then keeps every lease at
// least as long as this process believes it has it. (A server that restarts
// or fails over fences its leases at once through their master's term:
// master_term.h.) After fork() the child gets a keeper of its own (see
// LockTable::ForThisProcess): a keeper never renews another process's entries.
//
// Thread-safety: Add and Remove may be called from any thread.
#ifndef H5REDISLOCK_LEASE_KEEPER_H_
#define H5REDISLOCK_LEASE_KEEPER_H_

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "base/fork_gate.h"
#include "lock/lock_lease.h"

namespace h5redislock {

class LeaseKeeper {
 public:
  LeaseKeeper() = default;
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;
  // Never destroyed: it lives in its fork generation's lock table, which is
  // never freed (LockTable::ForThisProcess).

  void Add(std::shared_ptr<LockLease> lease);
  void Remove(const LockLease* lease);

 private:
  // A lease's master as its router knows it now: the router, and the pool of
  // the master that serves the lease's slot (null while not known).
  using Master = std::pair<const Router*, const ConnectionPool*>;
  struct Lane {
    std::condition_variable wake;
    std::vector<std::shared_ptr<LockLease>> leases;           // guarded by mu_
    Clock::time_point next_round = Clock::time_point::max();  // guarded by mu_; max: nothing to renew
  };

  static Master MasterOf(const LockLease& lease);
  // Gives `lease` to its master's lane (made on first use), whose next round
  // comes no later than `due`. Needs mu_.
  void PlaceLocked(std::shared_ptr<LockLease> lease, Clock::time_point due);
  void Run(Master master, Lane* lane, ForkGate::Busy& busy);  // a lane's thread

  std::mutex mu_;
  // Never removed: each lane's thread lives as long as the process.
  std::map<Master, std::unique_ptr<Lane>> lanes_;  // guarded by mu_
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_LEASE_KEEPER_H_
