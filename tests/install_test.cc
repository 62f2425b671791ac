// install_test.cc: `cmake --install` into a temporary prefix, then programs
// built against the installed tree only, with find_package(h5redislock) and
// with pkg-config, run against a private Redis:
//   by_name   examples/cpp/by_name.cc, which loads the driver as a plugin
//   typed     a C program of the typed API (H5Pset_fapl_redislock) that also
//             loads the plugin by name, and checks that the library and the
//             plugin are one copy in the process (lib/plugin holds a symlink)
// The installed h5redislock finds its plugin next to itself (../lib/plugin).
#include <gtest/gtest.h>

#include <limits.h>
#include <stdlib.h>

#include <cstdlib>
#include <fstream>

#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

const char kConsumerCMakeLists[] = R"(cmake_minimum_required(VERSION 3.20)
project(consumer C CXX)
find_package(h5redislock 0.1 REQUIRED)
add_executable(by_name by_name.cc)
target_link_libraries(by_name PRIVATE h5redislock::h5fd_redislock)
add_executable(typed typed.c)
target_link_libraries(typed PRIVATE h5redislock::h5fd_redislock)
file(WRITE ${CMAKE_BINARY_DIR}/plugin_dir.txt "${h5redislock_PLUGIN_DIR}")
)";

// typed URL FILE: creates FILE through the typed API after loading the
// driver by name from HDF5_PLUGIN_PATH (first, before the typed API
// registers it, so that HDF5 really dlopens the plugin).
const char kTypedProgram[] = R"(#define _GNU_SOURCE
#include <link.h>
#include <stdio.h>
#include <string.h>

#include "H5FDredislock.h"

static int CountCopies(struct dl_phdr_info* info, size_t size, void* count) {
  (void)size;
  if (strstr(info->dlpi_name, "libh5fd_redislock")) ++*(int*)count;
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  hid_t by_name = H5Pcreate(H5P_FILE_ACCESS);
  if (H5Pset_driver_by_name(by_name, "redislock", "") < 0) return 3;
  H5Pclose(by_name);
  H5FD_redislock_config_t config;
  H5FD_redislock_config_init(&config);
  snprintf(config.url, sizeof config.url, "%s", argv[1]);
  config.timeout = 5;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (H5Pset_fapl_redislock(fapl, &config) < 0) return 4;
  hid_t file = H5Fcreate(argv[2], H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (file < 0 || H5Fclose(file) < 0) return 5;
  H5Pclose(fapl);
  int copies = 0;
  dl_iterate_phdr(CountCopies, &copies);
  printf("typed: created %s; copies of the library: %d\n", argv[2], copies);
  return copies == 1 ? 0 : 6;
}
)";

class InstallTest : public ::testing::Test {
 protected:
  // Runs `command` in a shell without HDF5_PLUGIN_PATH (which the tests'
  // main points at the build tree), its output in the log; whether it
  // succeeded. The log is printed on failure.
  bool Sh(const std::string& command) {
    const std::string log = work_.File("step.log");
    const int rc = std::system(("env -u HDF5_PLUGIN_PATH -u HDF5_DRIVER -u HDF5_DRIVER_CONFIG -u H5REDISLOCK_URL " +
                                command + " >" + log + " 2>&1")
                                   .c_str());
    std::ifstream in(log);
    output_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (rc != 0) ADD_FAILURE() << "failed: " << command << "\n" << output_;
    return rc == 0;
  }
  void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
  // The lock of `file` in the private server counted `n` acquisitions.
  void ExpectAcquisitions(const std::string& file, int n) {
    char resolved[PATH_MAX];
    ASSERT_NE(realpath(file.c_str(), resolved), nullptr) << file;
    EXPECT_EQ(redis_.Command({"HGET", LockHash(resolved), "a"}),
              std::to_string(n))
        << file;
  }

  TempDir prefix_;
  TempDir work_;
  RedisServer redis_;
  std::string output_;  // of the last Sh()
};

TEST_F(InstallTest, ProgramsBuildAndRunAgainstTheInstalledTreeOnly) {
  const std::string prefix = prefix_.path();
  ASSERT_TRUE(Sh(std::string(CMAKE_COMMAND) + " --install " + H5REDISLOCK_BINARY_DIR + " --prefix " + prefix));
  for (const char* installed : {"/lib/libh5fd_redislock.so", "/include/H5FDredislock.h", "/bin/h5redislock",
                                "/lib/cmake/h5redislock/h5redislockConfig.cmake", "/lib/pkgconfig/h5redislock.pc"})
    EXPECT_TRUE(Sh("test -f " + prefix + installed)) << installed;
  EXPECT_TRUE(Sh("test $(readlink " + prefix + "/lib/plugin/libh5fd_redislock.so) = ../libh5fd_redislock.so"));

  // find_package(h5redislock), with nothing of the build tree on any path.
  const std::string source = work_.File("consumer"), build = work_.File("consumer-build");
  ASSERT_TRUE(Sh("mkdir " + source));
  Write(source + "/CMakeLists.txt", kConsumerCMakeLists);
  Write(source + "/typed.c", kTypedProgram);
  ASSERT_TRUE(Sh(std::string("cp ") + H5REDISLOCK_SOURCE_DIR + "/examples/cpp/by_name.cc " + source));
  const std::string flags = std::string("'") + SANITIZE_FLAGS + "'";
  ASSERT_TRUE(Sh(std::string(CMAKE_COMMAND) + " -S " + source + " -B " + build + " -G '" + CMAKE_GENERATOR +
                 "' -DCMAKE_PREFIX_PATH=" + prefix + " -DCMAKE_C_COMPILER=" + C_COMPILER +
                 " -DCMAKE_CXX_COMPILER=" + CXX_COMPILER + " -DCMAKE_C_FLAGS=" + flags +
                 " -DCMAKE_CXX_FLAGS=" + flags));
  ASSERT_TRUE(Sh(std::string(CMAKE_COMMAND) + " --build " + build));
  ASSERT_TRUE(Sh("test $(cat " + build + "/plugin_dir.txt) = " + prefix + "/lib/plugin"));

  // pkg-config h5redislock (HDF5's own .pc where HDF5 is).
  const std::string pkg_config = std::string("PKG_CONFIG_PATH=") + prefix + "/lib/pkgconfig:" + HDF5_PKGCONFIG_DIR +
                                 " " + PKG_CONFIG;
  const std::string typed_pc = work_.File("typed-pc");
  ASSERT_TRUE(Sh(std::string(C_COMPILER) + " " + SANITIZE_FLAGS + " " + source + "/typed.c -o " + typed_pc +
                 " $(" + pkg_config + " --cflags --libs h5redislock)" + " -Wl,-rpath,$(" + pkg_config +
                 " --variable=libdir h5redislock) -Wl,-rpath,$(" + pkg_config + " --variable=libdir hdf5)"));
  ASSERT_TRUE(Sh(pkg_config + " --variable=plugindir h5redislock"));
  EXPECT_EQ(output_, prefix + "/lib/pkgconfig/../../lib/plugin\n");

  // Run them: the typed programs with the plugin path set by hand, by_name
  // under the installed h5redislock, which must find its plugin itself.
  const std::string plugin_path = "HDF5_PLUGIN_PATH=" + prefix + "/lib/plugin ";
  for (const std::string& typed : {build + "/typed", typed_pc}) {
    const std::string file = work_.File(typed == typed_pc ? "typed-pc.h5" : "typed.h5");
    ASSERT_TRUE(Sh(plugin_path + typed + " " + redis_.url() + " " + file));
    EXPECT_NE(output_.find("copies of the library: 1"), std::string::npos) << output_;
    ExpectAcquisitions(file, 1);
  }
  const std::string by_name_file = work_.File("by_name.h5");
  ASSERT_TRUE(Sh(prefix + "/bin/h5redislock run --url " + redis_.url() + " -- sh -c '\"$0\" \"$HDF5_DRIVER_CONFIG\" " +
                 by_name_file + "' " + build + "/by_name"));
  EXPECT_NE(output_.find("by_name: wrote and read back"), std::string::npos) << output_;
  ExpectAcquisitions(by_name_file, 2);  // written, then read back
  ASSERT_TRUE(Sh(prefix + "/bin/h5redislock run --url " + redis_.url() + " -- printenv HDF5_PLUGIN_PATH"));
  EXPECT_EQ(output_, prefix + "/lib/plugin\n");
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
