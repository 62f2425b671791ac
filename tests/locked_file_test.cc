#include "locked_file_test.h"

#include <hdf5.h>

#include "hdf5_files.h"

namespace h5redislock {
namespace testing {

LockedFileTest::LockedFileTest() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

std::string LockedFileTest::MakeFile(const std::string& name, const std::string& config) {
  const std::string path = dir_.File(name);
  EXPECT_TRUE(CreateLockedFile(path, config, &error_)) << error_;
  return path;
}

OneServerTest::OneServerTest(std::vector<std::string> server_args) : redis_(std::move(server_args)) {}

std::string OneServerTest::ServerConfig(const std::string& options) const {
  const bool own_linger = options.find("linger=") != std::string::npos;
  return "url=" + redis_.url() + ";" + options + (own_linger ? "" : LingerSetting());
}

std::string OneServerTest::MakeFile(const std::string& name) {
  return MakeFile(name, ServerConfig("retain=0;linger=0;timeout=30"));
}

}  // namespace testing
}  // namespace h5redislock
