// schemes.h: the ways a benchmark opens an HDF5 file, compared case by case.
//
//   sec2       HDF5's default driver with HDF5's file locking off: no lock at
//              all. The baseline for what the lock costs.
//   redislock  the driver under test, chosen by name as users do
//              (H5Pset_driver_by_name), with its default configuration but
//              for the benchmark's Redis URL.
//   polling    sec2 inside the seed's polling lock (polling_lock.h): lock,
//              open; close, unlock. The baseline of case 6.
//
// Thread-safety: a Scheme belongs to one thread of one process.
#ifndef H5REDISLOCK_BENCH_SCHEMES_H_
#define H5REDISLOCK_BENCH_SCHEMES_H_

#include <hdf5.h>

#include <memory>
#include <string>

namespace h5redislock {
namespace bench {

// kRedisLock: the driver with linger=0, each open and close a cycle in Redis;
// kRedisLockCached: with linger=30, so that a reopen finds the lock cached
// (lock caching: vfd/lock/lock_table.h; the driver's default is linger=1).
enum class SchemeKind { kSec2, kRedisLock, kRedisLockCached, kPolling };
const char* SchemeName(SchemeKind kind);  // "sec2", "redislock", "redislock_cached", "polling"

class Scheme {
 public:
  // One per process: the polling scheme owns a Redis connection. With
  // `sieve` false, HDF5's sieve buffer is off, so that every raw-data
  // request, however small, reaches the driver.
  static std::unique_ptr<Scheme> Make(SchemeKind kind, bool sieve = true);
  virtual ~Scheme() = default;

  // Opens `path` read-only or read-write under the scheme's lock, taking the
  // lock first; H5I_INVALID_HID on failure.
  virtual hid_t Open(const std::string& path, bool write) = 0;
  // Closes a file from Open, then releases its lock; false on failure.
  virtual bool Close(hid_t file) = 0;
};

}  // namespace bench
}  // namespace h5redislock

#endif  // H5REDISLOCK_BENCH_SCHEMES_H_
