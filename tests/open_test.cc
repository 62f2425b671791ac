// open_test.cc: what one open of a file through the driver does and reports:
// re-entrant opens, upgrades, timeouts, an unreachable or wrong-password
// Redis, malformed configuration, foreign keys, files that are not HDF5.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "hdf5_files.h"
#include "lock/config.h"
#include "lock/lock_keys.h"
#include "locked_file_test.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

class OpenTest : public OneServerTest {
 protected:
  std::string Config(double timeout = 30) const {
    char t[32];
    std::snprintf(t, sizeof t, "%g", timeout);
    return ServerConfig(std::string("retain=0;timeout=") + t);
  }
  // Without lock caching: for the tests that count the process's holds in
  // Redis as its opens and closes come and go (LockCachingTest: what caching
  // keeps after the last close).
  std::string Uncached() const { return ServerConfig("retain=0;linger=0;timeout=30"); }
  // Opens through the driver; on failure the error stack's text is kept in
  // error_ (the next HDF5 call would clear the stack).
  hid_t Open(const std::string& path, unsigned flags, const std::string& config) {
    hid_t fapl = LockedFapl(config);
    hid_t f = H5Fopen(path.c_str(), flags, fapl);
    error_ = f < 0 ? ErrorText() : "";
    H5Pclose(fapl);
    return f;
  }
  static std::string NameOf(const std::string& path) {
    char real[PATH_MAX];
    EXPECT_NE(realpath(path.c_str(), real), nullptr);
    return real;
  }
  long Holders(const std::string& path) const { return LockHolders(redis_, NameOf(path)); }
  long Waiters(const std::string& path) const { return LockWaiters(redis_, NameOf(path)); }

  // Forks a child that holds `path` open (write or read) until the pipe
  // closes; returns once the child holds it.
  pid_t HoldInChild(const std::string& path, bool for_writing, int* release_fd) {
    int ready[2], release[2];
    EXPECT_EQ(pipe(ready), 0);
    EXPECT_EQ(pipe(release), 0);
    pid_t pid = RunChild([&] {
      close(ready[0]);
      close(release[1]);
      hid_t f = Open(path, for_writing ? H5F_ACC_RDWR : H5F_ACC_RDONLY, Config());
      char c = f >= 0 ? 'y' : 'n';
      if (write(ready[1], &c, 1) != 1) return 3;
      if (read(release[0], &c, 1) < 0) return 4;
      return f >= 0 && H5Fclose(f) >= 0 ? 0 : 1;
    });
    close(ready[1]);
    close(release[0]);
    char c = 0;
    EXPECT_EQ(read(ready[0], &c, 1), 1);
    EXPECT_EQ(c, 'y');
    close(ready[0]);
    *release_fd = release[1];
    return pid;
  }
};

TEST_F(OpenTest, ReentrantOpensShareOneLock) {
  const std::string path = MakeFile("reentrant.h5");
  hid_t a = Open(path, H5F_ACC_RDONLY, Uncached());
  hid_t b = Open(path, H5F_ACC_RDONLY, Uncached());
  ASSERT_GE(a, 0) << error_;
  ASSERT_GE(b, 0) << error_;
  EXPECT_EQ(Holders(path), 1);
  EXPECT_GE(H5Fclose(a), 0);
  EXPECT_EQ(Holders(path), 1) << "closing one open must not release the lock the other still needs";
  EXPECT_GE(H5Fclose(b), 0);
  EXPECT_EQ(Holders(path), 0);
}

TEST_F(OpenTest, WriteHolderMayAlsoOpenForReading) {
  const std::string path = MakeFile("write-then-read.h5");
  hid_t w = Open(path, H5F_ACC_RDWR, Uncached());
  ASSERT_GE(w, 0) << error_;
  hid_t r = Open(path, H5F_ACC_RDONLY, Uncached());
  EXPECT_GE(r, 0) << error_;
  if (r >= 0) H5Fclose(r);
  EXPECT_GE(H5Fclose(w), 0);
  EXPECT_EQ(Holders(path), 0);
}

TEST_F(OpenTest, CreateWithTruncateTakesTheLockOnce) {
  const std::string path = dir_.File("created.h5");
  hid_t fapl = LockedFapl(Uncached());
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  ASSERT_GE(f, 0) << ErrorText();
  EXPECT_EQ(Holders(path), 1);
  EXPECT_EQ(H5Fclose(f), 0);
  f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);  // over an existing file
  ASSERT_GE(f, 0) << ErrorText();
  EXPECT_EQ(H5Fclose(f), 0);
  H5Pclose(fapl);
  EXPECT_EQ(Holders(path), 0);
}

TEST_F(OpenTest, UpgradeFailsAtOnceWithAClearError) {
  const std::string path = MakeFile("upgrade.h5");
  hid_t r = Open(path, H5F_ACC_RDONLY, Config());
  ASSERT_GE(r, 0);
  double t0 = MonotonicSeconds();
  hid_t w = Open(path, H5F_ACC_RDWR, Config());
  EXPECT_LT(w, 0);
  EXPECT_LT(MonotonicSeconds() - t0, 1.0) << "an upgrade must fail at once, not wait for the timeout";
  std::string err = error_;
  EXPECT_NE(err.find("cannot be upgraded"), std::string::npos) << err;
  EXPECT_NE(err.find(path), std::string::npos) << err;
  H5Fclose(r);
}

TEST_F(OpenTest, TimeoutNamesTheFileModeAndHolder) {
  const std::string path = MakeFile("timeout.h5");
  int release = -1;
  pid_t holder = HoldInChild(path, true, &release);
  double t0 = MonotonicSeconds();
  hid_t f = Open(path, H5F_ACC_RDONLY, Config(1));
  double waited = MonotonicSeconds() - t0;
  std::string err = error_;
  EXPECT_LT(f, 0);
  EXPECT_GE(waited, 0.9);
  EXPECT_LT(waited, 3.0);
  EXPECT_NE(err.find("timed out"), std::string::npos) << err;
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_NE(err.find("read lock"), std::string::npos) << err;
  EXPECT_NE(err.find("pid " + std::to_string(holder)), std::string::npos) << err;
  EXPECT_EQ(Waiters(path), 0) << "a failed open must leave no waiter entry";
  close(release);
  EXPECT_EQ(WaitChild(holder), 0);
  EXPECT_EQ(redis_.Keys("h5redislock:*").size(), 0u);
}

TEST_F(OpenTest, TimeoutZeroFailsAtOnce) {
  const std::string path = MakeFile("nowait.h5");
  int release = -1;
  pid_t holder = HoldInChild(path, false, &release);
  double t0 = MonotonicSeconds();
  hid_t f = Open(path, H5F_ACC_RDWR, Config(0));
  EXPECT_LT(f, 0);
  EXPECT_LT(MonotonicSeconds() - t0, 0.5);
  std::string err = error_;
  EXPECT_NE(err.find("timeout=0"), std::string::npos) << err;
  EXPECT_NE(err.find("pid " + std::to_string(holder)), std::string::npos) << err;
  hid_t r = Open(path, H5F_ACC_RDONLY, Config(0));
  EXPECT_GE(r, 0) << "readers share: " << error_;
  if (r >= 0) H5Fclose(r);
  close(release);
  EXPECT_EQ(WaitChild(holder), 0);
}

TEST_F(OpenTest, UnreachableRedisFailsWithinTheConnectTimeout) {
  const std::string path = MakeFile("unreachable.h5");
  for (const std::string& url : {"unix://" + dir_.File("no-server.sock"), std::string("redis://127.0.0.1:1")}) {
    double t0 = MonotonicSeconds();
    hid_t f = Open(path, H5F_ACC_RDONLY, "url=" + url + ";connect_timeout=2");
    EXPECT_LT(f, 0);
    EXPECT_LT(MonotonicSeconds() - t0, 2.5);
    std::string err = error_;
    EXPECT_NE(err.find("unreachable"), std::string::npos) << err;
    EXPECT_NE(err.find(path), std::string::npos) << err;
  }
}

TEST_F(OpenTest, MalformedConfigsNameTheKeyAndNeverThePassword) {
  const std::string path = MakeFile("config.h5");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"bogus=1", "unknown config key 'bogus'"},
      {"timeout=abc", "timeout="},
      {"timeout=-5", "timeout"},
      {"lease=0.1", "lease="},
      {"url=http://example.org", "unknown scheme 'http'"},
      {"url=redis://host:99999", "port"},
      {"inner=redislock", "inner"},
      {"timeout=1;timeout=2", "given twice"},
      {"noequals", "key=value"},
      {"prefix=a{b}", "prefix"},
      {"url=redis://user:s3cretpw@host:bad", "port"},
  };
  for (const auto& [config, expected] : cases) {
    hid_t f = Open(path, H5F_ACC_RDONLY, config);
    EXPECT_LT(f, 0) << config;
    std::string err = error_;
    EXPECT_NE(err.find(expected), std::string::npos) << config << " gave: " << err;
    EXPECT_NE(err.find(path), std::string::npos) << config << " gave: " << err;
    EXPECT_EQ(err.find("s3cretpw"), std::string::npos) << "the password leaked: " << err;
  }
}

TEST_F(OpenTest, FileThatIsNotHdf5FailsAndLeavesNoLock) {
  const std::string path = dir_.File("not-hdf5.h5");
  std::ofstream(path) << "this is not an HDF5 file\n";
  hid_t f = Open(path, H5F_ACC_RDONLY, Config());
  EXPECT_LT(f, 0);
  std::string err = error_;
  EXPECT_NE(err.find("signature"), std::string::npos) << err;
  EXPECT_EQ(redis_.Keys("h5redislock:*").size(), 0u);
  f = Open(dir_.File("missing.h5"), H5F_ACC_RDONLY, Config());
  EXPECT_LT(f, 0);
  EXPECT_NE(error_.find("No such file"), std::string::npos) << error_;
}

TEST_F(OpenTest, ForeignDataUnderThePrefixIsReportedNotTrusted) {
  const std::string path = MakeFile("foreign.h5");
  const std::string lock = LockHash(NameOf(path));
  redis_.Command({"SET", lock, "not a hash"});
  hid_t f = Open(path, H5F_ACC_RDONLY, Config());
  EXPECT_LT(f, 0);
  std::string err = error_;
  EXPECT_NE(err.find("did not write"), std::string::npos) << err;
  EXPECT_NE(err.find(path), std::string::npos) << err;
  redis_.Command({"DEL", lock});

  // A writer holds it, and a waiter's entry is garbage.
  redis_.Command({"HSET", lock, "m", "w1", "n", "1", "f", "1", "e:other",
                  "w 1000 99999999999999 1 1 1 - 1 1 hk - - elsewhere", "e:bogus", "not an entry"});
  redis_.Command({"ZADD", LockQueue(NameOf(path)), "1", "bogus"});
  f = Open(path, H5F_ACC_RDONLY, Config(0));
  EXPECT_LT(f, 0);
  err = error_;
  EXPECT_NE(err.find("did not write"), std::string::npos) << err;
}

TEST_F(OpenTest, LockKeptByAnOlderLayoutIsNotTakenForFree) {
  // h5redislock before the one-hash layout kept a held lock in five keys;
  // the holder's entry is in <base>:lease while it lives.
  const std::string path = MakeFile("older.h5");
  const std::string base = LockKeys(h5redislock::Config::kDefaultPrefix, NameOf(path)).base();
  redis_.Command({"ZADD", base + ":lease", "99999999999999", "older-holder"});
  redis_.Command({"ZADD", base + ":held", "1", "older-holder"});
  hid_t f = Open(path, H5F_ACC_RDWR, Config(0));
  EXPECT_LT(f, 0) << "a lock an older h5redislock holds was taken for free";
  EXPECT_NE(error_.find("older h5redislock"), std::string::npos) << error_;
  EXPECT_NE(error_.find(path), std::string::npos) << error_;
  redis_.Command({"DEL", base + ":lease", base + ":held"});
  f = Open(path, H5F_ACC_RDWR, Config(0));
  EXPECT_GE(f, 0) << error_;
  EXPECT_GE(H5Fclose(f), 0);
}

TEST_F(OpenTest, WrongPasswordIsAClearErrorWithoutThePassword) {
  RedisServer secured({"--requirepass", "right-pass-123"});
  const std::string path = dir_.File("auth.h5");
  std::string pwfile = dir_.File("pw");
  std::ofstream(pwfile) << "right-pass-123\n";
  hid_t ok_fapl = LockedFapl("url=unix://" + secured.socket() + ";password_file=" + pwfile);
  EXPECT_TRUE(CreateFileWithDatasets(path, ok_fapl, {"x"}, 4, H5T_STD_I32LE)) << ErrorText();
  H5Pclose(ok_fapl);

  std::string badfile = dir_.File("badpw");
  std::ofstream(badfile) << "wrong-pass-456\n";
  hid_t f = Open(path, H5F_ACC_RDONLY, "url=unix://" + secured.socket() + ";password_file=" + badfile);
  EXPECT_LT(f, 0);
  std::string err = error_;
  EXPECT_NE(err.find("refused the credentials"), std::string::npos) << err;
  EXPECT_EQ(err.find("wrong-pass-456"), std::string::npos) << err;

  f = Open(path, H5F_ACC_RDONLY, "url=unix://" + secured.socket());
  EXPECT_LT(f, 0);
  err = error_;
  EXPECT_NE(err.find("requires a password"), std::string::npos) << err;
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
