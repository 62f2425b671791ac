// entry_points_test.cc: every way into the driver, with real programs in real
// processes: unmodified C and Fortran programs and HDF5's own tools through
// HDF5_DRIVER, a C++ program naming the driver, and the typed C API. Each
// route is shown to take the lock, not merely to open files: while this test
// process holds a write lock, the program fails after its timeout, naming the
// file and this process. (How a lock is routed on to a Redis server is
// routing_test.cc's.)
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <gtest/gtest.h>

#include <regex>

#include "H5FDredislock.h"
#include "hdf5_files.h"
#include "test_support.h"

extern char** environ;

namespace h5redislock {
namespace testing {
namespace {

// What a program did.
struct Outcome {
  int status = -1;  // exit status, or 128 + signal
  std::string out, err;
  double seconds = 0;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `argv` with exactly `env` (plus PATH and sanitizer options), stdout
// and stderr captured in files under `dir`. An explicit environment, so no
// HDF5_* or H5REDISLOCK_* variable of whoever runs the tests leaks in.
Outcome RunProgram(const std::vector<std::string>& argv, std::vector<std::string> env, const TempDir& dir) {
  for (const char* name : {"PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"}) {
    if (const char* v = getenv(name)) env.push_back(std::string(name) + "=" + v);
  }
  // In a sanitizer build the plugin needs the sanitizer's runtime, which
  // HDF5's tools, not built by us, do not load first by themselves.
  if (*H5REDISLOCK_SANITIZER_RUNTIME) env.push_back(std::string("LD_PRELOAD=") + H5REDISLOCK_SANITIZER_RUNTIME);
  const std::string out = dir.File("stdout.txt"), err = dir.File("stderr.txt");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> args, envp;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  for (auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  args.push_back(nullptr);
  envp.push_back(nullptr);
  Outcome o;
  const double start = MonotonicSeconds();
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    o.err = "posix_spawn " + argv[0] + ": " + strerror(rc);
    return o;
  }
  o.status = WaitChild(pid);
  o.seconds = MonotonicSeconds() - start;
  o.out = Slurp(out);
  o.err = Slurp(err);
  return o;
}

std::string Describe(const Outcome& o) {
  return "exit " + std::to_string(o.status) + " after " + std::to_string(o.seconds) + " s\n--- stdout:\n" + o.out +
         "\n--- stderr:\n" + o.err;
}

const std::string kH5dump = std::string(H5REDISLOCK_HDF5_BIN) + "/h5dump";
const std::string kH5ls = std::string(H5REDISLOCK_HDF5_BIN) + "/h5ls";

class RoutesTest : public ::testing::Test {
 protected:
  std::string Url() const { return "url=" + redis_.url(); }
  // The environment of an unmodified program using the driver.
  std::vector<std::string> DriverEnv(const std::string& config) const {
    return {"HDF5_PLUGIN_PATH=" + PluginDir(), "HDF5_DRIVER=redislock", "HDF5_DRIVER_CONFIG=" + config};
  }
  // Opens `path` read-write through the driver (by name), taking the write lock.
  std::unique_ptr<H5File> HoldWriteLock(const std::string& path) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    EXPECT_GE(H5Pset_driver_by_name(fapl, "redislock", Url().c_str()), 0) << ErrorText();
    auto f = std::make_unique<H5File>(path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    EXPECT_TRUE(f->ok()) << ErrorText();
    return f;
  }
  // The lock is in Redis: its keys name the file.
  bool RedisKnowsFile(const std::string& path) const {
    const std::string canonical = std::filesystem::canonical(path).string();
    for (const auto& key : redis_.Keys("h5redislock:*"))
      if (key.find(canonical) != std::string::npos) return true;
    return false;
  }

  RedisServer redis_;
  TempDir dir_;
  TempDir io_;  // the programs' captured output
};

// A program that gave up on a lock held by this process: it failed after
// about its timeout of 1 s, printing no data and naming the file and holder.
void ExpectRefusedByHeldLock(const Outcome& o, const std::string& path, const std::string& data) {
  EXPECT_NE(o.status, 0) << Describe(o);
  EXPECT_GE(o.seconds, 0.9) << "did not wait for the lock: " << Describe(o);
  // The driver's own measure of the wait: the whole program's time includes
  // its start-up, which sanitizer builds make slow.
  EXPECT_TRUE(std::regex_search(o.err, std::regex("timed out after 1(\\.[0-9]+)? s")))
      << "waited past timeout=1: " << Describe(o);
  EXPECT_LT(o.seconds, 30.0) << "hung: " << Describe(o);
  EXPECT_EQ(o.out.find(data), std::string::npos) << "printed data it had no lock for: " << Describe(o);
  EXPECT_NE(o.err.find(path), std::string::npos) << "the message does not name the file: " << Describe(o);
  EXPECT_NE(o.err.find("pid " + std::to_string(getpid()) + " "), std::string::npos)
      << "the message does not name the holder, pid " << getpid() << ": " << Describe(o);
}

// ---------------------------------------------------------------------------
// a. HDF5_DRIVER: a C program that knows nothing of the driver.

TEST_F(RoutesTest, EnvRoutePlainCProgramWritesAndReads) {
  const std::string path = dir_.File("plain.h5");
  Outcome w = RunProgram({PLAIN_HDF5_C, "write", path, "42"}, DriverEnv(Url()), io_);
  ASSERT_EQ(w.status, 0) << Describe(w);
  Outcome r = RunProgram({PLAIN_HDF5_C, "read", path}, DriverEnv(Url()), io_);
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_EQ(r.out, "42\n");
  EXPECT_TRUE(RedisKnowsFile(path)) << "the program did not go through the driver";
}

TEST_F(RoutesTest, EnvRoutePlainCProgramWaitsForHeldWriteLock) {
  const std::string path = dir_.File("held.h5");
  ASSERT_EQ(RunProgram({PLAIN_HDF5_C, "write", path, "7"}, DriverEnv(Url()), io_).status, 0);
  const std::string config = Url() + ";timeout=1";
  {
    auto holder = HoldWriteLock(path);
    ExpectRefusedByHeldLock(RunProgram({PLAIN_HDF5_C, "read", path}, DriverEnv(config), io_), path, "7");
    // A writer is refused before its H5F_ACC_TRUNC reaches the file.
    ExpectRefusedByHeldLock(RunProgram({PLAIN_HDF5_C, "write", path, "8"}, DriverEnv(config), io_), path, "8");
  }
  Outcome r = RunProgram({PLAIN_HDF5_C, "read", path}, DriverEnv(config), io_);
  EXPECT_EQ(r.status, 0) << Describe(r);
  EXPECT_EQ(r.out, "7\n") << "the refused writer changed the file";
}

// ---------------------------------------------------------------------------
// b. A Fortran program through HDF5_DRIVER, a C++ program by name.

TEST_F(RoutesTest, EnvRouteFortranProgram) {
#ifndef PLAIN_HDF5_FORTRAN
  GTEST_SKIP() << "built with H5REDISLOCK_BUILD_FORTRAN_EXAMPLE=OFF";
#else
  const std::string path = dir_.File("fortran.h5");
  const std::string squares = "1 4 9 16 25 36";
  Outcome first = RunProgram({PLAIN_HDF5_FORTRAN, path}, DriverEnv(Url()), io_);
  ASSERT_EQ(first.status, 0) << Describe(first);
  EXPECT_NE(first.out.find(squares), std::string::npos) << Describe(first);
  EXPECT_TRUE(RedisKnowsFile(path)) << "the program did not go through the driver";
  {
    auto holder = HoldWriteLock(path);
    ExpectRefusedByHeldLock(RunProgram({PLAIN_HDF5_FORTRAN, path}, DriverEnv(Url() + ";timeout=1"), io_), path, squares);
  }
  Outcome after = RunProgram({PLAIN_HDF5_FORTRAN, path}, DriverEnv(Url() + ";timeout=1"), io_);
  EXPECT_EQ(after.status, 0) << Describe(after);
  EXPECT_NE(after.out.find(squares), std::string::npos) << Describe(after);
#endif
}

TEST_F(RoutesTest, ByNameCppProgram) {
  const std::string path = dir_.File("by_name.h5");
  const std::string config = Url() + ";timeout=1";
  // Only the plugin path: the driver is chosen in code, not by HDF5_DRIVER.
  const std::vector<std::string> env = {"HDF5_PLUGIN_PATH=" + PluginDir()};
  Outcome first = RunProgram({BY_NAME, config, path}, env, io_);
  ASSERT_EQ(first.status, 0) << Describe(first);
  EXPECT_TRUE(RedisKnowsFile(path)) << "the program did not go through the driver";
  {
    auto holder = HoldWriteLock(path);
    ExpectRefusedByHeldLock(RunProgram({BY_NAME, config, path}, env, io_), path, "wrote and read back");
  }
  Outcome after = RunProgram({BY_NAME, config, path}, env, io_);
  EXPECT_EQ(after.status, 0) << Describe(after);
  EXPECT_NE(after.out.find("wrote and read back 8 numbers"), std::string::npos) << Describe(after);

  // Its mistakes are explained: a bad key, and no plugin path.
  Outcome bad_key = RunProgram({BY_NAME, Url() + ";bogus=1", path}, env, io_);
  EXPECT_NE(bad_key.status, 0);
  EXPECT_NE(bad_key.err.find("unknown config key 'bogus'"), std::string::npos) << Describe(bad_key);
  Outcome no_plugin = RunProgram({BY_NAME, config, path}, {"HDF5_PLUGIN_PATH=" + dir_.path()}, io_);
  EXPECT_NE(no_plugin.status, 0);
  EXPECT_NE(no_plugin.err.find("is HDF5_PLUGIN_PATH set"), std::string::npos) << Describe(no_plugin);
}

// ---------------------------------------------------------------------------
// c. HDF5's tools. h5dump and h5ls open a file first with the default fapl
// (so HDF5_DRIVER applies) and, if that fails, with every built-in driver in
// turn (sec2 first), hiding the errors: tools/lib/h5tools.c, h5tools_fopen().
// So when the lock cannot be had they read the file WITHOUT it. Only
// --vfd-name=redislock (with the config in --vfd-info) stops the retry.

class ToolsTest : public RoutesTest {
 protected:
  void SetUp() override {
    path_ = dir_.File("tools.h5");
    ASSERT_EQ(RunProgram({PLAIN_HDF5_C, "write", path_, "4242"}, DriverEnv(Url()), io_).status, 0);
  }
  // The driver chosen on the command line, so the tools cannot fall back.
  std::vector<std::string> Strict(const std::string& tool, const std::string& config,
                                  std::vector<std::string> extra = {}) const {
    std::vector<std::string> argv = {tool, "--vfd-name=redislock", "--vfd-info=" + config};
    if (tool == kH5ls) argv.push_back("-d");
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(path_);
    return argv;
  }
  std::string path_;
};

TEST_F(ToolsTest, ThroughEnvTheyPrintTheData) {
  Outcome dump = RunProgram({kH5dump, path_}, DriverEnv(Url()), io_);
  EXPECT_EQ(dump.status, 0) << Describe(dump);
  EXPECT_NE(dump.out.find("(0): 4242"), std::string::npos) << Describe(dump);
  Outcome ls = RunProgram({kH5ls, "-d", path_}, DriverEnv(Url()), io_);
  EXPECT_EQ(ls.status, 0) << Describe(ls);
  EXPECT_NE(ls.out.find("4242"), std::string::npos) << Describe(ls);
  EXPECT_TRUE(RedisKnowsFile(path_));
  // And so does the strict form.
  Outcome strict = RunProgram(Strict(kH5dump, Url()), {"HDF5_PLUGIN_PATH=" + PluginDir()}, io_);
  EXPECT_EQ(strict.status, 0) << Describe(strict);
  EXPECT_NE(strict.out.find("(0): 4242"), std::string::npos) << Describe(strict);
}

// With only HDF5_DRIVER, the tools retry with built-in drivers (sec2 first)
// when our open fails (h5tools_fopen). While a writer holds the file on this
// host, that retry fails too, because the holder also keeps the inner
// driver's flock and the tools lock files by default. With Redis
// unreachable and nobody holding, the retry reads the file unlocked, exits 0
// and says nothing: the README tells users to pass --vfd-name. If this test
// fails, HDF5 changed its tools: revisit the README.
TEST_F(ToolsTest, ThroughEnvTheirFallbackIsStoppedOnlyByAHolder) {
  const std::string dead = "url=unix://" + dir_.File("no-redis-here.sock") + ";timeout=1";
  {
    auto holder = HoldWriteLock(path_);
    for (const auto& argv : std::vector<std::vector<std::string>>{{kH5dump, path_}, {kH5ls, "-d", path_}}) {
      Outcome o = RunProgram(argv, DriverEnv(Url() + ";timeout=1"), io_);
      EXPECT_NE(o.status, 0) << Describe(o);
      EXPECT_EQ(o.out.find("4242"), std::string::npos) << "read the file beside a writer: " << Describe(o);
      EXPECT_GE(o.seconds, 0.9) << "the first, locked attempt should have waited: " << Describe(o);
    }
    // With HDF5's file locking off, nothing stops the fallback.
    std::vector<std::string> unlocked = DriverEnv(Url() + ";timeout=1");
    unlocked.push_back("HDF5_USE_FILE_LOCKING=FALSE");
    Outcome o = RunProgram({kH5dump, path_}, unlocked, io_);
    EXPECT_EQ(o.status, 0) << Describe(o);
    EXPECT_NE(o.out.find("4242"), std::string::npos) << Describe(o);
  }
  for (const auto& argv : std::vector<std::vector<std::string>>{{kH5dump, path_}, {kH5ls, "-d", path_}}) {
    Outcome o = RunProgram(argv, DriverEnv(dead), io_);
    EXPECT_EQ(o.status, 0) << Describe(o);
    EXPECT_NE(o.out.find("4242"), std::string::npos) << Describe(o);
    EXPECT_EQ(o.err, "") << Describe(o);
  }
  // A program of one's own does not retry: it fails.
  EXPECT_NE(RunProgram({PLAIN_HDF5_C, "read", path_}, DriverEnv(dead), io_).status, 0);
}

TEST_F(ToolsTest, WithVfdNameTheyRefuseWhileTheLockIsHeld) {
  const std::string config = Url() + ";timeout=1";
  const std::vector<std::string> env = {"HDF5_PLUGIN_PATH=" + PluginDir()};
  auto holder = HoldWriteLock(path_);
  // --enable-error-stack=2 shows the driver's message, which the tools hide.
  Outcome dump = RunProgram(Strict(kH5dump, config, {"--enable-error-stack=2"}), env, io_);
  ExpectRefusedByHeldLock(dump, path_, "4242");
  EXPECT_NE(dump.err.find("h5dump error: unable to open file"), std::string::npos) << Describe(dump);
  // h5ls has no such option: it says only that it could not open the file.
  Outcome ls = RunProgram(Strict(kH5ls, config), env, io_);
  EXPECT_EQ(ls.status, 1) << Describe(ls);
  EXPECT_GE(ls.seconds, 0.9) << Describe(ls);
  EXPECT_EQ(ls.out, "") << Describe(ls);
  EXPECT_EQ(ls.err, path_ + ": unable to open file\n") << Describe(ls);
}

TEST_F(ToolsTest, WithVfdNameTheyRefuseWhenRedisIsDown) {
  const std::string dead = "url=unix://" + dir_.File("no-redis-here.sock");
  const std::vector<std::string> env = {"HDF5_PLUGIN_PATH=" + PluginDir()};
  Outcome dump = RunProgram(Strict(kH5dump, dead, {"--enable-error-stack=2"}), env, io_);
  EXPECT_EQ(dump.status, 1) << Describe(dump);
  EXPECT_EQ(dump.out, "") << Describe(dump);
  EXPECT_NE(dump.err.find("no-redis-here.sock?db=0 is unreachable"), std::string::npos) << Describe(dump);
  Outcome ls = RunProgram(Strict(kH5ls, dead), env, io_);
  EXPECT_EQ(ls.status, 1) << Describe(ls);
  EXPECT_EQ(ls.out, "") << Describe(ls);
}

// --vfd-name without --vfd-info passes no configuration string, and the
// tools do not read HDF5_DRIVER_CONFIG for it: the driver's defaults apply
// ($H5REDISLOCK_URL, else redis://127.0.0.1:6379/0).
TEST_F(ToolsTest, VfdNameWithoutVfdInfoIgnoresHdf5DriverConfig) {
  const std::string dead = "unix://" + dir_.File("no-redis-here.sock");
  std::vector<std::string> env = DriverEnv(Url());  // a working config, unused
  env.push_back("H5REDISLOCK_URL=" + dead);
  Outcome o = RunProgram({kH5dump, "--enable-error-stack=2", "--vfd-name=redislock", path_}, env, io_);
  EXPECT_EQ(o.status, 1) << Describe(o);
  EXPECT_NE(o.err.find(dead + "?db=0 is unreachable"), std::string::npos) << Describe(o);
  env.back() = "H5REDISLOCK_URL=" + redis_.url();
  o = RunProgram({kH5dump, "--vfd-name=redislock", path_}, env, io_);
  EXPECT_EQ(o.status, 0) << Describe(o);
  EXPECT_NE(o.out.find("(0): 4242"), std::string::npos) << Describe(o);
}

// ---------------------------------------------------------------------------
// d. The typed C API, linked in.

H5FD_redislock_config_t TypedConfig(const std::string& url, double timeout, const std::string& options) {
  H5FD_redislock_config_t c;
  EXPECT_GE(H5FD_redislock_config_init(&c), 0);
  snprintf(c.url, sizeof c.url, "%s", url.c_str());
  c.timeout = timeout;
  snprintf(c.options, sizeof c.options, "%s", options.c_str());
  return c;
}

TEST_F(RoutesTest, TypedApiConfigRoundTrip) {
  H5FD_redislock_config_t fresh;
  ASSERT_GE(H5FD_redislock_config_init(&fresh), 0);
  EXPECT_EQ(fresh.magic, H5FD_REDISLOCK_CONFIG_MAGIC);
  EXPECT_EQ(fresh.version, H5FD_REDISLOCK_CONFIG_VERSION);
  EXPECT_STREQ(fresh.url, "");
  EXPECT_TRUE(std::isnan(fresh.timeout));

  H5FD_redislock_config_t in = TypedConfig(redis_.url(), 2.5, "lease=20;retain=0");
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  ASSERT_GE(H5Pset_fapl_redislock(fapl, &in), 0) << ErrorText();
  EXPECT_EQ(H5Pget_driver(fapl), H5FD_redislock_init());
  H5FD_redislock_config_t out;
  std::memset(&out, 0x5a, sizeof out);
  ASSERT_GE(H5Pget_fapl_redislock(fapl, &out), 0) << ErrorText();
  EXPECT_EQ(out.magic, H5FD_REDISLOCK_CONFIG_MAGIC);
  EXPECT_STREQ(out.url, redis_.url().c_str());
  EXPECT_EQ(out.timeout, 2.5);
  EXPECT_TRUE(std::isnan(out.lease));
  EXPECT_STREQ(out.options, "lease=20;retain=0");
  EXPECT_STREQ(out.prefix, "");
  EXPECT_STREQ(out.inner, "");
  H5Pclose(fapl);

  // A fapl of another driver has no redislock configuration.
  hid_t sec2 = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_sec2(sec2);
  H5E_BEGIN_TRY { EXPECT_LT(H5Pget_fapl_redislock(sec2, &out), 0); }
  H5E_END_TRY;
  H5Pclose(sec2);
}

TEST_F(RoutesTest, TypedApiCreatesReadsAndHoldsTheLock) {
  const std::string path = dir_.File("typed.h5");
  H5FD_redislock_config_t config = TypedConfig(redis_.url(), 5, "");
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  ASSERT_GE(H5Pset_fapl_redislock(fapl, &config), 0) << ErrorText();
  ASSERT_TRUE(CreateFileWithDatasets(path, fapl, {"n"}, 4, H5T_STD_I32LE)) << ErrorText();
  const int written[4] = {3, 1, 4, 1};
  int read[4] = {0, 0, 0, 0};
  {
    H5File f(path, H5F_ACC_RDWR, fapl);
    ASSERT_TRUE(f.ok()) << ErrorText();
    ASSERT_TRUE(WriteAll(f.id(), "n", H5T_NATIVE_INT, written));
  }
  {
    H5File f(path, H5F_ACC_RDONLY, fapl);
    ASSERT_TRUE(f.ok()) << ErrorText();
    ASSERT_TRUE(ReadAll(f.id(), "n", H5T_NATIVE_INT, read));
  }
  EXPECT_EQ(std::vector<int>(read, read + 4), std::vector<int>(written, written + 4));
  EXPECT_TRUE(RedisKnowsFile(path));

  // A child that may not wait: refused while this process holds, naming it.
  const pid_t parent = getpid();
  auto try_read_at_once = [&] {
    H5FD_redislock_config_t no_wait = TypedConfig(redis_.url(), 0, "");
    hid_t child_fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (H5Pset_fapl_redislock(child_fapl, &no_wait) < 0) return 10;
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, child_fapl);
    if (f >= 0) return H5Fclose(f) < 0 ? 11 : 0;  // 0: it opened the file
    const std::string why = ErrorText();
    bool named = why.find("timeout=0") != std::string::npos &&
                 why.find("pid " + std::to_string(parent) + " ") != std::string::npos;
    if (!named) fprintf(stderr, "unexpected failure:\n%s\n", why.c_str());
    return named ? 1 : 12;  // 1: refused for the lock
  };
  {
    H5File holder(path, H5F_ACC_RDWR, fapl);
    ASSERT_TRUE(holder.ok()) << ErrorText();
    EXPECT_EQ(WaitChild(RunChild(try_read_at_once)), 1) << "the child was not refused by the held lock";
  }
  EXPECT_EQ(WaitChild(RunChild(try_read_at_once)), 0) << "the child could not open the released file";
  H5Pclose(fapl);
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
