// lease_keeper.h: the thread that keeps this process's lock entries alive.
//
// One keeper per process renews every registered lease (waiters and holders)
// every lease/3: one pipelined round trip per Redis master per round (each
// node of a cluster, router.h, in a thread of its own, so that one that
// hangs delays no other), whatever the number of locks. A renewal that
// finds its entry gone marks the lease lost; one that fails for transport
// reasons changes nothing, and the lease's local deadline runs out by itself
// if Redis stays away (lock_lease.h). With replicas= (router.h) a round ends
// with WAIT, and extends the leases only if enough replicas have the
// renewals: a failover to one of them then keeps every lease at least as
// long as this process believes it has it.
//
// The thread starts with the first registration and then sleeps while there
// is nothing to renew. (A server that restarts or fails over fences its
// leases at once through their master's term: master_term.h.) After fork()
// the child gets a keeper of its own (see LockTable::ForThisProcess): a
// keeper never renews another process's entries.
//
// Thread-safety: Add and Remove may be called from any thread.
#ifndef H5REDISLOCK_LEASE_KEEPER_H_
#define H5REDISLOCK_LEASE_KEEPER_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "lock/lock_lease.h"

namespace h5redislock {

class LeaseKeeper {
 public:
  LeaseKeeper() = default;
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;
  // Never destroyed while running: it lives in the process state (NoDestructor).

  void Add(std::shared_ptr<LockLease> lease);
  void Remove(const LockLease* lease);

 private:
  void Run();
  void RenewRound(const std::vector<std::shared_ptr<LockLease>>& leases);

  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<std::shared_ptr<LockLease>> leases_;  // guarded by mu_
  bool started_ = false;                            // guarded by mu_
  bool idle_ = true;                                // guarded by mu_: waiting for a first lease
  Clock::time_point next_round_;                    // guarded by mu_
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_LEASE_KEEPER_H_
