// tls_library_test.cc: the driver needs OpenSSL only for rediss://, and then
// loads it from the system (h5redislock_tls.so, vfd/tls_library.h): the
// plugins themselves need no libssl, work on a machine that has none, and a
// rediss:// url there fails with an error that says what is missing.
//
// The machine without libssl is a mount namespace in which libssl.so.3 and
// libcrypto.so.3 are empty files (/dev/null bound over them), and the
// program is examples/cpp/by_name, which loads the plugin through HDF5. To
// watch it fail, link OpenSSL into h5redislock_core again (vfd/CMakeLists.txt):
// the plugin then needs libssl, and by_name cannot load it there.
#include <gtest/gtest.h>
#include <limits.h>
#include <stdlib.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

// What `command` prints on stdout.
std::string Output(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  pclose(pipe);
  return out;
}

// The file the dynamic linker loads for `soname`, as ldconfig knows it.
std::string SystemLibrary(const std::string& soname) {
  std::istringstream lines(Output("ldconfig -p"));
  for (std::string line; std::getline(lines, line);) {
    const size_t arrow = line.find(" => ");
    if (line.find(soname + " (") == std::string::npos || line.find("x86-64") == std::string::npos ||
        arrow == std::string::npos)
      continue;
    char real[PATH_MAX];
    if (realpath(line.substr(arrow + 4).c_str(), real)) return real;
  }
  return "";
}

TEST(TlsLibraryTest, PluginsNeedNoOpenSsl) {
  std::vector<std::string> plugins = {PluginDir() + "/libh5fd_redislock.so"};
  if (*DL_PLUGIN_DIR) plugins.push_back(std::string(DL_PLUGIN_DIR) + "/libh5fd_redislock_dl.so");
  for (const std::string& plugin : plugins) {
    const std::string needed = Output("readelf -d " + plugin + " | grep NEEDED");
    ASSERT_NE(needed.find("libc.so"), std::string::npos) << "cannot read " << plugin << ": " << needed;
    EXPECT_EQ(needed.find("libssl"), std::string::npos) << plugin << ":\n" << needed;
    EXPECT_EQ(needed.find("libcrypto"), std::string::npos) << plugin << ":\n" << needed;
  }
  // The TLS library is the one that does.
  EXPECT_NE(Output("readelf -d " + PluginDir() + "/h5redislock_tls.so").find("libssl.so.3"), std::string::npos);
}

TEST(TlsLibraryTest, WithoutLibsslPlainRedisWorksAndRedissSaysWhatIsMissing) {
  const std::string libssl = SystemLibrary("libssl.so.3"), libcrypto = SystemLibrary("libcrypto.so.3");
  ASSERT_FALSE(libssl.empty() || libcrypto.empty()) << "this machine has no libssl.so.3 to hide";
  if (system("unshare -m true 2>/dev/null") != 0) GTEST_SKIP() << "no mount namespaces here (needs root)";
  RedisServer redis({}, /*tcp=*/true);
  TempDir dir;
  const std::string tls_error = dir.File("tls.err");
  // In the namespace: libssl is gone (openssl, which needs it, cannot
  // start), by_name works over a unix socket, and rediss:// to a listening
  // port fails (status 1) with the error in tls.err.
  std::ofstream(dir.File("no-libssl.sh")) << "mount --bind /dev/null " << libssl << " || exit 10\n"
                                          << "mount --bind /dev/null " << libcrypto << " || exit 11\n"
                                          << "openssl version >/dev/null 2>&1 && exit 12\n"
                                          << BY_NAME << " 'url=" << redis.url() << "' " << dir.File("plain.h5")
                                          << " || exit 13\n"
                                          << BY_NAME << " 'url=rediss://127.0.0.1:" << redis.port()
                                          << ";connect_timeout=2' " << dir.File("tls.h5") << " 2>" << tls_error
                                          << "\n";
  const int status = system(("HDF5_PLUGIN_PATH=" + PluginDir() + " unshare -m sh " + dir.File("no-libssl.sh")).c_str());
  ASSERT_TRUE(WIFEXITED(status)) << status;
  ASSERT_EQ(WEXITSTATUS(status), 1) << "10/11: cannot hide libssl; 12: libssl still loads; 13: plain Redis failed; "
                                       "0: rediss:// worked";
  std::ifstream in(tls_error);
  const std::string error((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(error.find("TLS (rediss://) is not available"), std::string::npos) << error;
  EXPECT_NE(error.find("h5redislock_tls.so"), std::string::npos) << error;
  EXPECT_NE(error.find("libssl.so.3"), std::string::npos) << error;
  EXPECT_NE(error.find("install it"), std::string::npos) << error;
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
