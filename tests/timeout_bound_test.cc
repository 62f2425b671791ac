// timeout_bound_test.cc: an open returns within timeout + connect_timeout,
// plus a slack for scheduling (kSlack, as README's "Guarantees" states),
// whatever the network does: a server that accepts and never answers, one
// whose accept queue is full, a pooled connection that died silently, a
// network that goes silent while the open waits in the queue, or another
// thread of the process taking the same lock.
//
// Each open runs in a child process and is timed there.
//
// To watch them fail: take the deadline off the open's Redis calls (drop
// the ScopedDeadlines of Acquisition::Run, vfd/lock/lock_protocol.cc, and of
// RedisLockFile::TakeLock, vfd/driver/redislock_file.cc), or make
// LockTable::Acquire wait for another thread's acquisition without a
// deadline; then
//   build/tests/timeout_bound_test
// shows opens taking two or three connect timeouts, or as long as the other
// thread waits.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "lock/config.h"
#include "lock/lock_table.h"
#include "locked_file_test.h"
#include "polling.h"
#include "puppet.h"
#include "tcp_relay.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

// What an open may take beyond timeout + connect_timeout (README).
constexpr double kSlack = 0.3;
constexpr double kConnectTimeout = 1;

// A listening TCP socket on 127.0.0.1 that nobody accepts from.
class Listener {
 public:
  explicit Listener(int backlog) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(fd_, backlog), 0);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() {
    for (int fd : clients_) close(fd);
    close(fd_);
  }
  // Connects to it until its accept queue is full: the next connect's SYNs
  // are dropped, and it hangs.
  void Fill() {
    for (int i = 0; i < 8; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(port_));
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      clients_.push_back(fd);
    }
    SleepSeconds(0.1);  // the handshakes that can complete have
  }
  std::string Url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1, port_ = 0;
  std::vector<int> clients_;
};

class TimeoutBoundTest : public LockedFileTest {
 protected:
  static std::string Bounded(const std::string& url, double timeout) {
    char text[64];
    std::snprintf(text, sizeof text, ";timeout=%g;connect_timeout=%g;retain=0", timeout, kConnectTimeout);
    return "url=" + url + text;
  }
  std::string MakeFile(const std::string& name) { return LockedFileTest::MakeFile(name, "url=" + redis_.url()); }
  // Opens `path` for writing with `config` in a child; how long the open took
  // (it must fail), and its error in error_.
  double TimedFailingOpen(const std::string& path, const std::string& config) {
    SharedArray<double> took(1);
    SharedArray<char> error(4096);
    EXPECT_EQ(WaitChild(RunChild([&] {
                hid_t fapl = LockedFapl(config);
                const double t0 = MonotonicSeconds();
                hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
                took[0] = MonotonicSeconds() - t0;
                std::snprintf(&error[0], error.size(), "%s", ErrorText().c_str());
                return f < 0 ? 0 : 1;
              })),
              0)
        << "the open succeeded";
    error_ = &error[0];
    return took[0];
  }

  RedisServer redis_{{}, /*tcp=*/true};
};

// The server accepts the connection (the kernel does, for a listener nobody
// serves) and never answers.
TEST_F(TimeoutBoundTest, ServerThatNeverAnswers) {
  const std::string path = MakeFile("silent.h5");
  Listener silent(16);
  for (double timeout : {0.0, 1.5}) {
    const double took = TimedFailingOpen(path, Bounded(silent.Url(), timeout));
    std::printf("timeout=%g, connect_timeout=%g, a server that never answers: the open failed after %.3f s\n",
                timeout, kConnectTimeout, took);
    EXPECT_LT(took, timeout + kConnectTimeout + kSlack) << error_;
    EXPECT_NE(error_.find("silent.h5"), std::string::npos) << error_;
  }
}

// The server's accept queue is full: the connect itself hangs.
TEST_F(TimeoutBoundTest, ServerWhoseAcceptQueueIsFull) {
  const std::string path = MakeFile("full.h5");
  Listener full(0);
  full.Fill();
  for (double timeout : {0.0, 1.5}) {
    const double took = TimedFailingOpen(path, Bounded(full.Url(), timeout));
    std::printf("timeout=%g, connect_timeout=%g, a full accept queue: the open failed after %.3f s\n", timeout,
                kConnectTimeout, took);
    EXPECT_LT(took, timeout + kConnectTimeout + kSlack) << error_;
    EXPECT_NE(error_.find("full.h5"), std::string::npos) << error_;
  }
}

// A process opened and closed the file through a relay, which keeps its
// connections pooled; the relay goes silent; the process opens again.
TEST_F(TimeoutBoundTest, PooledConnectionThatDiedSilently) {
  const std::string path = MakeFile("pooled.h5");
  TcpRelay relay(redis_.port());
  const std::string config = Bounded(relay.url(), 0);
  int ready[2], go[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(go), 0);
  SharedArray<double> took(1);
  SharedArray<char> error(4096);
  pid_t child = RunChild([&] {
    hid_t fapl = LockedFapl(config);
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
    if (f < 0 || H5Fclose(f) < 0) {
      std::snprintf(&error[0], error.size(), "%s", ErrorText().c_str());
      return 2;
    }
    char c = 'y';
    if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) return 3;
    const double t0 = MonotonicSeconds();
    f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
    took[0] = MonotonicSeconds() - t0;
    std::snprintf(&error[0], error.size(), "%s", ErrorText().c_str());
    return f < 0 ? 0 : 1;
  });
  close(ready[1]);
  close(go[0]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1) << "the first open through the relay failed (" << WaitChild(child)
                                       << "): " << &error[0];
  relay.Pause();
  ASSERT_EQ(write(go[1], &c, 1), 1);
  EXPECT_EQ(WaitChild(child), 0) << "the open through a silent relay succeeded";
  std::printf("timeout=0, connect_timeout=%g, a pooled connection gone silent: the open failed after %.3f s\n",
              kConnectTimeout, took[0]);
  EXPECT_LT(took[0], kConnectTimeout + kSlack) << &error[0];
  relay.Resume();
  close(ready[0]);
  close(go[1]);
}

// A writer waits in the queue through a relay, which goes silent: the open
// fails by its timeout + connect_timeout, and, as it cannot take its entry
// out of Redis, says that the entry stays until its lease runs out.
TEST_F(TimeoutBoundTest, WaiterCutOffInTheQueue) {
  const std::string path = MakeFile("cut.h5");
  Puppet holder(path, "url=" + redis_.url() + ";retain=0", true);
  ASSERT_TRUE(holder.Opened()) << holder.last_error();
  TcpRelay relay(redis_.port());
  constexpr double kTimeout = 2;
  SharedArray<double> took(1);
  SharedArray<char> error(4096);
  pid_t child = RunChild([&] {
    hid_t fapl = LockedFapl(Bounded(relay.url(), kTimeout));
    const double t0 = MonotonicSeconds();
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
    took[0] = MonotonicSeconds() - t0;
    std::snprintf(&error[0], error.size(), "%s", ErrorText().c_str());
    return f < 0 ? 0 : 1;
  });
  SleepSeconds(1);  // it queues and blocks in BLPOP
  relay.Pause();
  EXPECT_EQ(WaitChild(child), 0) << "the open succeeded";
  std::printf("timeout=%g, connect_timeout=%g, a waiter cut off in the queue: the open failed after %.3f s\n",
              kTimeout, kConnectTimeout, took[0]);
  EXPECT_LT(took[0], kTimeout + kConnectTimeout + kSlack) << &error[0];
  EXPECT_NE(std::string(&error[0]).find("stays in Redis until its lease runs out"), std::string::npos) << &error[0];
  relay.Resume();
  EXPECT_TRUE(holder.Ask('c')) << holder.last_error();
}

// Two threads of one process open a file that another process holds: the
// first waits in the queue (timeout=30); the second, with timeout=0, must
// not wait for the first.
TEST_F(TimeoutBoundTest, SecondThreadWithTimeoutZeroDoesNotWaitForTheFirst) {
  const std::string path = MakeFile("threads.h5");
  Puppet holder(path, "url=" + redis_.url() + ";retain=0", true);
  ASSERT_TRUE(holder.Opened()) << holder.last_error();
  char lock_name[PATH_MAX];  // the lock the driver takes for the file: its canonical path
  ASSERT_NE(realpath(path.c_str(), lock_name), nullptr);
  SharedArray<double> took(1);
  SharedArray<char> error(4096);
  pid_t child = RunChild([&] {
    Config patient, impatient;
    if (!ParseConfig(Bounded(redis_.url(), 30), &patient).ok() ||
        !ParseConfig(Bounded(redis_.url(), 0), &impatient).ok())
      return 2;
    LockTable& table = LockTable::ForThisProcess();
    std::thread first([&] {
      std::shared_ptr<HeldLock> held;
      if (table.Acquire(patient, lock_name, LockMode::kWrite, path, &held).ok()) table.Release(held);
    });
    SleepSeconds(0.5);  // the first thread waits in the queue
    std::shared_ptr<HeldLock> held;
    const double t0 = MonotonicSeconds();
    Status s = table.Acquire(impatient, lock_name, LockMode::kWrite, path, &held);
    took[0] = MonotonicSeconds() - t0;
    std::snprintf(&error[0], error.size(), "%s", s.message().c_str());
    if (s.ok()) table.Release(held);
    first.join();
    return s.code() == Status::Code::kBusy ? 0 : 1;
  });
  SleepSeconds(8);  // long enough to tell
  ASSERT_TRUE(holder.Ask('c')) << holder.last_error();
  EXPECT_EQ(WaitChild(child), 0) << "the second thread's open did not fail as busy: " << &error[0];
  std::printf("timeout=0, another thread of the process waiting for the lock: the open returned after %.3f s: %s\n",
              took[0], &error[0]);
  EXPECT_LT(took[0], kConnectTimeout + kSlack);
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
