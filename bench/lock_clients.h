// lock_clients.h: the compared locks by themselves, without HDF5. Here a
// release and an acquire are single calls, so a hand-off can be timed from
// one to the other exactly (case 3), and a lock cycle priced apart from
// HDF5 (case 1).
//
//   redislock  the driver's lock: its per-process LockTable, the code that
//              the driver's open and close run, with the driver's defaults
//   polling    the seed's lock (polling_lock.h), the baseline of case 6
//   floor      the least a blocking lock can do: one token in a Redis list,
//              taken with BLPOP and put back with LPUSH. Exclusive only, no
//              lease, no queue: the physical limit the others are held to
//              (an uncontended cycle is two trivial requests; a hand-off is
//              one LPUSH waking one BLPOP).
//
// Thread-safety: a LockClient belongs to one thread of one process.
#ifndef H5REDISLOCK_BENCH_LOCK_CLIENTS_H_
#define H5REDISLOCK_BENCH_LOCK_CLIENTS_H_

#include <memory>
#include <string>

namespace h5redislock {
namespace bench {

enum class LockKind { kRedisLock, kPolling, kFloor };
const char* LockName(LockKind kind);  // "redislock", "polling", "floor"

class LockClient {
 public:
  // One per process: it holds connections.
  static std::unique_ptr<LockClient> Make(LockKind kind);
  virtual ~LockClient() = default;

  // Takes the lock `name`, shared or exclusive, waiting as long as it takes
  // (up to the lock's own limit); false on failure. One lock at a time.
  virtual bool Acquire(const std::string& name, bool write) = 0;
  // Releases the lock taken by Acquire; false on failure.
  virtual bool Release() = 0;
};

}  // namespace bench
}  // namespace h5redislock

#endif  // H5REDISLOCK_BENCH_LOCK_CLIENTS_H_
