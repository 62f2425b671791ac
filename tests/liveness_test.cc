// liveness_test.cc: a waiter frees the lock of a dead holder of its host at
// once, and never that of a live one, whatever /proc shows it. Each holder
// here is alive and writing while /proc hides it or misleads:
//   - /proc mounted hidepid=1 or 2, holder and waiter of two users: the
//     waiter cannot read the holder's /proc/<pid>, and kill(pid, 0) gives
//     EPERM;
//   - a C holder whose main thread called pthread_exit while a worker thread
//     holds the file: /proc/<pid>/stat says Z, a zombie;
//   - holder and waiter in a pid namespace without a /proc of its own: the
//     outer namespace's /proc/<pid> is another process, or there is no /proc;
//   - a holder in a time namespace whose boot clock is offset: the start time
//     a waiter outside reads for it is not the one the holder wrote down.
// What a waiter can tell, it tells fast: a hidden holder killed, and reaped
// by its parent, frees the lock within a second. What it cannot tell, the
// lease does: a hidden holder killed but not reaped yet (a zombie, whose pid
// is as taken as a reused one would be) frees it after its lease.
// Holders and waiters run with HDF5_USE_FILE_LOCKING=FALSE, as on the shared
// file systems where HDF5's flock is off: the Redis lock alone keeps them
// apart.
//
// To watch them fail, restore the liveness check of 5d4450e, which took an
// unreadable /proc/<pid>, a zombie main thread and a foreign start time for
// death and gave every process without /proc the host key "/?":
//   git show 5d4450e:vfd/process_identity.cc > vfd/process_identity.cc
//   git show 5d4450e:vfd/process_identity.h > vfd/process_identity.h
//   scripts/build liveness_test && build/tests/liveness_test
// Every test then fails: the waiter takes the lock of a live holder within a
// liveness tick, and processes without /proc share the key "/?".
//
// Needs root (mount, pid and time namespaces, other users); skips without.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "base/process_identity.h"
#include "hdf5_files.h"
#include "locked_file_test.h"
#include "namespaces.h"
#include "polling.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

constexpr uid_t kHolderUid = 40001, kWaiterUid = 40002;

// What a holder and a waiter did, in memory they share with the test; times
// in MonotonicSeconds.
struct Timeline {
  double opened = 0;    // the holder's open returned
  double closing = 0;   // the holder began to close
  int writes = 0;       // the holder's writes that succeeded
  int refused = 0;      // ... and that were refused
  double acquired = 0;  // the waiter's open returned
  int blind = 0;        // the waiter could neither read the holder's /proc nor signal it
};

bool StillRunning(pid_t pid) { return waitpid(pid, nullptr, WNOHANG) == 0; }

// Opens `path` for writing through the driver (waiting for the lock), with
// HDF5's own flock off.
hid_t OpenForWriting(const std::string& path, const std::string& config) {
  setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
  hid_t fapl = LockedFapl(config);
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
  H5Pclose(fapl);
  return f;
}

// Opens `path` for writing and writes every 20 ms: for `seconds`, then
// closes; with `seconds` < 0, until killed, by the test or with it.
int HoldAndWrite(const std::string& path, const std::string& config, double seconds, Timeline* t) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // after any change of user, which clears it
  hid_t f = OpenForWriting(path, config);
  if (f < 0) return 2;
  t->opened = MonotonicSeconds();
  for (int value = 1; seconds < 0 || MonotonicSeconds() < t->opened + seconds; ++value) {
    int data[4] = {value, value, value, value};
    const bool ok = WriteAll(f, "x", H5T_NATIVE_INT, data) && H5Fflush(f, H5F_SCOPE_LOCAL) >= 0;
    ++(ok ? t->writes : t->refused);
    SleepSeconds(0.02);
  }
  t->closing = MonotonicSeconds();
  return H5Fclose(f) >= 0 ? 0 : 3;
}

// Opens `path` for writing (waiting for the lock), notes when, and closes.
int WaitAndTake(const std::string& path, const std::string& config, Timeline* t) {
  hid_t f = OpenForWriting(path, config);
  if (f < 0) return 1;
  t->acquired = MonotonicSeconds();
  return H5Fclose(f) >= 0 ? 0 : 1;
}

// Whether this process can tell nothing of `pid` but that it exists.
bool CannotSee(pid_t pid) {
  const std::string stat = "/proc/" + std::to_string(pid) + "/stat";
  return kill(pid, 0) != 0 && errno == EPERM && access(stat.c_str(), R_OK) != 0;
}

// The holder wrote throughout, and the waiter got the lock only once the
// holder let it go.
void ExpectHandedOverOnClose(const Timeline& t) {
  EXPECT_GT(t.writes, 20);
  EXPECT_EQ(t.refused, 0) << "the holder lost its lock while it lived";
  ASSERT_GT(t.acquired, 0) << "the waiter did not get the lock";
  EXPECT_GE(t.acquired, t.closing) << "the waiter took the lock " << t.closing - t.acquired
                                   << " s before its live holder closed the file";
}

class LivenessTest : public OneServerTest {
 protected:
  // Holders and waiters of other users reach the server too.
  LivenessTest() : OneServerTest({"--unixsocketperm", "777"}) {}

  void SetUp() override {
    const std::string unsupported = NamespacesUnsupported();
    if (!unsupported.empty()) GTEST_SKIP() << unsupported;
    // Holders and waiters of other users reach Redis and the files too.
    ASSERT_EQ(chmod(redis_.dir().c_str(), 0755), 0);
    ASSERT_EQ(chmod(dir_.path().c_str(), 0777), 0);
  }

  std::string Config(double lease) const {
    return ServerConfig("retain=0;timeout=30;lease=" + std::to_string(lease));
  }
  std::string MakeFile(const std::string& name) {
    const std::string path = OneServerTest::MakeFile(name);
    EXPECT_EQ(chmod(path.c_str(), 0666), 0);
    return path;
  }
  // A holder of kHolderUid and a waiter of kWaiterUid, each behind /proc
  // mounted with `hidepid` ("hidepid=1": other users' /proc/<pid> cannot be
  // read; "hidepid=2": nor seen); the holder writes until killed. Returns
  // once the waiter has queued behind it.
  void StartHiddenHolderAndWaiter(const std::string& path, double lease, const char* hidepid, Timeline* t) {
    holder_ = RunChild([&] {
      if (!EnterMountNamespaceWithProc(hidepid) || !BecomeUser(kHolderUid)) return 77;
      return HoldAndWrite(path, Config(lease), -1, t);
    });
    ASSERT_TRUE(WaitFor([&] { return t->opened > 0; }, 10)) << "the holder did not open " << path;
    const pid_t holder = holder_;
    waiter_ = RunChild([&] {
      if (!EnterMountNamespaceWithProc(hidepid) || !BecomeUser(kWaiterUid)) return 77;
      t->blind = CannotSee(holder);
      return WaitAndTake(path, Config(lease), t);
    });
    SleepSeconds(0.3);
    EXPECT_TRUE(t->blind) << "the waiter could see the holder: the fault was not injected";
  }

  pid_t holder_ = -1, waiter_ = -1;
};

// Holder and waiter of two users, /proc mounted hidepid=1 or 2: the waiter
// waits as long as the holder lives and writes. Killed, and reaped by its
// parent, the holder's pid is free, which kill() tells anyone: the waiter
// takes the lock at once, not after the lease (30 s).
TEST_F(LivenessTest, HiddenHolderOfAnotherUserIsNotReapedWhileItLives) {
  for (const char* hidepid : {"hidepid=1", "hidepid=2"}) {
    SCOPED_TRACE(hidepid);
    const std::string path = MakeFile(std::string(hidepid) + ".h5");
    SharedArray<Timeline> t(1);
    StartHiddenHolderAndWaiter(path, 30, hidepid, &t[0]);
    SleepSeconds(1.5);  // fifteen liveness ticks
    EXPECT_EQ(t[0].acquired, 0) << "the waiter took the lock of a live holder";
    EXPECT_TRUE(StillRunning(waiter_)) << "the waiter stopped waiting while the holder lived";
    EXPECT_GT(t[0].writes, 20);
    EXPECT_EQ(t[0].refused, 0) << "the holder lost its lock while it lived";
    const double killed_at = MonotonicSeconds();
    kill(holder_, SIGKILL);
    EXPECT_EQ(WaitChild(holder_), 128 + SIGKILL);
    EXPECT_EQ(WaitChild(waiter_), 0);
    const double recovery = t[0].acquired - killed_at;
    std::printf("%s, holder killed and reaped: the waiter had the lock %.3f s later\n", hidepid, recovery);
    EXPECT_LT(recovery, 1.0);
  }
}

// Killed but not reaped, the hidden holder is a zombie whose pid is taken:
// the waiter cannot tell it from a live holder, nor from a process that
// reused the pid, and leaves it to its lease (2 s here, renewed every 2/3 s):
// the lock is free no sooner than a renewal period before the lease ends.
TEST_F(LivenessTest, HiddenHolderKilledButNotReapedIsFreedByItsLease) {
  const double lease = 2;
  for (const char* hidepid : {"hidepid=1", "hidepid=2"}) {
    SCOPED_TRACE(hidepid);
    const std::string path = MakeFile(std::string("zombie-") + hidepid + ".h5");
    SharedArray<Timeline> t(1);
    StartHiddenHolderAndWaiter(path, lease, hidepid, &t[0]);
    const double killed_at = MonotonicSeconds();
    kill(holder_, SIGKILL);  // and not reaped until the waiter is done
    EXPECT_EQ(WaitChild(waiter_), 0);
    EXPECT_EQ(WaitChild(holder_), 128 + SIGKILL);
    const double recovery = t[0].acquired - killed_at;
    std::printf("%s, holder killed, not reaped: the waiter had the lock %.3f s later\n", hidepid, recovery);
    EXPECT_GT(recovery, lease * 2 / 3 - 0.2) << "the waiter reaped a process it could not see";
    EXPECT_LT(recovery, lease + 1.5);
  }
}

// A C program opens the file from a worker thread and ends its main thread
// with pthread_exit: /proc shows the process as a zombie while the worker
// holds the file and writes. No waiter reaps it; killed, it is reaped at once.
TEST_F(LivenessTest, HolderWhoseMainThreadExitedIsNotReaped) {
  const std::string path = MakeFile("main-thread-exited.h5");
  int out[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  const std::string config = Config(30);
  const pid_t holder = RunChild([&] {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(out[1], 1);
    setenv("HDF5_DRIVER", "redislock", 1);
    setenv("HDF5_DRIVER_CONFIG", config.c_str(), 1);
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
    execl(MAIN_THREAD_EXIT_HOLDER, MAIN_THREAD_EXIT_HOLDER, path.c_str(), static_cast<char*>(nullptr));
    return 127;
  });
  close(out[1]);
  auto read_some = [&] {
    char buf[4096];
    ssize_t n = read(out[0], buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };
  std::string said = read_some();
  ASSERT_EQ(said.rfind("opened\n", 0), 0u) << "the holder did not open " << path << ": " << said;
  SharedArray<Timeline> t(1);
  const pid_t waiter = RunChild([&] { return WaitAndTake(path, config, &t[0]); });
  SleepSeconds(1.5);
  char state = '?';
  FILE* stat = std::fopen(("/proc/" + std::to_string(holder) + "/stat").c_str(), "r");
  ASSERT_NE(stat, nullptr);
  EXPECT_EQ(std::fscanf(stat, "%*d (%*[^)]) %c", &state), 1);
  std::fclose(stat);
  EXPECT_EQ(state, 'Z') << "the holder's main thread did not exit: the fault was not injected";
  EXPECT_EQ(t[0].acquired, 0) << "the waiter took the lock of a live holder";
  EXPECT_TRUE(StillRunning(waiter)) << "the waiter stopped waiting while the holder lived";
  said += read_some();
  EXPECT_GT(std::count(said.begin(), said.end(), 'w'), 20) << said;
  EXPECT_EQ(said.find("refused"), std::string::npos) << "the holder lost its lock while it lived";
  const double killed_at = MonotonicSeconds();
  kill(holder, SIGKILL);
  EXPECT_EQ(WaitChild(holder), 128 + SIGKILL);
  close(out[0]);
  EXPECT_EQ(WaitChild(waiter), 0);
  const double recovery = t[0].acquired - killed_at;
  std::printf("holder without its main thread killed: the waiter had the lock %.3f s later\n", recovery);
  EXPECT_LT(recovery, 1.0);
}

// A pid that the outer namespace's /proc has no entry for, from the top.
pid_t PidUnknownToProc() {
  for (pid_t pid = 32767; pid > 300; --pid)
    if (access(("/proc/" + std::to_string(pid)).c_str(), F_OK) != 0) return pid;
  return 0;
}

// Holder and waiter in a pid namespace without a /proc of its own, as in a
// container started without one: the /proc they see is the outer
// namespace's, where /proc/<pid> is another process than their <pid>, or
// none; or there is no /proc at all. /proc vouches for nobody there: the
// waiter waits until the holder closes. (The holder gets a pid that the outer
// /proc does not show. At a pid that it shows, holder and waiter would read
// the same wrong process, and agree on its start time until it exits.)
TEST_F(LivenessTest, HolderInAPidNamespaceWithoutItsOwnProcIsNotReaped) {
  for (const bool outer_proc : {true, false}) {
    SCOPED_TRACE(outer_proc ? "the outer namespace's /proc" : "no /proc");
    const std::string path = MakeFile(outer_proc ? "outer-proc.h5" : "no-proc.h5");
    SharedArray<Timeline> t(1);
    const pid_t init = RunInNewNamespaces(
        [&] { return EnterPidNamespaceForChildren() && (outer_proc || EnterMountNamespaceWithProc(nullptr)); },
        [&] {
          // Pid 1 of the namespace; the holder and the waiter are its children.
          if (outer_proc && !SetNextPid(PidUnknownToProc())) return 3;
          const pid_t holder = RunChild([&] { return HoldAndWrite(path, Config(30), 1.5, &t[0]); });
          if (!WaitFor([&] { return t[0].opened > 0; }, 10)) return 2;
          const pid_t waiter = RunChild([&] { return WaitAndTake(path, Config(30), &t[0]); });
          return WaitChildren({holder, waiter});
        });
    EXPECT_EQ(WaitChild(init), 0);
    ExpectHandedOverOnClose(t[0]);
  }
}

// A holder in a time namespace whose boot clock runs 1000 s ahead: a waiter
// outside reads its start time in /proc as 1000 s later than the holder wrote
// it down, which must not pass for a reused pid.
TEST_F(LivenessTest, HolderInAnotherTimeNamespaceIsNotReaped) {
  const std::string path = MakeFile("time-namespace.h5");
  SharedArray<Timeline> t(1);
  const pid_t holder = RunInNewNamespaces([] { return EnterTimeNamespaceForChildren(1000); },
                                          [&] { return HoldAndWrite(path, Config(30), 1.5, &t[0]); });
  ASSERT_TRUE(WaitFor([&] { return t[0].opened > 0; }, 10)) << "the holder did not open " << path;
  const pid_t waiter = RunChild([&] { return WaitAndTake(path, Config(30), &t[0]); });
  EXPECT_EQ(WaitChild(holder), 0);
  EXPECT_EQ(WaitChild(waiter), 0);
  ExpectHandedOverOnClose(t[0]);
}

// A process that sees no /proc cannot name its boot nor its pid namespace:
// its host key is its own, unlike any other process's on any host (at
// 5d4450e it was "/?" for all of them), and drawn anew in its forked
// children. A /proc mounted hidepid=2 still names them: such processes keep
// the host's key (the hidepid tests above rely on it).
TEST_F(LivenessTest, ProcessWithoutProcHasAHostKeyNoOtherHas) {
  constexpr size_t kKey = 256;
  SharedArray<char> keys(4 * kKey);
  auto note_key = [&](int slot) {
    std::snprintf(&keys[slot * kKey], kKey, "%s", ThisProcess().host_key.c_str());
  };
  auto without_proc = [&](int slot) {
    return RunChild([&, slot] {
      if (!EnterMountNamespaceWithProc(nullptr)) return 77;
      note_key(slot);
      if (slot != 0) return 0;
      return WaitChild(RunChild([&] {
        note_key(2);
        return 0;
      }));
    });
  };
  const pid_t first = without_proc(0), second = without_proc(1);
  const pid_t hidden = RunChild([&] {
    if (!EnterMountNamespaceWithProc("hidepid=2") || !BecomeUser(kWaiterUid)) return 77;
    note_key(3);
    return 0;
  });
  ASSERT_EQ(WaitChildren({first, second, hidden}), 0);
  const std::string ours = ThisProcess().host_key;
  const std::string key[4] = {&keys[0], &keys[kKey], &keys[2 * kKey], &keys[3 * kKey]};
  std::printf("host key %s; without /proc: %s, %s, and in a child %s\n", ours.c_str(), key[0].c_str(),
              key[1].c_str(), key[2].c_str());
  EXPECT_NE(key[0], ours);
  EXPECT_NE(key[1], ours);
  EXPECT_NE(key[0], key[1]) << "two processes without /proc take each other for processes of their host";
  EXPECT_NE(key[2], key[0]) << "a forked child kept its parent's private key";
  EXPECT_EQ(key[3], ours) << "a process behind hidepid=2 is no longer of this host";
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
