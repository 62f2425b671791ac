// test_network.h: hosts as Linux network namespaces, joined to a Redis
// server's namespace by veth pairs, for tests of what a network between
// processes and Redis does to the lock (multihost_test.cc,
// silent_restart_test.cc). Needs root; a sandbox may forbid it (Build says
// why, and the tests skip).
//
//        host 0 (netns)                 redis (netns)                host 1 (netns)
//   wire 10.213.1.2/24  <-- veth -->  to-h0 10.213.1.1/24
//                                     to-h1 10.213.2.1/24  <-- veth -->  wire 10.213.2.2/24
//
// Cutting host 0 off is `ip link set to-h0 down` on the Redis side (SetLink):
// its process goes on running, and its packets are lost without a word (no
// FIN, no RST), as on a node whose network failed.
//
// Everything a test creates (namespaces, veths, addresses, processes in the
// namespaces) is removed however the test ends, even by SIGKILL: a janitor
// process, detached from the test's process tree, waits for the test to go
// away and then deletes it all (Janitor below).
#ifndef H5REDISLOCK_TESTS_TEST_NETWORK_H_
#define H5REDISLOCK_TESTS_TEST_NETWORK_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "polling.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {

// Runs a program (no shell); its exit status, with stdout and stderr in *output.
int RunCommand(const std::vector<std::string>& argv, std::string* output = nullptr);

// Moves the calling thread into the network namespace `name` (ip netns).
bool EnterNetns(const std::string& name);

// Kills (SIGKILL) and reaps the test's children in `pids` however the test
// ends (a failed ASSERT returns at once); a test that waited for them itself
// clears the list.
struct Reaper {
  std::vector<pid_t>& pids;
  ~Reaper() {
    for (pid_t p : pids) {
      kill(p, SIGKILL);
      WaitChild(p);
    }
  }
};

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

// A fixture with two hosts and Redis running, which skips its tests where
// the machine does not allow network namespaces.
class NetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
    net_ = std::make_unique<TestNetwork>(2);
    std::string why;
    if (!net_->Build(&why)) GTEST_SKIP() << "this sandbox does not allow network namespaces with veth pairs: " << why;
    ASSERT_TRUE(net_->StartRedis(&why)) << why;
  }

  std::unique_ptr<TestNetwork> net_;
};

}  // namespace testing
}  // namespace h5redislock

#endif  // H5REDISLOCK_TESTS_TEST_NETWORK_H_
