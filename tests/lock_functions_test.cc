// lock_functions_test.cc: the lock's transitions run on the server as Redis
// Functions: the library is loaded once (FUNCTION LOAD) and every acquire and
// release is one FCALL. Where a server runs no functions (FCALL unknown, as
// before Redis 7, or forbidden), the same Lua runs as scripts named by the
// digests that SCRIPT LOAD returns, so the driver needs no SHA-1 code of its
// own (and no OpenSSL); where SCRIPT LOAD is forbidden too, every script goes
// whole with EVAL. The mechanism itself is tested in script_library_test.cc;
// this is the driver using it through HDF5.
//
// Each case runs its opens in a forked child, which starts knowing nothing of
// the server, and reads what the server counted (INFO commandstats). To watch
// them fail, make redis/script_library.cc send FCALL only (the servers
// without functions then refuse every open), or EVAL only.
#include <gtest/gtest.h>


#include "hdf5_files.h"
#include "locked_file_test.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

constexpr int kOpens = 5;

class LockFunctionsTest : public OneServerTest {
 protected:

  // Creates a file, then opens and closes it kOpens times, in a child,
  // without lock caching: each open and close is a cycle in Redis
  // (LockCachingTest counts those of a cached lock).
  int OpenRepeatedly(const std::string& config) {
    const std::string path = dir_.File("f.h5");
    return WaitChild(RunChild([&] {
      hid_t fapl = LockedFapl(config + ";linger=0");
      if (!CreateFileWithDatasets(path, fapl, {"x"}, 4, H5T_STD_I32LE)) return 1;
      for (int i = 0; i < kOpens; ++i) {
        hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
        if (f < 0 || H5Fclose(f) < 0) return 2;
      }
      return H5Pclose(fapl) < 0 ? 3 : 0;
    }));
  }
};

TEST_F(LockFunctionsTest, FunctionsAreLoadedOnceAndEveryTransitionIsOneCall) {
  if (RunningUnlocked()) GTEST_SKIP() << "no functions without the driver";
  ASSERT_EQ(OpenRepeatedly("url=" + redis_.url()), 0);
  EXPECT_EQ(CommandCalls(redis_, "function|load"), 1) << "the library is loaded once";
  // An acquire and a release for the create and for each open; the first
  // FCALL found no library.
  EXPECT_EQ(CommandCalls(redis_, "fcall"), 2 * (kOpens + 1) + 1);
  EXPECT_EQ(CommandCalls(redis_, "eval") + CommandCalls(redis_, "evalsha") + CommandCalls(redis_, "script|load"), 0);
}

TEST_F(LockFunctionsTest, WithoutFunctionsScriptsGoByTheDigestsScriptLoadReturns) {
  if (RunningUnlocked()) GTEST_SKIP() << "no scripts without the driver";
  RedisServer server({"--rename-command", "FCALL", ""});  // as a server before Redis 7
  ASSERT_EQ(OpenRepeatedly("url=" + server.url()), 0);
  EXPECT_EQ(CommandCalls(server, "script|load"), 7) << "one SCRIPT LOAD of each function's script (acquire, leave, renew, "
                                         "break_entries, settle, snapshot, cached), once";
  EXPECT_EQ(CommandCalls(server, "eval"), 1) << "only the first script goes whole";
  EXPECT_EQ(CommandCalls(server, "evalsha"), 2 * (kOpens + 1) - 1) << "every other acquire and release by digest";
}

TEST_F(LockFunctionsTest, ScriptsGoWholeWhereFunctionsAndScriptLoadAreForbidden) {
  if (RunningUnlocked()) GTEST_SKIP() << "no scripts without the driver";
  redis_.Command({"ACL", "SETUSER", "scripts-only", "on", ">user-pass-789", "~h5redislock:*", "resetchannels",
                  "+@all", "-function", "-fcall", "-script"});
  setenv("H5REDISLOCK_PASSWORD", "user-pass-789", 1);
  const int rc = OpenRepeatedly("url=" + redis_.url() + ";user=scripts-only");
  unsetenv("H5REDISLOCK_PASSWORD");
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(CommandCalls(redis_, "evalsha"), 0) << "no digest is known, so none is used";
  EXPECT_EQ(CommandCalls(redis_, "eval"), 2 * (kOpens + 1));
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
