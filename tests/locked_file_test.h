// locked_file_test.h: the base of the fixtures whose tests open files
// through the driver, so that a fixture says only what is its own (its
// configuration's defaults, its helpers):
//
//   LockedFileTest  HDF5 prints no error stack (a test that expects a
//                   failure reads it: ErrorText(), error_), a directory for
//                   the test's files, and MakeFile
//   OneServerTest   the same, on a private Redis server of the test's own,
//                   with the driver's configuration that names it
//
// Fixtures that set up several servers (a Cluster, Sentinels) derive from
// LockedFileTest; parameterized ones add ::testing::WithParamInterface.
#ifndef H5REDISLOCK_TESTS_LOCKED_FILE_TEST_H_
#define H5REDISLOCK_TESTS_LOCKED_FILE_TEST_H_

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_support.h"

namespace h5redislock {
namespace testing {

class LockedFileTest : public ::testing::Test {
 protected:
  LockedFileTest();

  // Creates `name` in dir_ through the driver configured by `config`, with
  // the dataset "x" of four integers (CreateLockedFile); returns its path.
  // A failure fails the test, with HDF5's error stack.
  std::string MakeFile(const std::string& name, const std::string& config);

  TempDir dir_;
  std::string error_;  // where a fixture's helpers keep the text of a failure
};

class OneServerTest : public LockedFileTest {
 protected:
  // `server_args` are more redis-server arguments (RedisServer).
  explicit OneServerTest(std::vector<std::string> server_args = {});

  // The driver's configuration on the test's server: its url, then `options`
  // ("retain=0;timeout=30"), then the run's linger (LingerSetting) unless
  // `options` sets one.
  std::string ServerConfig(const std::string& options) const;

  using LockedFileTest::MakeFile;
  // MakeFile on the test's server; the open that creates it keeps no lock:
  // not cached (linger=0), and no counters (retain=0).
  std::string MakeFile(const std::string& name);

  RedisServer redis_;
};

}  // namespace testing
}  // namespace h5redislock

#endif  // H5REDISLOCK_TESTS_LOCKED_FILE_TEST_H_
