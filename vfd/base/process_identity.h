// process_identity.h: who this process is, and whether another one still lives.
//
// Every lock entry in Redis names its process: the host name (for people), a
// host key, the pid and the process's start time. Two processes with equal
// host keys can ask the kernel about each other, without Redis and without
// waiting for a lease; the key holds everything that must be shared for the
// answer to mean something:
//   - the kernel's boot id: the same kernel, so the same process table;
//   - the pid namespace: the same pid names the same process;
//   - the time namespace: /proc/<pid>/stat gives start times in ticks after
//     boot *as the reader's time namespace counts boot*, so a reader whose
//     boot-time offset differs from the holder's would read another start
//     time for the very same process, and take it for a reused pid.
// A process that cannot read any of these, or whose /proc is not of its own
// pid namespace (a pid namespace entered without mounting its /proc: /proc/N
// there is another process than pid N), gets a random key of its own,
// drawn again in each forked child: no other process, here or elsewhere, can
// take it for its own host, so its entries are freed by their lease alone,
// and it frees others' entries by their leases alone.
//
// What a waiter can tell of a process of its own host key. The kernel answers
// kill(pid, 0) for any process: ESRCH means no process has the pid, and the
// holder is dead. Otherwise some process has the pid, and only /proc/<pid>
// tells whether it is the holder (its start time) and whether it still runs
// (a zombie whose threads have all exited is dead; a main thread that called
// pthread_exit also shows as a zombie while other threads run, and that
// process is alive). On nodes that mount /proc with hidepid=1 or 2, a waiter
// of another user cannot read the holder's /proc/<pid> (kill gives EPERM).
// It then cannot tell the holder from a later process that reused its pid,
// nor a dead holder that its parent has not reaped yet from a live one; so it
// declares nothing, and that entry is freed by its lease (lease= seconds
// after its last renewal). A hidden holder whose pid is gone (killed, and
// reaped by its parent, as shells, batch systems and init do at once) is
// still dead within one liveness tick.
//
// Thread-safety: all functions are safe to call from any thread, and in a
// forked child (which gets its own pid, start time and, where random, key).
#ifndef H5REDISLOCK_PROCESS_IDENTITY_H_
#define H5REDISLOCK_PROCESS_IDENTITY_H_

#include <string>

namespace h5redislock {

struct ProcessIdentity {
  std::string host;          // gethostname()
  std::string host_key;      // boot id + pid and time namespaces, or random; equal keys share a pid space
  long pid = 0;
  unsigned long long start = 0;  // start time in clock ticks after boot (/proc/<pid>/stat)
};

// The calling process (recomputed after fork, so a child reports itself).
ProcessIdentity ThisProcess();

enum class Liveness { kAlive, kDead, kUnknown };

// kDead only when certain: same host key, and no process has the pid, or the
// process that has it started at another time (the pid was reused), or it is
// a zombie without a live thread. kAlive when /proc shows the same process
// with a live thread. kUnknown for processes of other hosts, and for those
// that /proc hides from us: their death only their lease expiry reveals.
Liveness CheckLiveness(const std::string& host_key, long pid, unsigned long long start);

// Counts the forks this process descends from since the library was loaded:
// a child sees a different value than its parent had, so state created
// before the fork (locks, connections, the keeper thread) can be recognised
// as the parent's. Cheap enough for the I/O path (one atomic load).
unsigned long ForkGeneration();

}  // namespace h5redislock

#endif  // H5REDISLOCK_PROCESS_IDENTITY_H_
