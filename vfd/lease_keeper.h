// lease_keeper.h: the thread that keeps this process's lock entries alive.
//
// One keeper per process renews every registered lease (waiters and holders)
// every lease/3: one pipelined round trip per Redis server per round, whatever
// the number of locks. A renewal that finds its entry gone marks the lease
// lost; one that fails for transport reasons changes nothing, and the lease's
// local deadline runs out by itself if Redis stays away (lock_lease.h).
//
// The thread starts with the first registration and then sleeps while there
// is nothing to renew. Each server with leases is also watched for restarts
// (server_watch.h), which lose its leases at once. After fork() the child gets a keeper of its own (see
// LockTable::ForThisProcess): a keeper never renews another process's entries.
//
// Thread-safety: Add and Remove may be called from any thread.
#ifndef H5REDISLOCK_LEASE_KEEPER_H_
#define H5REDISLOCK_LEASE_KEEPER_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "lock_lease.h"

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
  // Every lease taken through `pool` is lost (server_watch.h).
  void LoseAll(const ConnectionPool* pool, const std::string& reason);
  bool HasLeasesOn(const ConnectionPool* pool);

  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<std::shared_ptr<LockLease>> leases_;  // guarded by mu_
  bool started_ = false;                            // guarded by mu_
  std::set<const ConnectionPool*> watched_;         // guarded by mu_: servers under watch
  bool idle_ = true;                                // guarded by mu_: waiting for a first lease
  Clock::time_point next_round_;                    // guarded by mu_
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_LEASE_KEEPER_H_
