// test_support.h: real Redis servers, real processes and real HDF5 files for
// the tests. Nothing here is a mock.
//
//   RedisServer   a private redis-server on a unix socket (optionally also a
//                 TCP port) in its own temporary directory: a child of the
//                 test, stopped by pid, and killed by the kernel if the test
//                 dies first; valkey-server with H5REDISLOCK_TEST_SERVER=valkey
//   TempDir       a directory removed with its contents
//   RunChild      fork() a child that runs a function and _exit()s with its result
//   SharedArray   memory shared by the processes of one test (base/shared_array.h)
//   ErrorText     the HDF5 error stack as text
#ifndef H5REDISLOCK_TESTS_TEST_SUPPORT_H_
#define H5REDISLOCK_TESTS_TEST_SUPPORT_H_

#include <hdf5.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "base/shared_array.h"
#include "lock/lock_keys.h"
#include "redis/redis_connection.h"

namespace h5redislock {
namespace testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The server program the tests run (H5REDISLOCK_TEST_SERVER: "redis", the
// default, or "valkey"), and the command-line client that goes with it.
std::string ServerProgram();
std::string CliProgram();

class RedisServer {
 public:
  // Starts a server; `extra` are more redis-server arguments ("--requirepass",
  // ...). `config` is the text of a configuration file, given before them
  // (a Sentinel needs one, which it rewrites).
  explicit RedisServer(std::vector<std::string> extra = {}, bool tcp = false, std::string config = {});
  ~RedisServer();  // stops it

  void Stop();     // SIGTERM, wait until the pid is gone
  void Kill();     // SIGKILL: state lost, as after a crash
  void Start();    // (again) on the same socket and port
  bool running() const { return pid_ > 0; }

  std::string url() const { return "unix://" + socket_; }   // the unix socket
  std::string tcp_url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  const std::string& socket() const { return socket_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_.path(); }

  // One command on a fresh connection; the reply as text (arrays joined by
  // '\n', integers in decimal, nil as "(nil)").
  std::string Command(const std::vector<std::string>& argv) const;
  // The keys matching `pattern`.
  std::vector<std::string> Keys(const std::string& pattern = "*") const;

 private:
  TempDir dir_;
  std::vector<std::string> extra_;
  bool tcp_;
  std::string config_;
  int port_ = 0;
  std::string socket_;
  pid_t pid_ = 0;
};

// The lock named `name` (a canonical path, or key=) under the default prefix,
// as Redis keeps it (lock/lock_protocol.cc, section 1): its hash, whose
// fields say who holds it ("m": "w1", "r2"), how often it was granted ("a")
// and its session mark ("j"); and its queue of waiters.
std::string LockHash(const std::string& name);
std::string LockQueue(const std::string& name);
// How many entries of the lock named `name` hold it, and how many wait.
long LockHolders(const RedisServer& redis, const std::string& name);
long LockWaiters(const RedisServer& redis, const std::string& name);
// Runs `cycle` (an open and a close of a file, with caching on) until this
// process's hold of the lock named `name` is cached, within 10 s: true once
// its entry in Redis is marked cached, false if `cycle` fails or the time
// runs out. A process caches no hold it took before its watch confirmed the
// subscription to revocations (vfd/lock/lock_table.cc), so how many cycles
// that takes depends on the machine's load. After each close, the cached
// mark or the release, both sent without waiting, tells which it was.
bool CycleUntilCached(const RedisServer& redis, const std::string& name, const std::function<bool()>& cycle);
// How often `redis` ran `command` ("fcall", "script|load"), by INFO commandstats.
long CommandCalls(const RedisServer& redis, const std::string& command);
// Milliseconds until the lock's latest entry expires, on the server's clock
// (the third word of an entry: lock/lock_protocol.cc); -1 if it has none. For
// a Redis Cluster, `redis` is the master that serves the lock.
long long LockLeaseLeftMs(const RedisServer& redis, const LockKeys& keys);

// A TCP port on 127.0.0.1 that nobody listens on right now.
int FreeTcpPort();

// Makes `user` (password `password`) an ACL user of `redis` that may run
// exactly the commands the driver needs on one server, on the keys of the
// default prefix: the lock's functions (FCALL, FUNCTION LOAD) and the
// commands inside them, BLPOP, and INFO.
void SetDriverAclUser(const RedisServer& redis, const std::string& user, const std::string& password);

// The multi-process tests run twice: with lock caching (the driver's default
// linger) and without, where H5REDISLOCK_TEST_LINGER=0 gives the linger
// (tests/CMakeLists.txt registers those runs). ";linger=<it>", or "" without
// it: for the end of a test's configurations.
std::string LingerSetting();

// Forks; the child runs `body` and _exit()s with its return value (an
// exception or a crash is a non-zero exit). The child ends HDF5 first
// (H5close), as a program's exit does, which lets the locks it cached go.
pid_t RunChild(const std::function<int()>& body);
// Waits for `pid`; its exit status, or 128 + signal.
int WaitChild(pid_t pid);
// Waits for all; the number that did not exit 0.
int WaitChildren(const std::vector<pid_t>& pids);

// Seconds on CLOCK_MONOTONIC, which all processes of the machine share.
double MonotonicSeconds();

// The current HDF5 error stack, printed.
std::string ErrorText();

// A fapl for the redislock driver with `config` (by name), or for sec2 when
// the tests run with H5REDISLOCK_TEST_DRIVER=sec2 (to see them fail unlocked).
hid_t LockedFapl(const std::string& config);
bool RunningUnlocked();

// Sets HDF5_PLUGIN_PATH to the build's plugin directory (before HDF5 starts).
void UseBuiltPlugin();
std::string PluginDir();

}  // namespace testing
}  // namespace h5redislock

#endif  // H5REDISLOCK_TESTS_TEST_SUPPORT_H_
