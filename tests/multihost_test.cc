// multihost_test.cc: a writer whose host is cut off from Redis while it holds
// the lock. Hosts are Linux network namespaces joined to a Redis namespace by
// veth pairs; the file is in a directory all of them see, as on a cluster's
// shared file system.
//
//        host A (netns)                 redis (netns)                host B (netns)
//   wire 10.213.1.2/24  <-- veth -->  to-h0 10.213.1.1/24
//                                     to-h1 10.213.2.1/24  <-- veth -->  wire 10.213.2.2/24
//
// Cutting host A off is `ip link set to-h0 down` on the Redis side: A's
// process goes on running and writing, as on a node whose network failed,
// while its lease runs out. The namespaces share the machine's pid namespace
// and boot id, so the driver's same-host liveness check sees A alive (which it
// is): only the lease frees the lock, exactly as for a host that vanished.
//
// It runs with the undo journal (the default) and without. With it, A's
// session never committed, so B finds the file as it was before A's session
// (rolled back); without it, B finds A's last complete write. Either way no
// mix: every write here is one call into the driver, which either happens
// while the lock is held or is refused.
//
// Everything the test creates (namespaces, veths, addresses, processes in the
// namespaces) is removed however the test ends, even by SIGKILL: a janitor
// process, detached from the test's process tree, waits for the test to go
// away and then deletes it all (Janitor below).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <thread>

#include "hdf5_files.h"
#include "polling.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

// Runs a program (no shell); its exit status, with stdout and stderr in *output.
int RunCommand(const std::vector<std::string>& argv, std::string* output = nullptr) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return -1;
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(out[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buf[512];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  close(out[0]);
  if (output) *output = text;
  return pid < 0 ? -1 : WaitChild(pid);
}

bool EnterNetns(const std::string& name) {
  int fd = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = setns(fd, CLONE_NEWNET) == 0;
  close(fd);
  return ok;
}

// Deletes the test's namespaces once the test process is gone, whatever ended
// it. It is a grandchild that got re-parented (so a test runner killing the
// test's process tree on a timeout does not find it) and watches a pipe whose
// only writer is the test: EOF means the test closed it or died. Processes
// still inside the namespaces are the test's own (the Redis server, the
// hosts' processes); they are killed first, then the namespaces deleted, which
// deletes their veths with them.
class Janitor {
 public:
  explicit Janitor(std::vector<std::string> namespaces) : namespaces_(std::move(namespaces)) {
    int watch[2], done[2];
    if (pipe2(watch, O_CLOEXEC) != 0 || pipe2(done, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    fflush(nullptr);
    pid_t middle = fork();
    if (middle == 0) {
      setsid();
      if (fork() == 0) {
        close(watch[1]);
        close(done[0]);
        char c;
        while (read(watch[0], &c, 1) > 0) {
        }
        Clean(namespaces_);
        _exit(0);  // closes `done`: the test may go on
      }
      _exit(0);
    }
    WaitChild(middle);
    close(watch[0]);
    close(done[1]);
    watch_ = watch[1];
    done_ = done[0];
  }
  ~Janitor() { CleanNow(); }

  // Cleans up now and waits until it is done.
  void CleanNow() {
    if (watch_ < 0) return;
    close(watch_);
    watch_ = -1;
    char c;
    while (read(done_, &c, 1) > 0) {
    }
    close(done_);
  }
  // Forked children of the test must close this, or the janitor would wait
  // for them too.
  int watch_fd() const { return watch_; }

 private:
  static void Clean(const std::vector<std::string>& namespaces) {
    for (const auto& ns : namespaces) {
      for (int round = 0; round < 50; ++round) {
        std::string pids;
        if (RunCommand({"ip", "netns", "pids", ns}, &pids) != 0 || pids.empty()) break;
        std::istringstream in(pids);
        for (long pid; in >> pid;)
          if (pid > 1) kill(static_cast<pid_t>(pid), SIGKILL);
        SleepSeconds(0.1);
      }
      RunCommand({"ip", "netns", "del", ns});
    }
  }

  std::vector<std::string> namespaces_;
  int watch_ = -1, done_ = -1;
};

// Hosts joined to a Redis namespace, and a redis-server in it listening on
// TCP for the hosts and on a unix socket (which crosses network namespaces)
// for the test's own set-up and checks.
class TestNetwork {
 public:
  static constexpr int kPort = 6390;  // the namespace is private: no clash possible

  // The namespaces' names are unique per run; the janitor is armed before
  // anything exists.
  explicit TestNetwork(int hosts) : hosts_(hosts) {
    unsigned int nonce = 0;
    if (getrandom(&nonce, sizeof nonce, 0) != sizeof nonce) nonce = static_cast<unsigned>(MonotonicSeconds() * 1e6);
    std::ostringstream base;
    base << "h5rl-" << getpid() << "-" << std::hex << (nonce & 0xffffff) << "-";
    redis_ns_ = base.str() + "redis";
    std::vector<std::string> all = {redis_ns_};
    for (int i = 0; i < hosts; ++i) all.push_back(host_ns_.emplace_back(base.str() + "host" + std::to_string(i)));
    janitor_ = std::make_unique<Janitor>(all);
  }
  ~TestNetwork() {
    StopRedis();
    janitor_->CleanNow();
  }

  // Builds the network; on failure, why (the test then skips: the sandbox
  // may not allow network namespaces).
  bool Build(std::string* why) {
    auto run = [&](std::vector<std::string> argv) {
      std::string out;
      if (RunCommand(argv, &out) == 0) return true;
      std::string cmd;
      for (const auto& a : argv) cmd += a + " ";
      *why = "`" + cmd + "` failed: " + out;
      return false;
    };
    if (!run({"ip", "netns", "add", redis_ns_}) || !run({"ip", "-n", redis_ns_, "link", "set", "dev", "lo", "up"}))
      return false;
    for (int i = 0; i < hosts_; ++i) {
      const std::string& h = host_ns_[i];
      const std::string side = RedisSide(i), net = "10.213." + std::to_string(i + 1) + ".";
      if (!run({"ip", "netns", "add", h}) || !run({"ip", "-n", h, "link", "set", "dev", "lo", "up"}) ||
          !run({"ip", "-n", redis_ns_, "link", "add", side, "type", "veth", "peer", "name", "wire", "netns", h}) ||
          !run({"ip", "-n", redis_ns_, "addr", "add", net + "1/24", "dev", side}) ||
          !run({"ip", "-n", redis_ns_, "link", "set", "dev", side, "up"}) ||
          !run({"ip", "-n", h, "addr", "add", net + "2/24", "dev", "wire"}) ||
          !run({"ip", "-n", h, "link", "set", "dev", "wire", "up"}))
        return false;
    }
    // setns(2) is what the hosts' processes do; a sandbox may refuse it even
    // where `ip` works.
    pid_t probe = RunChild([&] { return EnterNetns(redis_ns_) ? 0 : (errno > 0 && errno < 126 ? errno : 1); });
    if (int rc = WaitChild(probe); rc != 0) {
      *why = std::string("setns(2) into a network namespace failed: ") + std::strerror(rc);
      return false;
    }
    return true;
  }

  // Starts redis-server in the Redis namespace (not daemonized: our child,
  // stopped by its pid).
  bool StartRedis(std::string* why) {
    std::vector<std::string> args = {ServerProgram(), "--port", std::to_string(kPort), "--bind"};
    for (int i = 0; i < hosts_; ++i) args.push_back(RedisAddress(i));
    for (const char* a : {"--protected-mode", "no", "--save", "", "--appendonly", "no", "--daemonize", "no"})
      args.push_back(a);
    args.insert(args.end(), {"--unixsocket", socket(), "--dir", dir_.path(), "--logfile", dir_.File("redis.log")});
    fflush(nullptr);
    redis_pid_ = fork();
    if (redis_pid_ == 0) {
      if (!EnterNetns(redis_ns_)) _exit(126);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    bool up = WaitFor([&] {
      redisContext* c = redisConnectUnix(socket().c_str());
      bool ok = c && !c->err;
      if (c) redisFree(c);
      return ok;
    }, 10);
    if (!up) *why = "redis-server did not come up in namespace " + redis_ns_ + " (see " + dir_.File("redis.log") + ")";
    return up;
  }
  void StopRedis() {
    if (redis_pid_ <= 0) return;
    kill(redis_pid_, SIGTERM);
    if (!WaitFor([&] { return waitpid(redis_pid_, nullptr, WNOHANG) == redis_pid_; }, 10)) {
      kill(redis_pid_, SIGKILL);
      waitpid(redis_pid_, nullptr, 0);
    }
    redis_pid_ = -1;
  }

  // Takes host `i`'s link to Redis down (a cut cable) or up again.
  bool SetLink(int i, bool up) {
    return RunCommand({"ip", "-n", redis_ns_, "link", "set", "dev", RedisSide(i), up ? "up" : "down"}) == 0;
  }

  // Forks a process on host `i`: it runs `body` inside the host's namespace.
  pid_t RunOnHost(int i, const std::function<int()>& body) {
    const std::string ns = host_ns_[i];
    const int watch = janitor_->watch_fd();
    return RunChild([=] {
      close(watch);
      if (!EnterNetns(ns)) return 126;
      return body();
    });
  }
  // Runs `body` in a child process outside the hosts (it reaches Redis by the
  // unix socket) and returns its exit status. The test process itself never
  // starts the driver's threads, so that it forks the hosts' processes single
  // threaded: ThreadSanitizer cannot follow a multi-threaded fork.
  int RunHere(const std::function<int()>& body) {
    const int watch = janitor_->watch_fd();
    return WaitChild(RunChild([=] {
      close(watch);
      return body();
    }));
  }

  std::string RedisAddress(int i) const { return "10.213." + std::to_string(i + 1) + ".1"; }
  std::string TcpUrlFor(int i) const { return "redis://" + RedisAddress(i) + ":" + std::to_string(kPort); }
  std::string socket() const { return dir_.File("redis.sock"); }
  std::string UnixUrl() const { return "unix://" + socket(); }
  const std::string& host_ns(int i) const { return host_ns_[i]; }

  // Keys in Redis matching `pattern`, through the unix socket.
  long long CountKeys(const std::string& pattern) const {
    redisContext* c = redisConnectUnix(socket().c_str());
    if (!c || c->err) {
      if (c) redisFree(c);
      return -1;
    }
    auto* r = static_cast<redisReply*>(redisCommand(c, "KEYS %s", pattern.c_str()));
    long long n = r && r->type == REDIS_REPLY_ARRAY ? static_cast<long long>(r->elements) : -1;
    if (r) freeReplyObject(r);
    redisFree(c);
    return n;
  }

 private:
  static std::string RedisSide(int i) { return "to-h" + std::to_string(i); }

  const int hosts_;
  std::string redis_ns_;
  std::vector<std::string> host_ns_;
  std::unique_ptr<Janitor> janitor_;
  TempDir dir_;  // the server's socket, log and working directory
  pid_t redis_pid_ = -1;
};

// --- A checksummed pattern: one per (writer, counter), verifiable alone ----
// 256 KiB, above HDF5's 64 KiB sieve buffer, so that one H5Dwrite of the
// dataset is one write to the driver: a writer fenced between two writes
// leaves one complete pattern or the other, never part of one (there is no
// undo journal to repair a torn multi-write session yet).
constexpr hsize_t kLength = 32768;
constexpr int64_t kPerWriter = 1000000000;

uint64_t Mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// [writer * 1e9 + counter, noise..., checksum of all before it]
std::vector<int64_t> Pattern(int writer, int64_t counter) {
  std::vector<int64_t> p(kLength);
  p[0] = writer * kPerWriter + counter;
  uint64_t sum = static_cast<uint64_t>(p[0]);
  for (hsize_t i = 1; i + 1 < kLength; ++i) {
    p[i] = static_cast<int64_t>(Mix(static_cast<uint64_t>(p[0]) * kLength + i));
    sum += static_cast<uint64_t>(p[i]);
  }
  p[kLength - 1] = static_cast<int64_t>(sum);
  return p;
}

// Whether `data` is exactly one writer's complete pattern, and whose.
bool Decode(const std::vector<int64_t>& data, int* writer, int64_t* counter) {
  if (data.size() != kLength || data[0] < 0) return false;
  *writer = static_cast<int>(data[0] / kPerWriter);
  *counter = data[0] % kPerWriter;
  return data == Pattern(*writer, *counter);
}

// What a process on a host did, for the parent to check. Written by that
// process only, read by the parent; `command` goes the other way.
struct HostLog {
  enum Command { kWrite, kHealed, kClose, kReopen };
  std::atomic<int> command{kWrite};
  std::atomic<double> asked{0}, acquired{0};  // open called / returned (monotonic s)
  std::atomic<bool> open_failed{false};
  // The holder: its write loop.
  std::atomic<long long> written{0};          // counter of the last H5Dwrite that succeeded
  std::atomic<long long> ok_writes{0}, failed_writes{0};
  std::atomic<double> last_ok{0}, first_failure{0};
  std::atomic<int> attempts_after_heal{0}, successes_after_heal{0};
  std::atomic<int> closed{0};                 // 1 closed fine, -1 close failed
  std::atomic<int> reopened{0};               // 1 reopened, wrote and closed fine, -1 failed
  // The waiter: what it saw when it got the lock, and how its own write went.
  std::atomic<int> seen_writer{-1};
  std::atomic<long long> seen_counter{-1};
  std::atomic<int> wrote{0};                  // 1 write+flush+close fine, -1 failed
  char first_error[16384] = {0};
  char close_error[16384] = {0};
};

// The driver's own part of an HDF5 error stack (HDF5 prints it last).
std::string DriverPart(const std::string& stack) {
  size_t at = stack.find("h5redislock-DIAG");
  return at == std::string::npos ? stack : stack.substr(at);
}

void Note(char* slot, size_t size, const std::string& text) {
  if (slot[0]) return;
  std::snprintf(slot, size, "%s", text.c_str());
}

bool ReadPattern(hid_t f, std::vector<int64_t>* data) {
  data->assign(kLength, -1);
  return ReadAll(f, "pattern", H5T_NATIVE_INT64, data->data());
}

// The error stack is captured into *error right after a failed write: the
// H5Dclose that follows would clear it.
bool WritePattern(hid_t f, int writer, int64_t counter, std::string* error = nullptr) {
  std::vector<int64_t> p = Pattern(writer, counter);
  hid_t d = H5Dopen2(f, "pattern", H5P_DEFAULT);
  bool ok = d >= 0 && H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()) >= 0;
  if (!ok && error) *error = ErrorText();
  if (d >= 0 && H5Dclose(d) < 0) ok = false;
  return ok;
}

constexpr int kInitialWriter = 0, kHostA = 1, kHostB = 2;
constexpr int64_t kReopenCounter = 777;

// Host A's process: opens for writing and writes patterns 1, 2, 3, ... with a
// flush after each, until told to close; then, when told, opens again.
int RunHolder(const std::string& path, const std::string& config, HostLog& log) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t fapl = LockedFapl(config);
  log.asked = MonotonicSeconds();
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
  log.acquired = MonotonicSeconds();
  if (f < 0) {
    Note(log.first_error, sizeof log.first_error, ErrorText());
    log.open_failed = true;
    return 2;
  }
  for (int64_t counter = 1; log.command.load() < HostLog::kClose; ++counter) {
    const bool healed = log.command.load() == HostLog::kHealed;  // before the attempt
    std::string error;
    bool wrote = WritePattern(f, kHostA, counter, &error);
    if (wrote) log.written = counter;
    bool ok = wrote && H5Fflush(f, H5F_SCOPE_LOCAL) >= 0;
    if (wrote && !ok) error = ErrorText();
    const double now = MonotonicSeconds();
    if (ok) {
      ++log.ok_writes;
      log.last_ok = now;
    } else {
      if (log.failed_writes++ == 0) {
        log.first_failure = now;
        Note(log.first_error, sizeof log.first_error, error);
      }
    }
    if (healed) {
      ++log.attempts_after_heal;
      if (ok) ++log.successes_after_heal;
    }
    SleepSeconds(0.02);
  }
  if (H5Fclose(f) >= 0) {
    log.closed = 1;
  } else {
    Note(log.close_error, sizeof log.close_error, ErrorText());
    log.closed = -1;
  }
  while (log.command.load() != HostLog::kReopen) SleepSeconds(0.01);
  // A new session of the same process after the network healed: it must
  // work like anyone's, whatever the old session left in this process.
  f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
  std::string error;
  bool ok = f >= 0 && WritePattern(f, kHostA, kReopenCounter, &error) && H5Fflush(f, H5F_SCOPE_LOCAL) >= 0;
  if (!ok && error.empty()) error = ErrorText();
  if (f >= 0 && H5Fclose(f) < 0) {
    if (ok) error = ErrorText();
    ok = false;
  }
  if (!ok) Note(log.close_error, sizeof log.close_error, "reopen: " + error);
  log.reopened = ok ? 1 : -1;
  H5Pclose(fapl);
  return 0;
}

// Host B's process: waits for the lock, checks what it finds, writes its own
// pattern and closes.
int RunWaiter(const std::string& path, const std::string& config, HostLog& log) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t fapl = LockedFapl(config);
  log.asked = MonotonicSeconds();
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
  log.acquired = MonotonicSeconds();
  H5Pclose(fapl);
  if (f < 0) {
    Note(log.first_error, sizeof log.first_error, ErrorText());
    log.open_failed = true;
    return 2;
  }
  std::vector<int64_t> data;
  int writer = -1;
  int64_t counter = -1;
  if (ReadPattern(f, &data) && Decode(data, &writer, &counter)) {
    log.seen_counter = counter;
    log.seen_writer = writer;  // last: the parent waits for it
  } else {
    log.seen_writer = -2;      // unreadable or not one complete pattern
  }
  std::string error;
  bool ok = WritePattern(f, kHostB, 1, &error) && H5Fflush(f, H5F_SCOPE_LOCAL) >= 0;
  if (!ok) Note(log.first_error, sizeof log.first_error, error.empty() ? ErrorText() : error);
  if (H5Fclose(f) < 0) {
    Note(log.close_error, sizeof log.close_error, ErrorText());
    ok = false;
  }
  log.wrote = ok ? 1 : -1;
  return 0;
}

// The parameter: journal=undo or journal=off.
class MultiHostTest : public ::testing::TestWithParam<const char*> {
 protected:
  static constexpr double kLease = 2;

  MultiHostTest() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

  bool journal() const { return std::string(GetParam()) == "undo"; }
  // The hosts reach Redis by TCP; connect_timeout=1 so that a renewal on a
  // cut link fails in a second rather than hanging in TCP retransmissions.
  std::string HostConfig(int host) const {
    return "url=" + net_->TcpUrlFor(host) + ";lease=" + std::to_string(kLease) +
           ";connect_timeout=1;timeout=30;retain=0;journal=" + GetParam();
  }
  std::string LocalConfig() const {
    return "url=" + net_->UnixUrl() + ";lease=2;timeout=30;retain=0;journal=" + GetParam();
  }
  bool JournalExists() const { return access((path_ + "-redislock-journal").c_str(), F_OK) == 0; }

  // The pattern in the file, read under a read lock (in a child: RunHere).
  bool FilePattern(int* writer, int64_t* counter) {
    SharedArray<int64_t> found(2);
    const std::string path = path_, config = LocalConfig();
    int rc = net_->RunHere([&] {
      H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
      hid_t fapl = LockedFapl(config);
      H5File f(path, H5F_ACC_RDONLY, fapl);
      H5Pclose(fapl);
      std::vector<int64_t> data;
      int w = -1;
      int64_t c = -1;
      if (!f.ok() || !ReadPattern(f.id(), &data) || !Decode(data, &w, &c)) return 1;
      found[0] = w;
      found[1] = c;
      return f.Close() >= 0 ? 0 : 2;
    });
    *writer = static_cast<int>(found[0]);
    *counter = found[1];
    return rc == 0;
  }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
    net_ = std::make_unique<TestNetwork>(2);
    std::string why;
    if (!net_->Build(&why)) GTEST_SKIP() << "this sandbox does not allow network namespaces with veth pairs: " << why;
    ASSERT_TRUE(net_->StartRedis(&why)) << why;

    path_ = shared_.File("shared.h5");
    const std::string path = path_, config = LocalConfig();
    ASSERT_EQ(net_->RunHere([&] {
      H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
      hid_t fapl = LockedFapl(config);
      H5File f(path, H5F_ACC_TRUNC, fapl, true);
      H5Pclose(fapl);
      if (!f.ok()) return 1;
      // Space allocated at creation: the hosts' writes then touch raw data
      // only, not the file's metadata.
      hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
      H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
      hsize_t dims = kLength;
      hid_t space = H5Screate_simple(1, &dims, nullptr);
      hid_t d = H5Dcreate2(f.id(), "pattern", H5T_STD_I64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
      H5Sclose(space);
      H5Pclose(dcpl);
      if (d < 0 || H5Dclose(d) < 0) return 2;
      if (!WritePattern(f.id(), kInitialWriter, 0)) return 3;
      return f.Close() >= 0 ? 0 : 4;
    }), 0) << "could not create the shared file";
  }

  TempDir shared_;  // the "shared file system": one directory every host sees
  std::unique_ptr<TestNetwork> net_;
  std::string path_;
};

TEST_P(MultiHostTest, CutOffWriterIsFencedAndTheFileStaysWhole) {
  SharedArray<HostLog> logs(2);
  HostLog& a = logs[0];
  HostLog& b = logs[1];
  std::vector<pid_t> children;
  struct Reaper {  // kills what is left of the hosts' processes on any exit
    std::vector<pid_t>& pids;
    ~Reaper() {
      for (pid_t p : pids) {
        kill(p, SIGKILL);
        WaitChild(p);
      }
    }
  } reaper{children};

  // Host A takes the lock and keeps writing.
  const std::string path = path_, config_a = HostConfig(0), config_b = HostConfig(1);
  children.push_back(net_->RunOnHost(0, [&] { return RunHolder(path, config_a, a); }));
  ASSERT_TRUE(WaitFor([&] { return a.ok_writes >= 5 || a.open_failed; }, 15))
      << "host A did not start writing";
  ASSERT_FALSE(a.open_failed) << a.first_error;

  // Host B asks for it and waits: A is alive and renewing.
  children.push_back(net_->RunOnHost(1, [&] { return RunWaiter(path, config_b, b); }));
  ASSERT_TRUE(WaitFor([&] { return b.asked > 0; }, 5));
  SleepSeconds(1.0);
  ASSERT_EQ(b.acquired.load(), 0) << "host B got the lock while host A held it and was reachable: "
                                  << b.first_error;
  ASSERT_EQ(a.failed_writes.load(), 0) << "host A was fenced while connected: " << a.first_error;

  // Cut host A off.
  const double cut = MonotonicSeconds();
  ASSERT_TRUE(net_->SetLink(0, false));
  ASSERT_TRUE(WaitFor([&] { return b.wrote != 0 || b.open_failed; }, 30)) << "host B never got the lock";
  ASSERT_FALSE(b.open_failed) << b.first_error;
  const double waited = b.acquired - cut;
  std::printf("host B got the lock %.3f s after host A was cut off (lease %.1f s); host A's last good write "
              "%.3f s and its first refused write %.3f s after the cut (%lld good writes in all)\n",
              waited, kLease, a.last_ok - cut, a.first_failure - cut, a.ok_writes.load());

  // The lock moved after about a lease: not before A's lease could have run
  // out (its last renewal was at most lease/3 before the cut), and not much
  // later than the lease.
  EXPECT_GT(waited, kLease * 2 / 3 - 0.1) << "B got the lock before A's lease could have run out";
  EXPECT_LT(waited, kLease + 1.5);
  // A was fenced, and before B got the lock: A's every successful write
  // happened while it still held it.
  EXPECT_GT(a.failed_writes.load(), 0) << "the cut-off writer was never fenced";
  EXPECT_GT(a.first_failure.load(), cut);
  EXPECT_LT(a.last_ok.load(), b.acquired.load()) << "host A wrote after host B got the lock";
  EXPECT_LT(a.first_failure.load(), b.acquired.load()) << "host A was fenced only after host B got the lock";
  EXPECT_NE(std::string(a.first_error).find("refused"), std::string::npos)
      << "A's write failed, but not with the fencing error:\n" << a.first_error;
  std::printf("host A's first refused write:\n%s", DriverPart(a.first_error).c_str());
  // B found one whole pattern: the one before A's session if the journal
  // undid A's uncommitted session, else A's last write. Then B wrote its own.
  if (journal()) {
    EXPECT_EQ(b.seen_writer.load(), kInitialWriter) << "host A's uncommitted session was not rolled back";
    EXPECT_EQ(b.seen_counter.load(), 0);
  } else {
    EXPECT_EQ(b.seen_writer.load(), kHostA) << "host B found no complete pattern of host A's";
    EXPECT_EQ(b.seen_counter.load(), a.written.load()) << "host B did not find host A's last write";
  }
  EXPECT_EQ(b.wrote.load(), 1) << b.first_error << b.close_error;
  EXPECT_FALSE(JournalExists()) << "host B's committed session left a journal";

  // Heal the link: A's old session stays fenced; its write attempts fail.
  ASSERT_TRUE(net_->SetLink(0, true));
  const int before = a.attempts_after_heal;
  a.command = HostLog::kHealed;
  // Past a renewal period, so A's keeper reaches Redis again and learns its
  // entry is gone, then some more attempts.
  SleepSeconds(kLease);
  ASSERT_TRUE(WaitFor([&] { return a.attempts_after_heal >= before + 10; }, 10));
  EXPECT_EQ(a.successes_after_heal.load(), 0) << "host A's old session wrote again after the link healed";
  int writer = -1;
  int64_t counter = -1;
  ASSERT_TRUE(FilePattern(&writer, &counter)) << "the file holds no complete pattern after the heal";
  EXPECT_EQ(writer, kHostB);
  EXPECT_EQ(counter, 1);

  // A closes its old session: the close may fail (it reports the lost lock)
  // but must not write.
  a.command = HostLog::kClose;
  ASSERT_TRUE(WaitFor([&] { return a.closed != 0; }, 15));
  std::printf("host A's close of its fenced session: %s\n",
              a.closed == 1 ? "succeeded" : ("failed:\n" + DriverPart(a.close_error)).c_str());
  ASSERT_TRUE(FilePattern(&writer, &counter)) << "host A's close of its fenced session damaged the file";
  EXPECT_EQ(writer, kHostB) << "host A's close wrote to the file";
  EXPECT_EQ(counter, 1);
  EXPECT_FALSE(JournalExists()) << "host A's fenced close left a journal";

  // A new session of A's: everything works again without clean-up.
  a.command = HostLog::kReopen;
  ASSERT_TRUE(WaitFor([&] { return a.reopened != 0; }, 40));
  EXPECT_EQ(a.reopened.load(), 1) << "host A could not work again after the heal: " << a.close_error;
  ASSERT_TRUE(FilePattern(&writer, &counter));
  EXPECT_EQ(writer, kHostA);
  EXPECT_EQ(counter, kReopenCounter);
  for (pid_t p : children) EXPECT_EQ(WaitChild(p), 0);
  children.clear();
  EXPECT_EQ(net_->CountKeys("h5redislock:*"), 0) << "lock state left in Redis after everyone closed";
  EXPECT_FALSE(JournalExists());
}

INSTANTIATE_TEST_SUITE_P(Journal, MultiHostTest, ::testing::Values("undo", "off"),
                         [](const ::testing::TestParamInfo<const char*>& test) { return std::string(test.param); });

}  // namespace
}  // namespace testing
}  // namespace h5redislock
