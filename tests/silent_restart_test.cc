// silent_restart_test.cc: Redis restarts without its data while a holder's
// path to it is silent, so that the holder cannot see the restart.
//
// The holder, on host 0 (a network namespace, test_network.h), writes a file
// under the write lock. Its link is cut (its packets are lost: no FIN, no
// RST), and Redis is restarted with its data lost, as after a crash of a
// server without persistence. The restarted server has no entry for the
// holder, which goes on writing until its local deadline (0.8 lease after its
// last renewal). A second writer then asks for the lock, from another host
// or through the server's unix socket: it must not be granted before the
// holder's writes have stopped.
//
// What keeps it so: a grant from a server younger than one lease is used
// only once the server has been up for a lease (MasterTerm, master_term.h),
// unless the server accepts connections from this host only. This one
// listens on the hosts' networks, so the second writer waits even when it
// comes through the unix socket. An open whose timeout ends before the
// server is old enough fails at once, saying why.
//
// To watch it fail: make every server count as one that only this host
// reaches (MasterTerm::OnlyThisHostReaches and GrantUsableAt,
// vfd/redis/master_term.cc), then
//   build/tests/silent_restart_test
// shows the holder writing after the second writer was granted.
#include <gtest/gtest.h>

#include <atomic>

#include "hdf5_files.h"
#include "test_network.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

constexpr double kLease = 5;

// What a writer did, for the test to check; written by that writer only,
// `stop` the other way.
struct WriterLog {
  std::atomic<bool> stop{false};
  std::atomic<bool> open_failed{false}, done{false};
  std::atomic<double> acquired{0};          // its open returned (monotonic s)
  std::atomic<long long> ok_writes{0}, failed_writes{0};
  std::atomic<double> last_ok{0};           // its last write that succeeded finished
  std::atomic<long long> overlapping{0};    // its writes that finished after the other writer's open returned
  char error[8192] = {0};
};

// Opens the file for writing and writes "x" every 20 ms until told to stop
// (or once, `once`); notes its writes that finished after `other` got the lock.
int Write(const std::string& path, const std::string& config, bool once, WriterLog& log, const WriterLog& other) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t fapl = LockedFapl(config);
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
  log.acquired = MonotonicSeconds();
  H5Pclose(fapl);
  if (f < 0) {
    std::snprintf(log.error, sizeof log.error, "%s", ErrorText().c_str());
    log.open_failed = true;
    return 2;
  }
  for (int value = 1; !log.stop; ++value) {
    int data[4] = {value, value, value, value};
    if (WriteAll(f, "x", H5T_NATIVE_INT, data) && H5Fflush(f, H5F_SCOPE_LOCAL) >= 0) {
      const double now = MonotonicSeconds();
      ++log.ok_writes;
      log.last_ok = now;
      if (other.acquired > 0 && now > other.acquired) ++log.overlapping;
    } else if (log.failed_writes++ == 0) {
      std::snprintf(log.error, sizeof log.error, "%s", ErrorText().c_str());
    }
    if (once) break;
    SleepSeconds(0.02);
  }
  H5Fclose(f);  // fails for a fenced holder; that is fine
  log.done = true;
  return 0;
}

// Two hosts, Redis just started, and the file.
class YoungServerTest : public NetworkTest {
 protected:
  void SetUp() override {
    NetworkTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // Made without the driver: the test process starts none of its threads.
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_sec2(fapl);
    ASSERT_TRUE(CreateFileWithDatasets(path_, fapl, {"x"}, 4, H5T_STD_I32LE));
    H5Pclose(fapl);
  }
  std::string Config(const std::string& url, int timeout = 30) const {
    return "url=" + url + ";lease=" + std::to_string(kLease) + ";connect_timeout=1;retain=0;timeout=" +
           std::to_string(timeout);
  }

  TempDir dir_;  // the "shared file system"
  std::string path_ = dir_.File("shared.h5");
};

// The parameter: whether the second writer comes through the server's unix
// socket (from the server's host, to the driver's eyes) rather than from
// another host.
class SilentRestartTest : public YoungServerTest, public ::testing::WithParamInterface<bool> {};

TEST_P(SilentRestartTest, SecondWriterWaitsUntilTheUnseeingHolderHasStopped) {
  SharedArray<WriterLog> logs(2);
  WriterLog& holder = logs[0];
  WriterLog& second = logs[1];
  std::vector<pid_t> children;
  Reaper reaper{children};

  const std::string path = path_, holder_config = Config(net_->TcpUrlFor(0));
  const std::string second_config = Config(GetParam() ? net_->UnixUrl() : net_->TcpUrlFor(1));
  children.push_back(net_->RunOnHost(0, [&] { return Write(path, holder_config, false, holder, second); }));
  ASSERT_TRUE(WaitFor([&] { return holder.ok_writes >= 10 || holder.open_failed; }, 20)) << "the holder did not write";
  ASSERT_FALSE(holder.open_failed) << holder.error;

  const double cut = MonotonicSeconds();
  ASSERT_TRUE(net_->SetLink(0, false));
  net_->StopRedis();  // SIGTERM, and no persistence: the server's data is gone
  std::string why;
  ASSERT_TRUE(net_->StartRedis(&why)) << why;
  const double restarted = MonotonicSeconds();
  children.push_back(net_->RunOnHost(1, [&] { return Write(path, second_config, true, second, holder); }));
  ASSERT_TRUE(WaitFor([&] { return second.done || second.open_failed; }, 30)) << "the second writer never finished";
  ASSERT_FALSE(second.open_failed) << second.error;
  // The holder writes until it is refused, at its deadline at the latest.
  EXPECT_TRUE(WaitFor([&] { return holder.failed_writes > 0; }, kLease)) << "the holder was never refused";
  holder.stop = true;
  ASSERT_TRUE(net_->SetLink(0, true));
  ASSERT_TRUE(WaitFor([&] { return holder.done.load(); }, 30));

  std::printf("cut and restart took %.3f s; the second writer (%s) got the lock %.3f s after the restart; the "
              "holder's last write finished %.3f s after the cut, and %lld of its writes after that grant\n",
              restarted - cut, GetParam() ? "through the unix socket" : "from another host",
              second.acquired - restarted, holder.last_ok - cut, holder.overlapping.load());
  EXPECT_EQ(holder.overlapping.load(), 0)
      << "two writers: the holder wrote after the restarted server granted the lock";
  EXPECT_LT(holder.last_ok.load(), second.acquired.load());
  EXPECT_EQ(second.ok_writes.load(), 1) << second.error;
}

INSTANTIATE_TEST_SUITE_P(SecondWriter, SilentRestartTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& test) {
                           return test.param ? std::string("ThroughTheUnixSocket") : std::string("FromAnotherHost");
                         });

// The server has just started and other hosts reach it: opens whose timeout
// (1 s, and 0) ends before it has been up for a lease fail at once, saying
// why, rather than wait or use the grant.
TEST_F(YoungServerTest, OpenThatCannotWaitForTheServersAgeFailsAtOnceSayingWhy) {
  constexpr size_t kErrorSize = 8192;
  const int timeouts[2] = {1, 0};
  SharedArray<double> took(2);
  SharedArray<char> errors(2 * kErrorSize);
  const std::string path = path_, url = net_->TcpUrlFor(0);
  pid_t child = net_->RunOnHost(0, [&] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    for (int i = 0; i < 2; ++i) {
      hid_t fapl = LockedFapl(Config(url, timeouts[i]));
      const double t0 = MonotonicSeconds();
      hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
      took[i] = MonotonicSeconds() - t0;
      std::snprintf(&errors[i * kErrorSize], kErrorSize, "%s", ErrorText().c_str());
      H5Pclose(fapl);
      if (f >= 0) return 1;
    }
    return 0;
  });
  EXPECT_EQ(WaitChild(child), 0) << "an open used a grant of a server up for less than a lease";
  for (int i = 0; i < 2; ++i) {
    const std::string error = &errors[i * kErrorSize];
    std::printf("timeout=%d: the open failed after %.3f s\n", timeouts[i], took[i]);
    EXPECT_LT(took[i], 0.5) << error;
    EXPECT_NE(error.find("a server that young has its grants used only once it has been up for"), std::string::npos)
        << error;
  }
  EXPECT_NE(std::string(&errors[0]).find("past the timeout"), std::string::npos) << &errors[0];
  EXPECT_NE(std::string(&errors[kErrorSize]).find("timeout=0 forbids waiting"), std::string::npos)
      << &errors[kErrorSize];
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
