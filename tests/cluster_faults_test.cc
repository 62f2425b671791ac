// cluster_faults_test.cc: faults of one server among several, on a Redis
// Cluster and a Sentinel set-up started by the test.
//
//  - A master that hangs (SIGSTOP, longer than a lease) costs the locks it
//    serves and no others: a process that holds a file on another master
//    goes on writing without a single refusal, and its entry there stays
//    alive. (Before each master had a lane of its own in the lease keeper,
//    the renewal round waited for the hung master for two command timeouts
//    and the healthy lock's lease ran out.)
//  - A master with fewer connected replicas than replicas= asks for cannot
//    confirm a grant: the open fails at once, naming the file, the master,
//    its replicas and the setting to change, instead of waiting its whole
//    timeout. A replica that is connected but slow to confirm is waited for.
//
// To watch the first fail, make LeaseKeeper renew every master in one round
// again (join the lanes); for the second, let CheckWaitReply (router.cc)
// return its Unavailable error without reading INFO: the opens then take
// their whole timeout.
#include <gtest/gtest.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "cluster_fixture.h"
#include "hdf5_files.h"
#include "lock/lock_keys.h"
#include "locked_file_test.h"
#include "sentinel_fixture.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

constexpr char kPrefix[] = "h5redislock:";

// Stops a server with SIGSTOP; SIGCONT when asked, or at the latest when it
// goes (a stopped server would not stop when the fixture asks it to).
class Frozen {
 public:
  explicit Frozen(RedisServer& server) : pid_(server.pid()) { kill(pid_, SIGSTOP); }
  ~Frozen() { Thaw(); }
  void Thaw() {
    if (pid_ > 0) kill(pid_, SIGCONT);
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

// Waits until `master` counts `n` connected replicas.
void WaitForReplicas(const RedisServer& master, int n) {
  const std::string wanted = "connected_slaves:" + std::to_string(n) + "\r";
  for (const double give_up = MonotonicSeconds() + 30; MonotonicSeconds() < give_up;) {
    if (master.Command({"INFO", "replication"}).find(wanted) != std::string::npos) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL() << "the master never had " << n << " connected replicas";
}

// What the two-file writer tells the test, in memory they share.
enum Shared { kOpened, kStop, kWrittenA, kRefusedA, kWrittenB, kRefusedB, kClosedA, kSharedSize };

class ClusterFaultsTest : public LockedFileTest {
 protected:

  bool Create(const std::string& path, const std::string& config) { return CreateLockedFile(path, config, &error_); }
  // The lock of `name` in the test's directory (which need not exist yet).
  LockKeys KeysOf(const std::string& name) const {
    char real[PATH_MAX];
    EXPECT_NE(realpath(dir_.path().c_str(), real), nullptr);
    return LockKeys(kPrefix, std::string(real) + "/" + name);
  }

  // Opens (creates) `name` through a master that has `connected` of the
  // `asked` replicas: it must fail within a second or two, long before its
  // timeout, saying why and what to change, and leave no entry behind.
  void ExpectTooFewReplicas(const std::string& name, const std::string& config, const RedisServer& master,
                            int connected, int asked) {
    const double started = MonotonicSeconds();
    EXPECT_FALSE(Create(dir_.File(name), config));
    const double took = MonotonicSeconds() - started;
    std::printf("the open failed after %.3f s:\n%s\n", took, error_.c_str());
    EXPECT_LT(took, 2.0) << error_;
    const std::string expected[] = {
        name, "127.0.0.1:" + std::to_string(master.port()),
        std::to_string(connected) + " of the " + std::to_string(asked) + " replicas asked for",
        "replicas=" + std::to_string(connected), "more replicas"};
    for (const std::string& part : expected)
      EXPECT_NE(error_.find(part), std::string::npos) << part << " not in " << error_;
    EXPECT_EQ(LockLeaseLeftMs(master, KeysOf(name)), -1) << "the failed open left its entry";
  }

  // One process opens `a` and `b` and writes each in turn, every 20 ms, until
  // the test sets kStop; then closes `a` (kClosedA: whether that succeeded).
  pid_t StartTwoFileWriter(const std::string& a, const std::string& b, const std::string& config) {
    return RunChild([&] {
      hid_t fapl = LockedFapl(config);
      hid_t files[2] = {H5Fopen(a.c_str(), H5F_ACC_RDWR, fapl), H5Fopen(b.c_str(), H5F_ACC_RDWR, fapl)};
      H5Pclose(fapl);
      if (files[0] < 0 || files[1] < 0) {
        Note(ErrorText());
        shared_[kOpened] = -1;
        return 1;
      }
      shared_[kOpened] = 1;
      for (int value = 0; !shared_[kStop]; ++value) {
        for (int i = 0; i < 2; ++i) {
          const int data[4] = {value, value, value, value};
          const bool ok = WriteAll(files[i], "x", H5T_NATIVE_INT, data) && H5Fflush(files[i], H5F_SCOPE_LOCAL) >= 0;
          ++shared_[i == 0 ? (ok ? kWrittenA : kRefusedA) : (ok ? kWrittenB : kRefusedB)];
          if (!ok && i == 0 && shared_[kRefusedA] == 1) Note(ErrorText());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      shared_[kClosedA] = H5Fclose(files[0]) >= 0;
      H5Fclose(files[1]);
      return 0;
    });
  }
  // The first refusal the writer met, for the failure message.
  void Note(const std::string& text) {
    const size_t n = std::min(text.size(), note_.size() - 1);
    std::copy(text.c_str(), text.c_str() + n, &note_[0]);
    note_[n] = '\0';
  }

  SharedArray<std::atomic<int>> shared_{kSharedSize};
  SharedArray<char> note_{8192};
};

TEST_F(ClusterFaultsTest, HungMasterDelaysNoOtherMastersRenewals) {
  LocalCluster cluster(3, 0);
  // The other masters go on serving their slots while one is down (as they
  // do while a hung master is not yet declared failed, cluster-node-timeout,
  // 15 s by default; the fixture's is 1 s).
  for (size_t i = 0; i < cluster.size(); ++i)
    cluster.node(i).Command({"CONFIG", "SET", "cluster-require-full-coverage", "no"});
  const double lease = 3;  // connect_timeout stays 5 s: longer than the lease
  const std::string config = "url=" + cluster.url() + ";lease=3;timeout=10;replicas=0";
  const std::string a = dir_.File("healthy.h5");
  ASSERT_TRUE(Create(a, config)) << error_;
  const LockKeys keys_a = KeysOf("healthy.h5");
  const size_t healthy = cluster.MasterOf(keys_a.slot());
  std::string b;
  for (int i = 0; b.empty(); ++i) {
    const std::string name = "hung-" + std::to_string(i) + ".h5";
    if (cluster.MasterOf(KeysOf(name).slot()) != healthy) b = dir_.File(name);
  }
  ASSERT_TRUE(Create(b, config)) << error_;
  const size_t hung = cluster.MasterOf(KeysOf(b.substr(b.rfind('/') + 1)).slot());

  const pid_t writer = StartTwoFileWriter(a, b, config);
  for (double give_up = MonotonicSeconds() + 30; shared_[kOpened] == 0 && MonotonicSeconds() < give_up;)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(shared_[kOpened], 1) << &note_[0];
  std::this_thread::sleep_for(std::chrono::seconds(1));

  // Two leases: the hung master's lock is lost; the healthy one's entry is
  // renewed all along.
  long long least_left_ms = LLONG_MAX;
  {
    Frozen frozen(cluster.node(hung));
    for (const double thaw = MonotonicSeconds() + 2 * lease; MonotonicSeconds() < thaw;) {
      least_left_ms = std::min(least_left_ms, LockLeaseLeftMs(cluster.node(healthy), keys_a));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  shared_[kStop] = 1;
  EXPECT_EQ(WaitChild(writer), 0) << &note_[0];

  std::printf("healthy file: %d writes, %d refused; hung file: %d writes, %d refused; least lease left %lld ms\n",
              shared_[kWrittenA].load(), shared_[kRefusedA].load(), shared_[kWrittenB].load(),
              shared_[kRefusedB].load(), least_left_ms);
  EXPECT_EQ(shared_[kRefusedA], 0) << "the lock on the healthy master was fenced:\n" << &note_[0];
  EXPECT_GT(shared_[kWrittenA], 100);
  EXPECT_GT(least_left_ms, 0) << "the entry on the healthy master expired";
  EXPECT_EQ(shared_[kClosedA], 1) << "closing the healthy file failed (its lock was lost)";
  // The fault was real: the hung master's lease ran out and its holder stopped.
  EXPECT_GT(shared_[kRefusedB], 0);
}

// replicas=1 is the default on a cluster; a cluster without replicas cannot
// confirm a grant.
TEST_F(ClusterFaultsTest, MasterWithoutReplicasFailsTheOpenAtOnce) {
  LocalCluster cluster(3, 0);
  const size_t master = cluster.MasterOf(KeysOf("alone.h5").slot());
  ExpectTooFewReplicas("alone.h5", "url=" + cluster.url() + ";timeout=60", cluster.node(master), 0, 1);
}

// The Sentinels' master lost its replica: opens fail at once until it is back.
TEST_F(ClusterFaultsTest, SentinelMasterWhoseReplicaStoppedFailsTheOpenAtOnce) {
  LocalSentinels sentinels(1);
  const std::string config = "url=" + sentinels.url() + ";timeout=60";
  RedisServer& master = sentinels.server(sentinels.master());
  RedisServer& replica = sentinels.server(1 - sentinels.master());
  replica.Stop();
  WaitForReplicas(master, 0);
  ExpectTooFewReplicas("alone.h5", config, master, 0, 1);

  replica.Start();
  WaitForReplicas(master, 1);
  EXPECT_TRUE(Create(dir_.File("alone.h5"), config)) << error_;
}

// A replica that is connected but does not confirm (stopped: its master
// counts it until repl-timeout) may yet confirm: the open waits for it
// within its timeout, as for a replica resyncing after a failover.
TEST_F(ClusterFaultsTest, ReplicaSlowToConfirmIsWaitedFor) {
  LocalSentinels sentinels(1);
  const std::string config = "url=" + sentinels.url() + ";timeout=30";
  pid_t opener;
  {
    Frozen frozen(sentinels.server(1 - sentinels.master()));
    opener = RunChild([&] {
      if (Create(dir_.File("patient.h5"), config)) return 0;
      std::fprintf(stderr, "%s", error_.c_str());
      return 1;
    });
    std::this_thread::sleep_for(std::chrono::seconds(2));
    ASSERT_EQ(waitpid(opener, nullptr, WNOHANG), 0) << "the open ended while the replica was only stopped";
  }
  EXPECT_EQ(WaitChild(opener), 0);
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
