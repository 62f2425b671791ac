// recovery_test.cc: whoever takes the lock after a write session died rolls
// the session back before anyone reads, whatever its own configuration says,
// and within its own timeout.
//
// journal= and inner= only decide whether a session keeps a journal of its
// own: a journal=off (or inner=stdio) reader must not read a killed session's
// uncommitted writes, and a journal=off writer's acknowledged work must not be
// rolled back later by a default open that finds the dead session's journal.
// A reader that finds a journal trades its shared lock for the exclusive one
// to roll it back; all its acquisitions together wait at most its timeout.
//
// To watch them fail: let RedisLockFile::TakeLock skip recovery when the
// configuration keeps no journal (as before this test: the reader reads the
// dead session's values, and the last open finds the first values back), or
// give each of its acquisitions the whole timeout (the reader returns after
// the writer's hold plus a whole timeout).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include "file_images.h"
#include "hdf5_files.h"
#include "lock/config.h"
#include "lock/lock_table.h"
#include "locked_file_test.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

constexpr hsize_t kLength = 64 * 1024;

class Recovery : public OneServerTest {
 protected:
  Recovery() {
    // HDF5 finds a driver by name only once it is registered.
    (void)H5FD_STDIO;
  }
  ~Recovery() override { H5Pclose(default_fapl_); }

  std::string Config(const std::string& extra = "", int timeout = 30) const {
    return ServerConfig("key=recovery;retain=0;connect_timeout=1;timeout=" + std::to_string(timeout) + extra);
  }

  // A default (journaled) session overwrites every value with `value` and is
  // killed before it closes: the file holds its uncommitted writes.
  void KillWriterMidSession(int value) {
    pid_t writer = RunChild([&] {
      H5File f(path_, H5F_ACC_RDWR, default_fapl_);
      if (!f.ok() || !FillInts(f.id(), "values", kLength, value)) return 1;
      kill(getpid(), SIGKILL);
      return 1;
    });
    ASSERT_EQ(WaitChild(writer), 128 + SIGKILL);
    ASSERT_TRUE(FileBytes(path_) != before_) << "the killed session's writes did not reach the file";
  }

  const std::string path_ = dir_.File("data.h5");
  hid_t default_fapl_ = LockedFapl(Config());
  std::string before_;
};

class MixedConfigurations : public Recovery, public ::testing::WithParamInterface<const char*> {};

TEST_P(MixedConfigurations, NoSessionReadsOrUndoesAnother) {
  ASSERT_TRUE(CreateFilledFile(path_, default_fapl_, {"values"}, kLength, 1)) << ErrorText();
  before_ = FileBytes(path_);
  KillWriterMidSession(2);
  hid_t other = LockedFapl(Config(GetParam()));
  {
    H5File reader(path_, H5F_ACC_RDONLY, other);
    ASSERT_TRUE(reader.ok()) << ErrorText();
    EXPECT_EQ(ReadInts(reader.id(), "values", kLength), std::vector<int>(kLength, 1))
        << GetParam() << ": a reader read a killed session's uncommitted writes";
  }
  EXPECT_EQ(FileSize(path_ + "-redislock-journal"), -1) << "the killed session's journal is still there";
  {
    H5File writer(path_, H5F_ACC_RDWR, other);
    ASSERT_TRUE(writer.ok()) << ErrorText();
    ASSERT_TRUE(FillInts(writer.id(), "values", kLength, 5));
    ASSERT_GE(writer.Close(), 0) << ErrorText();
  }
  H5File last(path_, H5F_ACC_RDONLY, default_fapl_);
  ASSERT_TRUE(last.ok()) << "the file no longer opens: " << ErrorText();
  EXPECT_EQ(ReadInts(last.id(), "values", kLength), std::vector<int>(kLength, 5))
      << GetParam() << ": acknowledged writes were rolled back by a later open";
  H5Pclose(other);
}

INSTANTIATE_TEST_SUITE_P(Other, MixedConfigurations, ::testing::Values(";journal=off", ";inner=stdio"),
                         [](const ::testing::TestParamInfo<const char*>& test) {
                           return std::string(test.param[1] == 'j' ? "JournalOff" : "InnerStdio");
                         });

// A reader waits behind a writer, is granted together with another reader,
// finds the journal of a killed session, and needs the exclusive lock to roll
// it back, which the other reader keeps: it gives up when its one timeout is
// spent, not a whole timeout after the writer left.
TEST_F(Recovery, ReaderThatFindsAJournalReturnsWithinItsTimeout) {
  ASSERT_TRUE(CreateFilledFile(path_, default_fapl_, {"values"}, kLength, 1)) << ErrorText();
  before_ = FileBytes(path_);
  KillWriterMidSession(2);
  h5redislock::Config raw;
  ASSERT_TRUE(ParseConfig(Config(), &raw).ok());
  SharedArray<int> granted(2);
  // Holders that take the lock without the driver, so without looking for
  // journals: a writer for 3.5 s, then a reader for long.
  pid_t writer = RunChild([&] {
    std::shared_ptr<HeldLock> held;
    if (!LockTable::ForThisProcess().Acquire(raw, "recovery", LockMode::kWrite, path_, &held).ok()) return 1;
    granted[0] = 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(3500));
    return LockTable::ForThisProcess().Release(held).ok() ? 0 : 1;
  });
  while (!granted[0]) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  pid_t other_reader = RunChild([&] {
    std::shared_ptr<HeldLock> held;
    if (!LockTable::ForThisProcess().Acquire(raw, "recovery", LockMode::kRead, path_, &held).ok()) return 1;
    granted[1] = 1;
    std::this_thread::sleep_for(std::chrono::seconds(60));
    return 0;
  });
  const std::string queue = LockQueue("recovery");
  for (int i = 0; i < 500 && redis_.Command({"ZCARD", queue}) != "1"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(redis_.Command({"ZCARD", queue}), "1") << "the other reader did not queue";

  const double kTimeout = 4, kConnectTimeout = 1, kSlack = 0.5;
  hid_t fapl = LockedFapl(Config("", kTimeout));
  const double t0 = MonotonicSeconds();
  H5File reader(path_, H5F_ACC_RDONLY, fapl);
  const double took = MonotonicSeconds() - t0;
  const std::string error = ErrorText();
  EXPECT_TRUE(granted[1]) << "the other reader was not granted";
  EXPECT_FALSE(reader.ok()) << "the reader got in although the journal could not be rolled back";
  EXPECT_NE(error.find("timed out"), std::string::npos) << error;
  EXPECT_LE(took, kTimeout + kConnectTimeout + kSlack) << "timeout=4 but the open took " << took << " s";
  std::printf("timeout=4: the reader gave up after %.2f s\n", took);
  kill(other_reader, SIGKILL);
  WaitChild(other_reader);
  EXPECT_EQ(WaitChild(writer), 0);
  H5Pclose(fapl);
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
