// durable_order_test.cc: with durable=1, a write session's journal is on
// disk, under its name, before any write of the session reaches the file.
//
// Otherwise a power loss can keep the session's first writes and lose the
// journal that undoes them: a partial HDF5 file and no journal. The file
// system is a FUSE passthrough (tests/mounts.h) that logs the operations it
// serves, in order: the journal's fsync and the directory's must both come
// before the first write to the data file. Two sessions whose first writes
// are appends, which need no undo record (a rollback truncates them): one on
// a file that was empty when it began, one on an HDF5 file.
//
// To watch them fail, make UndoJournal::Begin skip its syncs (as before this
// test, when the journal was made at the first write: then an empty file's
// appends came before any sync of the journal, and nothing ever synced the
// directory that names it). The cached lock's test fails if
// UndoJournal::Settle skips the file's fsync, or Restart the header's.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "file_images.h"
#include "hdf5_files.h"
#include "locked_file_test.h"
#include "mounts.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

class DurableOrder : public OneServerTest {
 protected:
  void SetUp() override {
    if (!HaveCachingPassthrough()) GTEST_SKIP() << "no FUSE passthrough in this build (pkg-config found no fuse3)";
    std::string why;
    if (!EnterPrivateMountNamespace(&why)) GTEST_SKIP() << "needs a mount namespace of its own (root): " << why;
    for (const char* d : {"disk", "mount"}) mkdir(dir_.File(d).c_str(), 0755);
    mount_ = std::make_unique<CachingMount>(dir_.File("disk"), dir_.File("mount"), 0, log_);
    if (!mount_->ok()) GTEST_SKIP() << "cannot mount FUSE here: " << mount_->error();
    // Uncached (linger=0): each session's open makes its journal, within the
    // operations a test looks at (a cached lock's next journal is begun, and
    // synced, at the close before: the last test).
    fapl_ = LockedFapl(ServerConfig("retain=0;linger=0;timeout=20;durable=1"));
  }
  ~DurableOrder() override {
    if (fapl_ >= 0) H5Pclose(fapl_);
  }

  // The operations served since the log was last read.
  std::vector<std::string> Operations() {
    std::ifstream in(log_);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::vector<std::string> fresh(lines.begin() + static_cast<long>(std::min(seen_, lines.size())), lines.end());
    seen_ = lines.size();
    return fresh;
  }

  // The first of `ops` at or after `from` that is one of `wanted`: an
  // operation and its path ("fsync /data.h5"), whatever follows them
  // ("write /data.h5" is "write /data.h5 4096 96"); -1 if none.
  static long Find(const std::vector<std::string>& ops, std::initializer_list<const char*> wanted, long from = 0) {
    for (size_t i = static_cast<size_t>(std::max(from, 0L)); i < ops.size(); ++i)
      for (const std::string op : wanted)
        if (ops[i] == op || ops[i].rfind(op + ' ', 0) == 0) return static_cast<long>(i);
    return -1;
  }
  // `ops`, a line each, for a failure's message.
  static std::string Listed(const std::vector<std::string>& ops) {
    std::string all;
    for (const auto& op : ops) all += "  " + op + "\n";
    return all;
  }

  // The journal's fsync and its directory's come before the first change
  // (a write, or a truncation that may extend it) to the data file, and
  // there is such a change.
  void ExpectSyncedBeforeFirstWrite(const std::vector<std::string>& ops) {
    const long write = Find(ops, {"write /data.h5", "truncate /data.h5"}),
               journal = Find(ops, {"fsync /data.h5-redislock-journal"}), directory = Find(ops, {"fsyncdir /"});
    const std::string all = Listed(ops);
    ASSERT_GE(write, 0) << "the session wrote nothing:\n" << all;
    EXPECT_TRUE(journal >= 0 && journal < write) << "the file changed before the journal was synced:\n" << all;
    EXPECT_TRUE(directory >= 0 && directory < write) << "the file changed before the journal's name was synced:\n"
                                                     << all;
  }

  const std::string log_ = dir_.File("operations");
  std::unique_ptr<CachingMount> mount_;  // unmounted before dir_ is removed
  hid_t fapl_ = H5I_INVALID_HID;
  size_t seen_ = 0;
};

TEST_F(DurableOrder, AppendsToAnEmptyFileComeAfterTheJournalIsSynced) {
  close(open(dir_.File("disk/data.h5").c_str(), O_WRONLY | O_CREAT, 0644));
  Operations();
  ASSERT_TRUE(CreateFilledFile(dir_.File("mount/data.h5"), fapl_, {"values"}, 1024, 1)) << ErrorText();
  ExpectSyncedBeforeFirstWrite(Operations());
}

TEST_F(DurableOrder, AppendsToAnHdf5FileComeAfterTheJournalIsSynced) {
  const std::string path = dir_.File("mount/data.h5");
  ASSERT_TRUE(CreateFilledFile(path, fapl_, {"values"}, 1024, 1)) << ErrorText();
  Operations();
  H5File f(path, H5F_ACC_RDWR, fapl_);
  ASSERT_TRUE(f.ok()) << ErrorText();
  hsize_t n = 4096;
  hid_t space = H5Screate_simple(1, &n, nullptr);
  hid_t d = H5Dcreate2(f.id(), "more", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<int> values(n, 2);
  ASSERT_GE(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  H5Dclose(d);
  H5Sclose(space);
  ASSERT_GE(f.Close(), 0) << ErrorText();
  ExpectSyncedBeforeFirstWrite(Operations());
}

// A cached write lock's next session begins at the close of the one before
// (UndoJournal::Restart): the file is synced (the commit), then the next
// session's header, which says how long the file is, goes over the old one
// in place and is synced before the old records are cut off. Else a crash
// could leave the old header without its records, or the next session's
// appends with a header that does not know them.
TEST_F(DurableOrder, ACachedWriteLocksNextSessionIsOnDiskBeforeTheOldOneIsCutOff) {
  const std::string path = dir_.File("mount/data.h5");
  ASSERT_TRUE(CreateFilledFile(path, fapl_, {"values"}, 1024, 1)) << ErrorText();
  hid_t cached = LockedFapl(ServerConfig("retain=0;linger=30;timeout=20;durable=1"));
  char name[PATH_MAX];
  ASSERT_NE(realpath(path.c_str(), name), nullptr);
  ASSERT_TRUE(CycleUntilCached(redis_, name, [&] { return H5File(path, H5F_ACC_RDWR, cached).ok(); }))
      << ErrorText();
  {
    H5File f(path, H5F_ACC_RDWR, cached);
    ASSERT_TRUE(f.ok()) << ErrorText();
    const std::vector<int> values(1024, 3);
    ASSERT_TRUE(WriteAll(f.id(), "values", H5T_NATIVE_INT, values.data())) << ErrorText();
    Operations();
    ASSERT_GE(f.Close(), 0) << ErrorText();
  }
  H5Pclose(cached);
  const std::vector<std::string> ops = Operations();
  const std::string all = Listed(ops);
  const long header = Find(ops, {"write /data.h5-redislock-journal 0"});
  ASSERT_GE(header, 0) << "no next session's header was written:\n" << all;
  long last_write = -1;  // of the session, to the file
  for (long i = Find(ops, {"write /data.h5"}); i >= 0 && i < header; i = Find(ops, {"write /data.h5"}, i + 1))
    last_write = i;
  const long data_synced = Find(ops, {"fsync /data.h5"}, last_write),
             header_synced = Find(ops, {"fsync /data.h5-redislock-journal"}, header),
             cut = Find(ops, {"truncate /data.h5-redislock-journal"}, header);
  EXPECT_TRUE(data_synced >= 0 && data_synced < header) << "the next session began before the file was synced:\n"
                                                         << all;
  EXPECT_TRUE(header_synced >= 0 && cut > header_synced) << "the old records were cut off before the new header "
                                                             "was synced:\n" << all;
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
