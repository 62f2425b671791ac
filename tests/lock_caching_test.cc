// lock_caching_test.cc: a process keeps its lock for linger= seconds after
// the last close of a file, so that its next open costs no round trip
// (lock caching: lock/lock_table.h), and gives it up as soon as another
// process wants it. A cached lock is still a leased holder in Redis: killed
// or stopped, its process is reaped or fenced as any holder is, and a write
// session has committed at the close, whatever comes after it.
#include <gtest/gtest.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <chrono>
#include <memory>
#include <thread>

#include "hdf5_files.h"
#include "locked_file_test.h"
#include "puppet.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

class LockCachingTest : public OneServerTest {
 protected:
  static constexpr double kLinger = 30;  // longer than any test: only a revocation ends it

  std::string Config(double linger = kLinger, double lease = 2, double timeout = 30) const {
    return ServerConfig("retain=600;linger=" + std::to_string(linger) + ";lease=" + std::to_string(lease) +
                        ";timeout=" + std::to_string(timeout));
  }
  static std::string NameOf(const std::string& path) {
    char real[PATH_MAX];
    EXPECT_NE(realpath(path.c_str(), real), nullptr);
    return real;
  }
  // A puppet with `path` open (for writing if `write`) under a hold that its
  // last close caches, and that Redis shows as cached (see CycleUntilCached:
  // the mark is sent once per hold, and stays).
  std::unique_ptr<Puppet> WarmPuppet(const std::string& path, const std::string& config, bool write) {
    auto puppet = std::make_unique<Puppet>(path, config, write);
    EXPECT_TRUE(puppet->Opened()) << puppet->last_error();
    bool opened = true;  // by the puppet's start
    EXPECT_TRUE(CycleUntilCached(redis_, NameOf(path), [&] {
      if (!std::exchange(opened, false) && !puppet->Ask('o')) return false;
      return puppet->Ask('c');
    })) << puppet->last_error();
    EXPECT_TRUE(puppet->Ask('o')) << puppet->last_error();
    return puppet;
  }
  // Opens `path` with `config` and closes it until its lock is cached.
  void CacheHere(const std::string& path, const std::string& config, unsigned flags) {
    hid_t fapl = LockedFapl(config);
    EXPECT_TRUE(CycleUntilCached(redis_, NameOf(path), [&] { return H5File(path, flags, fapl).ok(); }))
        << ErrorText();
    H5Pclose(fapl);
  }
  long Holders(const std::string& path) const { return LockHolders(redis_, NameOf(path)); }
  long Acquisitions(const std::string& path) const {
    const std::string a = redis_.Command({"HGET", LockHash(NameOf(path)), "a"});
    return a == "(nil)" ? 0 : std::stol(a);
  }
  // The value of "x" as a reader sees it, and how long its open took.
  int ReadValue(const std::string& path, const std::string& config, double* open_s = nullptr) {
    hid_t fapl = LockedFapl(config);
    const double t0 = MonotonicSeconds();
    H5File f(path, H5F_ACC_RDONLY, fapl);
    if (open_s) *open_s = MonotonicSeconds() - t0;
    H5Pclose(fapl);
    int data[4] = {-1, -1, -1, -1};
    EXPECT_TRUE(f.ok() && ReadAll(f.id(), "x", H5T_NATIVE_INT, data)) << ErrorText();
    return data[0];
  }
  // Writes `value` in a child process of its own, which exits without
  // letting its lock go; how long its open took.
  double WriteInChild(const std::string& path, const std::string& config, int value) {
    SharedArray<double> took(1);
    pid_t writer = RunChild([&] {
      hid_t fapl = LockedFapl(config);
      const double t0 = MonotonicSeconds();
      H5File f(path, H5F_ACC_RDWR, fapl);
      took[0] = MonotonicSeconds() - t0;
      int data[4] = {value, value, value, value};
      return f.ok() && WriteAll(f.id(), "x", H5T_NATIVE_INT, data) && f.Close() >= 0 ? 0 : 1;
    });
    EXPECT_EQ(WaitChild(writer), 0);
    return took[0];
  }
};

// Twenty reopens within the linger: one acquisition in Redis, no FCALL after
// the first close's mark; H5close (a program's end) lets the lock go.
TEST_F(LockCachingTest, ReopensWithinTheLingerCostNoRoundTrip) {
  const std::string path = MakeFile("reopened.h5");
  auto reader = WarmPuppet(path, Config(), false);
  ASSERT_TRUE(reader->Ask('c'));
  EXPECT_EQ(Holders(path), 1) << "the lock is kept after the last close";
  const long calls = CommandCalls(redis_, "fcall"), acquisitions = Acquisitions(path);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(reader->Ask('o')) << reader->last_error();
    ASSERT_TRUE(reader->Ask('c'));
  }
  EXPECT_EQ(CommandCalls(redis_, "fcall"), calls) << "a cached reopen talked to Redis";
  EXPECT_EQ(Acquisitions(path), acquisitions) << "a cached reopen took the lock anew";
  ASSERT_TRUE(reader->Ask('h'));
  EXPECT_EQ(Holders(path), 0) << "H5close did not let the cached lock go";
}

// A writer's ACQUIRE tells the caching reader, which lets the lock go at
// once: the writer waits a few round trips, not the linger nor the lease
// (30 s each), nor the holder's next renewal (lease/3). The reader's next
// open revokes the writer's cached lock in turn, and sees its write.
TEST_F(LockCachingTest, CachedReaderIsRevokedByAWriterAtOnce) {
  const std::string path = MakeFile("revoked.h5");
  auto reader = WarmPuppet(path, Config(kLinger, 30), false);
  ASSERT_TRUE(reader->Ask('c'));
  const double took = WriteInChild(path, Config(kLinger, 30), 7);
  std::printf("the writer's open took %.3f s past a cached reader\n", took);
  EXPECT_LT(took, 1.0);
  ASSERT_TRUE(reader->Ask('o')) << reader->last_error();
  ASSERT_TRUE(reader->Ask('c'));
  // The writer's child exited without letting its cached lock go: the
  // reader's open reaped it, as a dead holder. The reader then holds it.
  EXPECT_EQ(ReadValue(path, Config(0)), 7) << "the reader missed the write";
}

// timeout=0 fails against a file in use, but a cached lock is no file in
// use: such an open revokes it and waits for the release (bounded: a second).
TEST_F(LockCachingTest, TimeoutZeroRevokesACachedLockRatherThanFail) {
  const std::string path = MakeFile("timeout-zero.h5");
  auto reader = WarmPuppet(path, Config(), false);
  ASSERT_TRUE(reader->Ask('c'));
  const double took = WriteInChild(path, Config(0, 2, 0), 9);
  EXPECT_LT(took, 1.0);
  // Against a reader whose file is open, timeout=0 still fails at once.
  ASSERT_TRUE(reader->Ask('o'));
  pid_t writer = RunChild([&] {
    hid_t fapl = LockedFapl(Config(0, 2, 0));
    H5File f(path, H5F_ACC_RDWR, fapl);
    return f.ok() ? 1 : 0;
  });
  EXPECT_EQ(WaitChild(writer), 0) << "a timeout=0 writer opened a file that another process has open";
}

// A caching holder killed during its linger is reaped as any killed holder
// (within a second, here with a 30 s lease), and its committed session
// stays: the commit was at the close.
TEST_F(LockCachingTest, KilledCachingWriterIsReapedAndItsCommitStays) {
  const std::string path = MakeFile("killed.h5");
  auto writer = WarmPuppet(path, Config(kLinger, 30), true);
  ASSERT_TRUE(writer->Ask('w'));  // 100
  ASSERT_TRUE(writer->Ask('c'));
  kill(writer->pid(), SIGKILL);
  EXPECT_EQ(writer->Wait(), 128 + SIGKILL);
  double took = 0;
  EXPECT_EQ(ReadValue(path, Config(0, 30), &took), 100) << "the committed session was rolled back";
  std::printf("a reader's open after the caching writer was killed took %.3f s\n", took);
  EXPECT_LT(took, 1.0);
}

// A second session of a cached write lock, cut by SIGKILL, rolls back to
// the end of the first: the first committed at its close.
TEST_F(LockCachingTest, KilledSecondSessionRollsBackToTheEndOfTheFirst) {
  const std::string path = MakeFile("second-session.h5");
  auto writer = WarmPuppet(path, Config(kLinger, 30), true);
  ASSERT_TRUE(writer->Ask('w'));  // 100: the first session
  ASSERT_TRUE(writer->Ask('c'));
  ASSERT_TRUE(writer->Ask('o'));
  ASSERT_TRUE(writer->Ask('w'));  // 101, flushed: the second session, unfinished
  kill(writer->pid(), SIGKILL);
  EXPECT_EQ(writer->Wait(), 128 + SIGKILL);
  EXPECT_EQ(ReadValue(path, Config(0, 30)), 100);
}

// A second session of a cached write lock that someone wants by its close
// commits at that close, and the lock goes: the first session's leftovers
// (its journal's removal, kept for when the lock is let go) do not undo it.
TEST_F(LockCachingTest, SecondSessionWantedByItsCloseCommitsAndLetsGo) {
  const std::string path = MakeFile("wanted-second.h5");
  auto writer = WarmPuppet(path, Config(kLinger, 30), true);
  ASSERT_TRUE(writer->Ask('w'));  // 100
  ASSERT_TRUE(writer->Ask('c'));
  ASSERT_TRUE(writer->Ask('o'));
  ASSERT_TRUE(writer->Ask('w'));  // 101
  SharedArray<int> seen(1);
  pid_t reader = RunChild([&] {
    seen[0] = ReadValue(path, Config(0, 30));
    return 0;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the reader waits: the lock is wanted
  EXPECT_TRUE(writer->Ask('c')) << writer->last_error();
  EXPECT_EQ(WaitChild(reader), 0);
  EXPECT_EQ(seen[0], 101);
}

// A caching holder stopped past its lease loses the lock as any holder does;
// continued, its next open does not take the lost lock from its cache.
TEST_F(LockCachingTest, StoppedCachingWriterIsFencedAndTakesTheLockAnew) {
  const std::string path = MakeFile("stopped.h5");
  auto writer = WarmPuppet(path, Config(kLinger, 2), true);
  ASSERT_TRUE(writer->Ask('w'));
  ASSERT_TRUE(writer->Ask('c'));
  const long acquisitions = Acquisitions(path);
  kill(writer->pid(), SIGSTOP);
  // It cannot hear the revocation: the waiter waits for its lease.
  const double took = WriteInChild(path, Config(0, 2), 5);
  std::printf("a writer's open past a stopped caching writer took %.3f s (lease 2 s)\n", took);
  EXPECT_GT(took, 1.0);
  EXPECT_LT(took, 4.0);
  kill(writer->pid(), SIGCONT);
  ASSERT_TRUE(writer->Ask('o')) << writer->last_error();
  // The waiting writer's acquisition, then the stopped writer's own anew.
  EXPECT_EQ(Acquisitions(path), acquisitions + 2) << "the stopped writer's reopen did not take the lock anew";
  ASSERT_TRUE(writer->Ask('c'));
}

// A process that reopens a file in a loop cannot keep a waiting writer out:
// a wanted lock is not cached at its last close, and the reopen queues
// behind the writer.
TEST_F(LockCachingTest, ReopeningInALoopDoesNotStarveAWaitingWriter) {
  const std::string path = MakeFile("loop.h5");
  SharedArray<long> reopens(1);
  SharedArray<int> stop(1);
  pid_t looper = RunChild([&] {
    hid_t fapl = LockedFapl(Config(kLinger, 30));
    while (!stop[0]) {
      H5File f(path, H5F_ACC_RDONLY, fapl);
      int data[4];
      if (!f.ok() || !ReadAll(f.id(), "x", H5T_NATIVE_INT, data)) return 1;
      ++reopens[0];
    }
    return 0;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double took = WriteInChild(path, Config(0, 2, 5), 3);
  const long before = reopens[0];
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop[0] = 1;
  EXPECT_EQ(WaitChild(looper), 0);
  std::printf("the writer waited %.3f s for a reader that reopened %ld times\n", took, before);
  EXPECT_LT(took, 1.0);
  EXPECT_GT(reopens[0], before) << "the reader did not go on after the writer";
}

// A process whose cached read lock is in the way of its own write open lets
// it go and takes the lock for writing: no upgrade error, as no handle is open.
TEST_F(LockCachingTest, OwnCachedReadLockGivesWayToAWriteOpen) {
  const std::string path = MakeFile("own.h5");
  CacheHere(path, Config(), H5F_ACC_RDONLY);
  const long acquisitions = Acquisitions(path);
  hid_t fapl = LockedFapl(Config());
  {
    H5File writer(path, H5F_ACC_RDWR, fapl);
    ASSERT_TRUE(writer.ok()) << ErrorText();
    int data[4] = {4, 4, 4, 4};
    EXPECT_TRUE(WriteAll(writer.id(), "x", H5T_NATIVE_INT, data));
  }
  H5Pclose(fapl);
  EXPECT_EQ(Acquisitions(path), acquisitions + 1) << "the write did not take the lock anew";
}

// A cached hold serves only opens on the terms it was taken on: a durable
// open does not write its session under a hold whose grant announced a
// journal that is not durable, and a linger=0 open does not leave the lock
// cached at its close.
TEST_F(LockCachingTest, CachedLockServesOnlyOpensOnItsOwnTerms) {
  const std::string path = MakeFile("terms.h5");
  const std::string plain = Config(), durable = plain + ";durable=1";
  auto open_and_close = [&](const std::string& config, unsigned flags) {
    hid_t fapl = LockedFapl(config);
    H5File f(path, flags, fapl);
    H5Pclose(fapl);
    ASSERT_TRUE(f.ok()) << ErrorText();
  };
  CacheHere(path, plain, H5F_ACC_RDWR);
  const long acquisitions = Acquisitions(path);
  open_and_close(durable, H5F_ACC_RDWR);
  EXPECT_EQ(Acquisitions(path), acquisitions + 1) << "a durable open reused a hold taken without durable=1";
  open_and_close(durable, H5F_ACC_RDWR);
  EXPECT_EQ(Acquisitions(path), acquisitions + 1) << "a hold was not reused on its own terms";
  open_and_close(Config(0), H5F_ACC_RDONLY);
  EXPECT_EQ(Acquisitions(path), acquisitions + 2) << "a linger=0 open reused a cached hold";
  EXPECT_EQ(Holders(path), 0) << "a linger=0 open left the lock cached";
}

// `h5redislock status` shows a cached lock for what it is.
TEST_F(LockCachingTest, StatusShowsACachedLock) {
  const std::string path = MakeFile("status.h5");
  auto reader = WarmPuppet(path, Config(), false);
  ASSERT_TRUE(reader->Ask('c'));
  const std::string command = std::string(H5REDISLOCK_CLI) + " status --url '" + redis_.url() + "' '" + path + "'";
  FILE* status = popen(command.c_str(), "r");
  ASSERT_NE(status, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, status)) > 0;) out.append(buf, n);
  EXPECT_EQ(pclose(status), 0) << out;
  EXPECT_NE(out.find("cached"), std::string::npos) << out;
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
