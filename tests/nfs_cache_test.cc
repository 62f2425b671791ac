// nfs_cache_test.cc: a dead write session's journal is rolled back, or the
// open refused, even where a client's name cache hides the journal.
//
// Two FUSE mounts of one directory (tests/mounts.h) stand in for two NFS
// client hosts: each trusts a lookup's answer, "no such file" too, for a
// minute, and reads data and attributes afresh on every open. A reader on
// "host 2" that looked for the journal a few times has "no journal" cached;
// a writer on "host 1" then dies in mid-session, its journal invisible from
// host 2. The lock's session mark (lock_protocol.cc, "Write sessions") tells
// host 2 a journal may exist: it refuses to open rather than read the dead
// session's writes, until host 1 (which sees the directory as the writer
// did) has settled it. The mark reaches a reader granted at once (ACQUIRE's
// reply) and one woken in its queue (the wake list). `h5redislock status`
// shows it, `h5redislock break --clear-session` clears it, and a writer that
// gives its grant back unused takes its mark with it.
//
// To watch them fail, let RedisLockFile::TakeLock ignore the grant's session
// mark (as before this test): host 2 reads the dead session's writes, and
// refuses nothing; or let GiveUp's LEAVE leave the mark ('d', not 'dc').
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "file_images.h"
#include "hdf5_files.h"
#include "locked_file_test.h"
#include "mounts.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

constexpr hsize_t kLength = 64 * 1024;

// What an open on one host made of the file.
enum Outcome { kReadOld = 10, kReadDeadWrites, kRefused, kFailed };

class SessionMarks : public OneServerTest {
 protected:
  ~SessionMarks() override { H5Pclose(fapl_); }

  // The lock's name is key=, as for hosts that mount the file at different
  // paths. Uncached (linger=0): the tests read the lock's state in Redis, and
  // what host 2 looked up, at each open and close.
  std::string Config(const std::string& more = "retain=0;timeout=20") const {
    return ServerConfig("key=shared;connect_timeout=1;linger=0;" + more);
  }
  std::string LockKey() const { return LockHash("shared"); }

  void MakeFile(const std::string& path) {
    ASSERT_TRUE(CreateFilledFile(path, fapl_, {"values"}, kLength, 1)) << ErrorText();
  }

  // Opens `path` for reading and tells what came of it; the error text, if
  // the open failed, in *error.
  Outcome Read(const std::string& path, std::string* error = nullptr) {
    H5File f(path, H5F_ACC_RDONLY, fapl_);
    if (!f.ok()) {
      const std::string text = ErrorText();
      if (error) *error = text;
      return text.find("not visible from this host") != std::string::npos ? kRefused : kFailed;
    }
    std::vector<int> values = ReadInts(f.id(), "values", kLength);
    if (values == std::vector<int>(kLength, 1)) return kReadOld;
    return values == std::vector<int>(kLength, 2) ? kReadDeadWrites : kFailed;
  }

  // A writer that overwrites every value with 2 and is killed before it
  // closes: its journal and its writes stay.
  pid_t KilledWriter(const std::string& path) {
    pid_t writer = RunChild([&] {
      H5File f(path, H5F_ACC_RDWR, fapl_);
      if (!f.ok() || !FillInts(f.id(), "values", kLength, 2)) return 1;
      kill(getpid(), SIGKILL);
      return 1;
    });
    EXPECT_EQ(WaitChild(writer), 128 + SIGKILL);
    return writer;
  }

  hid_t fapl_ = LockedFapl(Config());
};

// Host 1 and host 2: two caching mounts of the directory "server", whose
// names are trusted for `cache_seconds_`: by default as long as an NFS
// client's acdirmax.
class TwoHosts : public SessionMarks {
 protected:
  explicit TwoHosts(int cache_seconds = 60) : cache_seconds_(cache_seconds) {}

  void SetUp() override {
    if (!HaveCachingPassthrough()) GTEST_SKIP() << "no FUSE passthrough in this build (pkg-config found no fuse3)";
    std::string why;
    if (!EnterPrivateMountNamespace(&why)) GTEST_SKIP() << "needs a mount namespace of its own (root): " << why;
    for (const char* d : {"server", "host1", "host2"}) mkdir(dir_.File(d).c_str(), 0755);
    host1_ = std::make_unique<CachingMount>(dir_.File("server"), dir_.File("host1"), cache_seconds_);
    host2_ = std::make_unique<CachingMount>(dir_.File("server"), dir_.File("host2"), cache_seconds_);
    if (!host1_->ok()) GTEST_SKIP() << "cannot mount FUSE here: " << host1_->error();
    ASSERT_TRUE(host2_->ok()) << host2_->error();
    MakeFile(on1_);
    before_ = FileBytes(on_server_);
    // Host 2 reads a few times: its cache now holds "no journal".
    cached_from_ = MonotonicSeconds();
    for (int i = 0; i < 3; ++i) ASSERT_EQ(Read(on2_), kReadOld) << ErrorText();
    cached_until_ = MonotonicSeconds();
  }

  // The journal is on the server, and host 2's cache hides it: the fault is real.
  void ExpectHiddenFromHost2() {
    EXPECT_GE(FileSize(on_server_ + "-redislock-journal"), 0) << "the writer left no journal";
    EXPECT_EQ(FileSize(on2_ + "-redislock-journal"), -1) << "host 2 sees the journal: its cache hides nothing";
  }

  const int cache_seconds_;
  double cached_from_ = 0, cached_until_ = 0;  // when host 2 looked for the journal
  std::unique_ptr<CachingMount> host1_, host2_;  // unmounted before dir_ is removed
  const std::string on_server_ = dir_.File("server/data.h5");
  const std::string on1_ = dir_.File("host1/data.h5");
  const std::string on2_ = dir_.File("host2/data.h5");
  std::string before_;
};

TEST_F(TwoHosts, ReaderWhoseCacheHidesTheJournalRefusesUntilTheWritersHostRollsItBack) {
  const pid_t writer = KilledWriter(on1_);
  ExpectHiddenFromHost2();
  ASSERT_TRUE(FileBytes(on_server_) != before_) << "the killed session's writes did not reach the file";

  std::string error;
  EXPECT_EQ(Read(on2_, &error), kRefused) << "host 2 opened the file under a dead session's hidden journal\n"
                                          << error;
  EXPECT_NE(error.find("pid " + std::to_string(writer)), std::string::npos) << error;
  EXPECT_NE(error.find("--clear-session"), std::string::npos) << error;

  // Host 1 sees the directory as the writer did: it rolls the session back.
  EXPECT_EQ(Read(on1_), kReadOld) << ErrorText();
  EXPECT_TRUE(FileBytes(on_server_) == before_);
  EXPECT_EQ(FileSize(on_server_ + "-redislock-journal"), -1);
  EXPECT_EQ(Read(on2_), kReadOld) << ErrorText();
}

// Names cached for 8 s: once host 2's "no journal" has expired, host 2 sees
// the journal and rolls it back itself.
class ShortCache : public TwoHosts {
 protected:
  ShortCache() : TwoHosts(8) {}
};

TEST_F(ShortCache, HiddenJournalIsRolledBackOnceTheCacheExpires) {
  KilledWriter(on1_);
  ExpectHiddenFromHost2();
  ASSERT_LT(MonotonicSeconds() - cached_from_, cache_seconds_) << "too slow a machine for this test's cache";
  EXPECT_EQ(Read(on2_), kRefused) << ErrorText();
  std::this_thread::sleep_for(std::chrono::duration<double>(cached_until_ + cache_seconds_ + 1 - MonotonicSeconds()));
  EXPECT_EQ(Read(on2_), kReadOld) << ErrorText();
  EXPECT_TRUE(FileBytes(on_server_) == before_);
  EXPECT_EQ(FileSize(on_server_ + "-redislock-journal"), -1);
}

// The reader waits in the queue while the writer holds the lock; the writer
// is killed, the reader reaps it and is woken with the grant and the mark.
TEST_F(TwoHosts, WaiterWokenWithTheGrantGetsTheMark) {
  SharedArray<int> wrote(1);
  pid_t writer = RunChild([&] {
    H5File f(on1_, H5F_ACC_RDWR, fapl_);
    if (!f.ok() || !FillInts(f.id(), "values", kLength, 2)) return 1;
    wrote[0] = 1;
    pause();
    return 1;
  });
  while (!wrote[0]) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  pid_t reader = RunChild([&] { return Read(on2_); });
  const std::string queue = LockQueue("shared");
  for (int i = 0; i < 500 && redis_.Command({"ZCARD", queue}) != "1"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(redis_.Command({"ZCARD", queue}), "1") << "the reader did not queue";
  kill(writer, SIGKILL);
  EXPECT_EQ(WaitChild(writer), 128 + SIGKILL);
  ExpectHiddenFromHost2();
  EXPECT_EQ(WaitChild(reader), kRefused) << "(" << kReadDeadWrites << ": it read the dead session's writes)";
  EXPECT_EQ(Read(on1_), kReadOld) << ErrorText();
  EXPECT_TRUE(FileBytes(on_server_) == before_);
}

// A writer is granted the lock while stopped in its queue, and killed before
// it made its journal: there is none to find. Host 2 cannot tell that from a
// hidden one and refuses; host 1, which sees the directory as the writer did,
// knows the absence is real, clears the mark and reads.
TEST_F(TwoHosts, WriterKilledBeforeMakingItsJournalIsSettledFromItsOwnView) {
  SharedArray<int> holding(2);  // [0]: the first reader holds; [1]: it may close
  pid_t first = RunChild([&] {
    H5File f(on1_, H5F_ACC_RDONLY, fapl_);
    holding[0] = f.ok();
    while (!holding[1]) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return f.Close() >= 0 ? 0 : 1;
  });
  while (!holding[0]) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  pid_t writer = RunChild([&] {
    H5File f(on1_, H5F_ACC_RDWR, fapl_);
    return 1;
  });
  const std::string queue = LockQueue("shared");
  for (int i = 0; i < 500 && redis_.Command({"ZCARD", queue}) != "1"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(redis_.Command({"ZCARD", queue}), "1") << "the writer did not queue";
  kill(writer, SIGSTOP);
  holding[1] = 1;
  EXPECT_EQ(WaitChild(first), 0);
  ASSERT_EQ(redis_.Command({"HGET", LockKey(), "m"}), "w1") << "the stopped writer was not granted";
  kill(writer, SIGKILL);
  EXPECT_EQ(WaitChild(writer), 128 + SIGKILL);
  ASSERT_NE(redis_.Command({"HGET", LockKey(), "j"}), "(nil)") << "the writer's grant set no mark";
  ASSERT_EQ(FileSize(on_server_ + "-redislock-journal"), -1);

  EXPECT_EQ(Read(on2_), kRefused) << ErrorText();
  EXPECT_EQ(Read(on1_), kReadOld) << ErrorText();
  EXPECT_EQ(redis_.Command({"HGET", LockKey(), "j"}), "(nil)") << "host 1 did not clear the mark";
  EXPECT_EQ(Read(on2_), kReadOld) << ErrorText();
}

// The h5redislock command, with stdout and stderr, and its exit status.
int Cli(const std::string& args, std::string* out) {
  FILE* p = popen((std::string(H5REDISLOCK_CLI) + " " + args + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  out->clear();
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out->append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// On one host: the mark outlives the killed writer's entry and retain=0;
// `status` shows it; `break --clear-session` clears it, and the next open,
// without the mark, still finds the journal and rolls it back.
TEST_F(SessionMarks, StatusShowsTheMarkAndBreakClearsIt) {
  const std::string path = dir_.File("data.h5");
  MakeFile(path);
  const std::string before = FileBytes(path);
  const pid_t writer = KilledWriter(path);
  const std::string target = "--config '" + Config() + "' " + path;
  std::string out;
  ASSERT_EQ(Cli("status " + target, &out), 0) << out;
  EXPECT_NE(out.find("unfinished write session: pid " + std::to_string(writer)), std::string::npos) << out;
  ASSERT_EQ(Cli("status --json " + target, &out), 0) << out;
  EXPECT_NE(out.find("\"session\":{\"pid\":" + std::to_string(writer)), std::string::npos) << out;
  EXPECT_EQ(redis_.Command({"TTL", LockKey()}), "-1") << "a marked lock's state expires";

  ASSERT_EQ(Cli("break --clear-session --yes " + target, &out), 0) << out;
  EXPECT_NE(out.find("cleared the session mark of the write session of pid " + std::to_string(writer)),
            std::string::npos)
      << out;
  ASSERT_EQ(Cli("status " + target, &out), 0) << out;
  EXPECT_EQ(out.find("unfinished write session"), std::string::npos) << out;

  EXPECT_EQ(Read(path), kReadOld) << ErrorText();
  EXPECT_TRUE(FileBytes(path) == before) << "the journal was not rolled back";
  EXPECT_EQ(redis_.Command({"EXISTS", LockKey()}), "0") << "an idle lock's state outlived retain=0";
}

// A writer that cannot use its grant (here replicas=1, and the server has no
// replica to confirm it) gives it back: it made no journal, and the mark its
// grant set goes with it.
TEST_F(SessionMarks, WriterThatGivesItsGrantBackLeavesNoMark) {
  const std::string path = dir_.File("data.h5");
  MakeFile(path);
  const std::string acquired_before = redis_.Command({"HGET", LockKey(), "a"});
  // (retain=60 keeps the counters that show the grant.)
  hid_t unconfirmed = LockedFapl(Config("retain=60;timeout=1;replicas=1;replica_timeout=0.1"));
  {
    H5File writer(path, H5F_ACC_RDWR, unconfirmed);
    EXPECT_FALSE(writer.ok()) << "a grant no replica confirmed was used";
  }
  H5Pclose(unconfirmed);
  ASSERT_NE(redis_.Command({"HGET", LockKey(), "a"}), acquired_before) << "the writer was never granted";
  EXPECT_EQ(redis_.Command({"HGET", LockKey(), "j"}), "(nil)") << "an unused grant left its mark";
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
