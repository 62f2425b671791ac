// failure_test.cc: the lock survives what kills processes on clusters every
// day. Holders are SIGKILLed, SIGTERMed, SIGSTOPped past their lease, forked;
// Redis is killed and restarted with its state lost. Nobody stays stuck, and
// nobody who lost the lock writes.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "hdf5_files.h"
#include "lock/lock_keys.h"
#include "locked_file_test.h"
#include "puppet.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

class FailureTest : public OneServerTest {
 protected:
  // Uncached (linger=0): the tests look for what a holder left in Redis
  // once it closed.
  std::string Config(double lease = 2, double timeout = 30) const {
    return ServerConfig("retain=0;linger=0;lease=" + std::to_string(lease) + ";timeout=" + std::to_string(timeout));
  }
  // Opens for writing, timing how long the open took.
  hid_t TimedOpen(const std::string& path, const std::string& config, double* seconds) {
    hid_t fapl = LockedFapl(config);
    double t0 = MonotonicSeconds();
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
    *seconds = MonotonicSeconds() - t0;
    error_ = f < 0 ? ErrorText() : "";
    H5Pclose(fapl);
    return f;
  }
  int ReadValue(const std::string& path) {
    hid_t fapl = LockedFapl(Config());
    H5File f(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    int data[4] = {-1, -1, -1, -1};
    EXPECT_TRUE(f.ok() && ReadAll(f.id(), "x", H5T_NATIVE_INT, data));
    return data[0];
  }
};

// A holder that dies by SIGKILL or SIGTERM frees the lock for a waiter of its
// host within a second, not after its lease (here 30 s).
TEST_F(FailureTest, KilledHolderIsReapedWithinASecond) {
  for (int sig : {SIGKILL, SIGTERM}) {
    const std::string path = MakeFile("killed-" + std::to_string(sig) + ".h5");
    Puppet holder(path, Config(30), true);
    ASSERT_TRUE(holder.Opened());
    ASSERT_TRUE(holder.Ask('w'));
    SharedArray<double> acquired_at(1);
    pid_t waiter = RunChild([&] {
      hid_t fapl = LockedFapl(Config(30));
      hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
      acquired_at[0] = MonotonicSeconds();
      return f >= 0 && H5Fclose(f) >= 0 ? 0 : 1;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the waiter queues
    double killed_at = MonotonicSeconds();
    kill(holder.pid(), sig);
    EXPECT_EQ(holder.Wait(), 128 + sig);
    EXPECT_EQ(WaitChild(waiter), 0);
    double recovery = acquired_at[0] - killed_at;
    std::printf("recovery after signal %d: %.3f s\n", sig, recovery);
    EXPECT_LT(recovery, 1.0);
    EXPECT_EQ(ReadValue(path), 0) << "the killed holder's unfinished session was not rolled back";
  }
}

// A holder stopped past its lease loses the lock to a waiter; when it is
// continued, its writes are refused, and the file keeps the new holder's data.
TEST_F(FailureTest, StoppedHolderIsFencedAfterItsLease) {
  const std::string path = MakeFile("stopped.h5");
  Puppet stopped(path, Config(2), true);
  ASSERT_TRUE(stopped.Opened());
  ASSERT_TRUE(stopped.Ask('w'));
  kill(stopped.pid(), SIGSTOP);
  double waited = 0;
  hid_t f = TimedOpen(path, Config(2), &waited);
  ASSERT_GE(f, 0) << error_;
  EXPECT_GT(waited, 1.0) << "the stopped holder's lease had not run out yet";
  EXPECT_LT(waited, 4.0);
  int data[4] = {7, 7, 7, 7};
  EXPECT_TRUE(WriteAll(f, "x", H5T_NATIVE_INT, data));
  EXPECT_GE(H5Fclose(f), 0);
  kill(stopped.pid(), SIGCONT);
  EXPECT_FALSE(stopped.Ask('w')) << "a holder that lost its lock wrote";
  EXPECT_EQ(ReadValue(path), 7);
}

// The keeper renews a holder's lease, so a long hold is not a lost lock.
TEST_F(FailureTest, RenewedLeaseOutlivesItsLength) {
  const std::string path = MakeFile("renewed.h5");
  Puppet holder(path, Config(1), true);
  ASSERT_TRUE(holder.Opened());
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  EXPECT_TRUE(holder.Ask('w'));
  double waited = 0;
  hid_t f = TimedOpen(path, "url=" + redis_.url() + ";timeout=0", &waited);
  EXPECT_LT(f, 0) << "the lock was free while its holder lived";
  EXPECT_TRUE(holder.Ask('c'));
  EXPECT_EQ(ReadValue(path), 100);
}

// Redis killed and restarted with its data lost while a writer holds: the
// writer is fenced at its next renewal; new writers succeed afterwards.
TEST_F(FailureTest, RedisRestartFencesHoldersAndRecovers) {
  const std::string path = MakeFile("restart.h5");
  Puppet holder(path, Config(1.5), true);
  ASSERT_TRUE(holder.Opened());
  ASSERT_TRUE(holder.Ask('w'));
  redis_.Kill();
  redis_.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_FALSE(holder.Ask('w')) << "a writer kept writing after Redis lost its lock";
  double waited = 0;
  hid_t f = TimedOpen(path, Config(), &waited);
  ASSERT_GE(f, 0) << error_;
  EXPECT_GE(H5Fclose(f), 0);
  EXPECT_EQ(ReadValue(path), 0) << "the fenced writer's unfinished session was not rolled back";
}

// Redis gone while a process waits: the open fails within its timeout with a
// clear error; it does not hang.
TEST_F(FailureTest, RedisDeathWhileWaitingFailsWithinTheTimeout) {
  const std::string path = MakeFile("gone.h5");
  Puppet holder(path, Config(), true);
  ASSERT_TRUE(holder.Opened());
  SharedArray<double> took(1);
  pid_t waiter = RunChild([&] {
    hid_t fapl = LockedFapl(Config(2, 3) + ";connect_timeout=0.5");
    double t0 = MonotonicSeconds();
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
    took[0] = MonotonicSeconds() - t0;
    std::string err = ErrorText();
    return f < 0 && err.find("gone.h5") != std::string::npos ? 0 : 1;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  redis_.Kill();
  EXPECT_EQ(WaitChild(waiter), 0);
  EXPECT_LT(took[0], 3 + 1.5);
  redis_.Start();
}

// fork() while holding: the child can neither write through the inherited
// file nor release the parent's lock; its own open waits like anyone's.
TEST_F(FailureTest, ForkedChildOwnsNothingOfItsParent) {
  const std::string path = MakeFile("fork.h5");
  hid_t fapl = LockedFapl(Config(2));
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
  ASSERT_GE(f, 0);
  pid_t child = RunChild([&] {
    int data[4] = {1, 2, 3, 4};
    if (WriteAll(f, "x", H5T_NATIVE_INT, data) && H5Fflush(f, H5F_SCOPE_LOCAL) >= 0) return 1;
    if (ErrorText().find("parent") == std::string::npos) return 2;
    hid_t own_fapl = LockedFapl(Config(2, 1));
    hid_t own = H5Fopen(path.c_str(), H5F_ACC_RDWR, own_fapl);
    if (own >= 0) return 3;  // the parent holds the lock
    if (ErrorText().find("pid " + std::to_string(getppid())) == std::string::npos) return 4;
    return 0;
  });
  EXPECT_EQ(WaitChild(child), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // past a lease: renewals still ours
  int data[4] = {5, 5, 5, 5};
  EXPECT_TRUE(WriteAll(f, "x", H5T_NATIVE_INT, data)) << ErrorText();
  EXPECT_GE(H5Fclose(f), 0) << ErrorText();
  H5Pclose(fapl);
  EXPECT_EQ(ReadValue(path), 5);
  EXPECT_EQ(redis_.Keys("h5redislock:*").size(), 0u);
}

// The seed's lock test made harder: 100 processes on one file, every 6th a
// writer, every 13th SIGTERMs itself and every 7th SIGKILLs itself while
// holding the lock. Everyone else finishes, killed writers' sessions are
// rolled back, and no lock state outlives the lease.
TEST_F(FailureTest, HundredProcessesSomeKillingThemselvesWhileHolding) {
  const std::string path = MakeFile("hardened.h5");
  const int kProcesses = 100;
  struct Record {
    double acquired = 0, killed = 0;
  };
  SharedArray<Record> records(kProcesses);
  std::vector<pid_t> children;
  int expected_writes = 0;
  for (int i = 0; i < kProcesses; ++i) {
    const bool writer = i % 6 == 0;
    const int suicide = i % 13 == 0 ? SIGTERM : (i % 7 == 0 ? SIGKILL : 0);
    if (writer && !suicide) ++expected_writes;
    children.push_back(RunChild([&, i, writer, suicide] {
      hid_t fapl = LockedFapl(Config(2, 60));
      H5File f(path, writer ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
      if (!f.ok()) return 1;
      records[i].acquired = MonotonicSeconds();
      int data[4] = {0, 0, 0, 0};
      if (!ReadAll(f.id(), "x", H5T_NATIVE_INT, data)) return 2;
      if (writer) {
        for (int& v : data) ++v;
        if (!WriteAll(f.id(), "x", H5T_NATIVE_INT, data) || H5Fflush(f.id(), H5F_SCOPE_LOCAL) < 0) return 3;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (suicide) {
        records[i].killed = MonotonicSeconds();
        kill(getpid(), suicide);
      }
      return f.Close() >= 0 ? 0 : 4;
    }));
  }
  for (int i = 0; i < kProcesses; ++i) {
    int status = WaitChild(children[i]);
    int suicide = i % 13 == 0 ? SIGTERM : (i % 7 == 0 ? SIGKILL : 0);
    EXPECT_EQ(status, suicide ? 128 + suicide : 0) << "process " << i;
  }
  // Recovery: from each kill to the next grant to anyone.
  double worst = 0, total = 0;
  int kills = 0;
  for (int i = 0; i < kProcesses; ++i) {
    if (records[i].killed == 0) continue;
    double next = 0;
    for (int j = 0; j < kProcesses; ++j)
      if (records[j].acquired > records[i].killed && (next == 0 || records[j].acquired < next)) next = records[j].acquired;
    if (next == 0) continue;  // nobody came after it
    double recovery = next - records[i].killed;
    worst = std::max(worst, recovery);
    total += recovery;
    ++kills;
  }
  std::printf("%d kills followed by a grant: recovery mean %.3f s, worst %.3f s\n", kills,
              kills ? total / kills : 0.0, worst);
  EXPECT_LT(worst, 1.0);
  EXPECT_EQ(ReadValue(path), expected_writes) << "killed writers' sessions must be rolled back, others kept";
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));  // one lease
  EXPECT_EQ(redis_.Keys("h5redislock:*").size(), 0u) << "lock state outlived the lease";
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
