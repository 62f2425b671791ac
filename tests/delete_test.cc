// delete_test.cc: H5Fdelete through the driver deletes a file under its
// exclusive lock. While another process reads the file, the delete waits for
// it and, past its timeout, fails naming the reader, and the file stays;
// once nobody holds it, the file goes, with no journal and no lock left
// behind. Run with H5REDISLOCK_TEST_DRIVER=sec2 to see it fail unlocked (the
// delete does not wait for the reader).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "locked_file_test.h"
#include "puppet.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

class DeleteTest : public OneServerTest {
 protected:
  std::string Config(double timeout) const { return ServerConfig("retain=0;timeout=" + std::to_string(timeout)); }
};

TEST_F(DeleteTest, DeleteWaitsForReadersThenLeavesNeitherFileNorLock) {
  const std::string path = MakeFile("doomed.h5");

  Puppet reader(path, Config(30), /*for_writing=*/false);
  ASSERT_TRUE(reader.Opened()) << reader.last_error();
  hid_t fapl = LockedFapl(Config(1));
  const double t0 = MonotonicSeconds();
  EXPECT_LT(H5Fdelete(path.c_str(), fapl), 0) << "deleted a file another process was reading";
  const double waited = MonotonicSeconds() - t0;
  const std::string error = ErrorText();
  EXPECT_GE(waited, 0.9) << "the delete did not wait for the reader";
  EXPECT_NE(error.find("timed out"), std::string::npos) << error;
  EXPECT_NE(error.find("pid " + std::to_string(reader.pid())), std::string::npos) << error;
  EXPECT_TRUE(Exists(path)) << "the file went while it was read";
  EXPECT_TRUE(reader.Ask('c')) << reader.last_error();

  EXPECT_GE(H5Fdelete(path.c_str(), fapl), 0) << ErrorText();
  EXPECT_FALSE(Exists(path));
  EXPECT_FALSE(Exists(path + "-redislock-journal")) << "the delete left its write session's journal";
  EXPECT_TRUE(redis_.Keys("h5redislock:*").empty()) << "the delete left its lock behind";
  H5Pclose(fapl);
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
