// script_digest_test.cc: the lock scripts are named by the digests that
// Redis's SCRIPT LOAD returns, so the driver needs no SHA-1 code of its own
// (and no OpenSSL): a process learns all of them with its first script and
// uses EVALSHA from then on; where an ACL forbids SCRIPT LOAD, every script
// is sent whole with EVAL, and nothing else changes.
//
// Each case runs its opens in a forked child, whose digests start unknown,
// and reads what the server counted (INFO commandstats). To watch them fail,
// compute the digests in the process again (lock_protocol.cc, section 3):
// SCRIPT LOAD is then never sent, and the restricted user gets EVALSHAs.
#include <gtest/gtest.h>

#include <regex>

#include "hdf5_files.h"
#include "locked_file_test.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

constexpr int kOpens = 5;

class ScriptDigestTest : public OneServerTest {
 protected:

  // Creates a file, then opens and closes it kOpens times, in a child.
  int OpenRepeatedly(const std::string& config) {
    const std::string path = dir_.File("f.h5");
    return WaitChild(RunChild([&] {
      hid_t fapl = LockedFapl(config);
      if (!CreateFileWithDatasets(path, fapl, {"x"}, 4, H5T_STD_I32LE)) return 1;
      for (int i = 0; i < kOpens; ++i) {
        hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
        if (f < 0 || H5Fclose(f) < 0) return 2;
      }
      return H5Pclose(fapl) < 0 ? 3 : 0;
    }));
  }

  // How often the server ran `command` ("evalsha", "script|load").
  long Calls(const std::string& command) {
    const std::string stats = redis_.Command({"INFO", "commandstats"});
    std::smatch m;
    if (!std::regex_search(stats, m, std::regex("cmdstat_" + std::regex_replace(command, std::regex("\\|"), "\\|") +
                                                ":calls=([0-9]+)")))
      return 0;
    return std::stol(m[1]);
  }
};

TEST_F(ScriptDigestTest, DigestsComeFromScriptLoadWithTheFirstScript) {
  if (RunningUnlocked()) GTEST_SKIP() << "no scripts without the driver";
  ASSERT_EQ(OpenRepeatedly("url=" + redis_.url()), 0);
  EXPECT_EQ(Calls("script|load"), 6) << "one SCRIPT LOAD of each script, once";
  EXPECT_EQ(Calls("eval"), 1) << "only the first script goes whole";
  // Every other acquire and release (create + kOpens opens) went by digest.
  EXPECT_GE(Calls("evalsha"), 2 * (kOpens + 1) - 1);
}

TEST_F(ScriptDigestTest, ScriptsGoWholeWhereScriptLoadIsForbidden) {
  if (RunningUnlocked()) GTEST_SKIP() << "no scripts without the driver";
  // The user of security_test's AclUserWithOnlyTheDriversCommands: EVAL and
  // EVALSHA, but no SCRIPT.
  SetDriverAclUser(redis_, "h5user", "user-pass-789");
  setenv("H5REDISLOCK_PASSWORD", "user-pass-789", 1);
  // Without CONFIG GET, the server counts as one that other hosts reach: its
  // first grants wait for it to have been up for a lease (here a short one).
  const int rc = OpenRepeatedly("url=" + redis_.url() + ";user=h5user;lease=2");
  unsetenv("H5REDISLOCK_PASSWORD");
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(Calls("evalsha"), 0) << "no digest is known, so none is used";
  EXPECT_GE(Calls("eval"), 2 * (kOpens + 1));
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
