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
// away and then deletes it all (Janitor, in tests/test_network.h).
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

#include "hdf5_files.h"
#include "polling.h"
#include "test_network.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

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
class MultiHostTest : public NetworkTest, public ::testing::WithParamInterface<const char*> {
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
    NetworkTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;

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
  std::string path_;
};

TEST_P(MultiHostTest, CutOffWriterIsFencedAndTheFileStaysWhole) {
  SharedArray<HostLog> logs(2);
  HostLog& a = logs[0];
  HostLog& b = logs[1];
  std::vector<pid_t> children;
  Reaper reaper{children};

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
