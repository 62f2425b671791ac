// polling_lock.h: the baseline of case 6, the lock the seed (h5pySWMR's
// locking.py) used, redone in C++ with the same Redis commands.
//
// It solves the second readers-writers problem (Courtois, Heymans and Parnas,
// 1971: writer preference) with five SETNX "locks" and two counters per file:
//
//   reader: mutex3 { readlock { mutex1 { if INCR readcount == 1: writelock } } }
//           ... reads ...
//           mutex1 { if DECR readcount == 0: release writelock }
//   writer: mutex2 { if INCR writecount == 1: readlock }
//           writelock ... writes ... release writelock
//           mutex2 { if DECR writecount == 0: release readlock }
//
// where readers share one identity for writelock and writers one for
// readlock, since the last one out releases what the first one took. Taking
// a lock is SETNX then EXPIRE (20 s); while it is taken, the waiter sends TTL
// and sleeps 1 ms, and tries again: this is the polling the driver avoids.
// Releasing is WATCH, GET (is it still ours?), then MULTI/DEL/EXEC in one
// round trip.
//
// Only a baseline for timing: it keeps the seed's flaws (counters that never
// expire, check-then-act across round trips), which no benchmark provokes.
//
// Thread-safety: a PollingLock owns one connection; use it from one thread.
#ifndef H5REDISLOCK_BENCH_POLLING_LOCK_H_
#define H5REDISLOCK_BENCH_POLLING_LOCK_H_

#include <memory>
#include <string>

#include "redis/redis_connection.h"

namespace h5redislock {
namespace bench {

class PollingLock {
 public:
  explicit PollingLock(std::unique_ptr<RedisConnection> conn);

  // Each returns false if Redis failed or one step waited longer than 60 s.
  bool LockShared(const std::string& resource);
  bool UnlockShared(const std::string& resource);
  bool LockExclusive(const std::string& resource);
  bool UnlockExclusive(const std::string& resource);

 private:
  // SETNX/EXPIRE, polling every millisecond while `key` is taken.
  bool Take(const std::string& key, const std::string& id);
  // Deletes `key` if it still holds `id`; false if it did not (lost) or on failure.
  bool Give(const std::string& key, const std::string& id);
  // INCR or DECR `key` by `delta`; false on failure.
  bool Add(const std::string& key, int delta, long long* value);

  std::unique_ptr<RedisConnection> conn_;
  const std::string id_;  // this process's identity for the mutexes and its own writelock
};

}  // namespace bench
}  // namespace h5redislock

#endif  // H5REDISLOCK_BENCH_POLLING_LOCK_H_
