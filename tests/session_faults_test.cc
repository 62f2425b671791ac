// session_faults_test.cc: a write session that meets a failing write is
// never committed half-way.
//
// A write fails (a file-size limit, a quota, a full disk, an I/O error), and
// the program closes the file as if nothing happened: HDF5 still calls the
// driver's close. That close must not commit: it rolls the session back, and
// fails with an error that names the file and the first failure. And a
// journal record that a full disk cut short must not be followed by others,
// which a rollback (stopping at the torn one) would never read.
//
// The faults are real: RLIMIT_FSIZE with SIGXFSZ ignored (writes past the
// limit fail with EFBIG) and a small tmpfs that fills up (ENOSPC), mounted in
// a mount namespace of the test's own (root only; the tests skip elsewhere).
//
// To watch them fail, make UndoJournal::Poison do nothing: the close then
// commits, the file differs from the one before and no longer opens
// ("truncated file"), and the write after a torn record succeeds. Without
// the ftruncate in UndoJournal::Save, the torn record stays in the journal.
// (At 5d4450e, before this test, all of them fail so.)
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>

#include "file_images.h"
#include "hdf5_files.h"
#include "locked_file_test.h"
#include "mounts.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

constexpr hsize_t kLength = 64 * 1024;  // int32 values per dataset: 256 KiB

// What a child saw, in memory it shares with the test.
struct Outcome {
  bool opened = false;
  bool overwrote = false;     // the session's first write succeeded
  bool write_failed = false;  // the fault struck
  bool later_write = false;   // a write after the fault succeeded
  int close_rc = 0;
  long long journal_before = -2, journal_after = -2;
  char error[65536] = {};
};

void KeepErrors(Outcome* out) {
  std::string text = ErrorText();
  std::strncpy(out->error, text.c_str(), sizeof out->error - 1);
}

// A dataset of 4 MiB, more than the room the faults leave: its write fails
// part-way.
bool WriteBigDataset(hid_t file) {
  hsize_t n = 1024 * 1024;
  hid_t space = H5Screate_simple(1, &n, nullptr);
  hid_t d = H5Dcreate2(file, "big", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Sclose(space);
  if (d < 0) return false;
  std::vector<int> values(n, 7);
  bool ok = H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0;
  H5Dclose(d);
  return ok;
}

enum class Fault { kFileSizeLimit, kFullFileSystem };

class SessionFaults : public OneServerTest {
 protected:
  ~SessionFaults() override {
    if (fapl_ >= 0) H5Pclose(fapl_);
  }

  // Puts the test's files on a tmpfs of `bytes`; false (the test skips) where
  // mounting is not allowed.
  bool OnSmallFileSystem(long long bytes) {
    std::string why;
    if (!EnterPrivateMountNamespace(&why)) {
      skip_reason_ = "needs a mount namespace of its own (root): " + why;
      return false;
    }
    tmpfs_ = std::make_unique<Tmpfs>(dir_.path(), bytes);
    skip_reason_ = tmpfs_->error();
    return tmpfs_->ok();
  }

  void UseConfig(const std::string& extra) {
    fapl_ = LockedFapl(ServerConfig("retain=0;timeout=30" + extra));
  }

  std::unique_ptr<Tmpfs> tmpfs_;  // unmounted before dir_ is removed
  std::string skip_reason_;
  hid_t fapl_ = H5I_INVALID_HID;
  const std::string path_ = dir_.File("data.h5");
};

class FailedWriteSession : public SessionFaults, public ::testing::WithParamInterface<std::tuple<Fault, bool>> {};

// The session overwrites a dataset, then fails to write a new one, and the
// program closes the file normally: the close fails, naming the file and the
// cause, and the file is the one before the session, byte for byte.
TEST_P(FailedWriteSession, NormalCloseRollsBackAndFails) {
  const auto [fault, durable] = GetParam();
  if (fault == Fault::kFullFileSystem && !OnSmallFileSystem(2 << 20)) GTEST_SKIP() << skip_reason_;
  UseConfig(durable ? ";durable=1" : "");
  ASSERT_TRUE(CreateFilledFile(path_, fapl_, {"old"}, kLength, 1)) << ErrorText();
  const std::string before = FileBytes(path_);
  SharedArray<Outcome> out(1);
  pid_t writer = RunChild([&] {
    if (fault == Fault::kFileSizeLimit) {
      signal(SIGXFSZ, SIG_IGN);
      const rlim_t limit = before.size() + (1 << 20);
      rlimit lim{limit, limit};
      setrlimit(RLIMIT_FSIZE, &lim);
    }
    H5File f(path_, H5F_ACC_RDWR, fapl_);
    out[0].opened = f.ok();
    if (!f.ok()) return 1;
    out[0].overwrote = FillInts(f.id(), "old", kLength, 2);
    out[0].write_failed = !WriteBigDataset(f.id());
    H5Eclear2(H5E_DEFAULT);
    out[0].close_rc = f.Close();
    KeepErrors(&out[0]);
    return 0;
  });
  ASSERT_EQ(WaitChild(writer), 0);
  ASSERT_TRUE(out[0].opened && out[0].overwrote);
  ASSERT_TRUE(out[0].write_failed) << "the fault did not strike";

  EXPECT_LT(out[0].close_rc, 0) << "the close of a failed session succeeded";
  const std::string error = out[0].error;
  const char* cause = std::strerror(fault == Fault::kFileSizeLimit ? EFBIG : ENOSPC);
  EXPECT_NE(error.find(path_), std::string::npos) << error;
  EXPECT_NE(error.find(cause), std::string::npos) << "the error does not say '" << cause << "':\n" << error;
  EXPECT_NE(error.find("as it was before the session"), std::string::npos) << error;

  EXPECT_TRUE(FileBytes(path_) == before) << "the failed session was committed (in part)";
  EXPECT_EQ(FileSize(path_ + "-redislock-journal"), -1) << "the rolled-back session left its journal";
  H5File reader(path_, H5F_ACC_RDONLY, fapl_);
  ASSERT_TRUE(reader.ok()) << ErrorText();
  EXPECT_EQ(ReadInts(reader.id(), "old", kLength), std::vector<int>(kLength, 1));
}

INSTANTIATE_TEST_SUITE_P(Faults, FailedWriteSession,
                         ::testing::Combine(::testing::Values(Fault::kFileSizeLimit, Fault::kFullFileSystem),
                                            ::testing::Bool()),
                         [](const ::testing::TestParamInfo<std::tuple<Fault, bool>>& test) {
                           return std::string(std::get<0>(test.param) == Fault::kFileSizeLimit ? "FileSizeLimit"
                                                                                               : "FullFileSystem") +
                                  (std::get<1>(test.param) ? "Durable" : "");
                         });

// The disk fills up while the journal saves the old bytes of an overwrite, so
// the record is cut short; space comes back, and the session writes again;
// then its process is killed. The torn record is cut off the journal, the
// session refuses every later write, and the rollback restores the file.
TEST_F(SessionFaults, TornJournalRecordIsCutOffAndEndsTheSession) {
  if (!OnSmallFileSystem(4 << 20)) GTEST_SKIP() << skip_reason_;
  UseConfig("");
  const hsize_t length = 2 * kLength;  // 512 KiB per dataset
  ASSERT_TRUE(CreateFilledFile(path_, fapl_, {"a", "b"}, length, 1)) << ErrorText();
  const std::string before = FileBytes(path_), journal = path_ + "-redislock-journal";
  SharedArray<Outcome> out(1);
  pid_t writer = RunChild([&] {
    H5File f(path_, H5F_ACC_RDWR, fapl_);
    out[0].opened = f.ok();
    out[0].journal_before = FileSize(journal);
    const std::string filler = dir_.File("filler");
    if (!f.ok() || !FillFileSystem(filler, 64 * 1024)) return 1;
    out[0].write_failed = !FillInts(f.id(), "a", length, 2);  // its 512 KiB record does not fit
    out[0].journal_after = FileSize(journal);
    unlink(filler.c_str());
    hid_t b = H5Dopen2(f.id(), "b", H5P_DEFAULT);
    std::vector<int> values(length, 3);
    out[0].later_write = H5Dwrite(b, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0;
    KeepErrors(&out[0]);
    kill(getpid(), SIGKILL);
    return 1;
  });
  ASSERT_EQ(WaitChild(writer), 128 + SIGKILL);
  ASSERT_TRUE(out[0].opened);
  ASSERT_TRUE(out[0].write_failed) << "the disk did not fill up";
  EXPECT_EQ(out[0].journal_after, out[0].journal_before) << "the torn record was left in the journal";
  EXPECT_FALSE(out[0].later_write) << "a session whose journal failed went on writing";
  EXPECT_NE(std::string(out[0].error).find(std::strerror(ENOSPC)), std::string::npos)
      << "the refusal does not name the first failure:\n"
      << out[0].error;

  H5File reader(path_, H5F_ACC_RDONLY, fapl_);
  ASSERT_TRUE(reader.ok()) << ErrorText();
  EXPECT_TRUE(FileBytes(path_) == before) << "the rollback missed a write of the killed session";
  EXPECT_EQ(ReadInts(reader.id(), "b", length), std::vector<int>(length, 1));
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
