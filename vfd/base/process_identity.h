// process_identity.h: who this process is, and whether another one still lives.
//
// Every lock entry in Redis names its process: the host name (for people), a
// host key, the pid and the process's start time. The host key is the kernel's
// boot id together with the pid namespace, so two processes with equal host
// keys see the same pid space: one of them can then ask the kernel whether the
// other is alive, without Redis and without waiting for a lease. The start time
// tells a live process from a later one that reused the pid.
//
// Thread-safety: all functions are safe to call from any thread.
#ifndef H5REDISLOCK_PROCESS_IDENTITY_H_
#define H5REDISLOCK_PROCESS_IDENTITY_H_

#include <string>

namespace h5redislock {

struct ProcessIdentity {
  std::string host;          // gethostname()
  std::string host_key;      // boot id + pid namespace; equal keys share a pid space
  long pid = 0;
  unsigned long long start = 0;  // start time in clock ticks after boot (/proc/<pid>/stat)
};

// The calling process (recomputed after fork, so a child reports itself).
ProcessIdentity ThisProcess();

enum class Liveness { kAlive, kDead, kUnknown };

// kDead only when certain: same host key, and the pid is gone, a zombie, or a
// different process (start time differs). kUnknown for processes of other
// hosts, whose death only their lease expiry reveals.
Liveness CheckLiveness(const std::string& host_key, long pid, unsigned long long start);

// Counts the forks this process descends from since the library was loaded:
// a child sees a different value than its parent had, so state created
// before the fork (locks, connections, the keeper thread) can be recognised
// as the parent's. Cheap enough for the I/O path (one atomic load).
unsigned long ForkGeneration();

}  // namespace h5redislock

#endif  // H5REDISLOCK_PROCESS_IDENTITY_H_
