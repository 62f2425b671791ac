// journal_test.cc: a writer that dies in mid-session never leaves a corrupt
// file. The crash matrix kills a writer after each of its writes in turn
// (vfd/driver/test_seams.h), in each kind of session that the benchmark
// times (bench/write_sessions.h); the random test kills writers while
// readers read.
// With journal=off both fail (checked by hand once: see the README).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include "hdf5_files.h"
#include "locked_file_test.h"
#include "test_support.h"
#include "write_sessions.h"

namespace h5redislock {
namespace testing {
namespace {

using bench::SessionFile;
using bench::WriteSession;

// Small enough that a kill after every write of every session stays quick.
constexpr SessionFile kFile = {/*width=*/16, /*chunk_rows=*/8, /*dense_values=*/64 * 1024};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The file every session starts from, with the latest format (v3
// superblock) or the default.
bool MakeBaseFile(const std::string& path, hid_t fapl, bool latest_format) {
  hid_t access = H5Pcopy(fapl);
  if (latest_format) H5Pset_libver_bounds(access, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
  const bool made = bench::MakeSessionFile(path, access, kFile);
  H5Pclose(access);
  return made;
}

const char* Name(WriteSession kind) {
  switch (kind) {
    case WriteSession::kAppendRows: return "AppendRows";
    case WriteSession::kOverwriteChunk: return "OverwriteChunk";
    case WriteSession::kUpdateAttributes: return "UpdateAttributes";
    case WriteSession::kGroups: return "CreateAndDeleteGroups";
    case WriteSession::kRewriteDataset: return "RewriteDataset";
  }
  return "?";
}

// "off" to see the tests fail by hand.
std::string JournalSetting() {
  const char* j = getenv("H5REDISLOCK_TEST_JOURNAL");
  return j ? std::string(";journal=") + j : "";
}

// Parameters: the session, whether the file uses the latest format (v3
// superblock), whether the journal is durable.
class CrashMatrix : public OneServerTest,
                    public ::testing::WithParamInterface<std::tuple<WriteSession, bool, bool>> {
 protected:
  std::string Config() const {
    return ServerConfig(std::string("retain=0;timeout=30;durable=") + (std::get<2>(GetParam()) ? "1" : "0") +
                        JournalSetting());
  }
};

// After the writer is killed following its k-th write, for every k, the next
// open succeeds and the file is exactly the file before the session.
TEST_P(CrashMatrix, KilledAfterEveryWriteLeavesTheFileAsBefore) {
  const auto [kind, latest, durable] = GetParam();
  const std::string path = dir_.File("matrix.h5");
  hid_t fapl = LockedFapl(Config());
  ASSERT_TRUE(MakeBaseFile(path, fapl, latest)) << ErrorText();
  const std::string before = Slurp(path);
  int kills = 0;
  for (int k = 1;; ++k) {
    ASSERT_LT(k, 500) << "the session never finished";
    pid_t writer = RunChild([&] {
      setenv("H5REDISLOCK_TEST_KILL_AFTER_WRITES", std::to_string(k).c_str(), 1);
      H5File f(path, H5F_ACC_RDWR, fapl);
      bool ok = f.ok() && bench::RunWriteSession(f.id(), kFile, kind, 1000 + k);
      return ok && f.Close() >= 0 ? 0 : 1;
    });
    int status = WaitChild(writer);
    if (status == 0) break;  // k passed the session's last write: it committed
    ASSERT_EQ(status, 128 + SIGKILL) << "the session failed on its own at k=" << k;
    ++kills;
    // The next holder (a reader here) rolls the session back before its open
    // returns; the file is then the file from before, byte for byte.
    H5File reader(path, H5F_ACC_RDONLY, fapl);
    ASSERT_TRUE(reader.ok()) << "k=" << k << ": " << ErrorText();
    ASSERT_GE(reader.Close(), 0);
    ASSERT_TRUE(Slurp(path) == before) << Name(kind) << ": the file differs after a kill after write " << k;
  }
  EXPECT_GT(kills, 0);
  // And the completed session is all there.
  EXPECT_NE(Slurp(path), before);
  struct stat st;
  EXPECT_NE(stat((path + "-redislock-journal").c_str(), &st), 0) << "a committed session left its journal";
  H5Pclose(fapl);
  std::printf("%s (%s format%s): killed after each of %d writes, rolled back every time\n", Name(kind),
              latest ? "latest" : "default", durable ? ", durable" : "", kills);
}

INSTANTIATE_TEST_SUITE_P(
    Sessions, CrashMatrix,
    ::testing::Combine(::testing::Values(WriteSession::kAppendRows, WriteSession::kOverwriteChunk,
                                         WriteSession::kUpdateAttributes, WriteSession::kGroups,
                                         WriteSession::kRewriteDataset),
                       ::testing::Bool(), ::testing::Bool()),
    [](const ::testing::TestParamInfo<std::tuple<WriteSession, bool, bool>>& test) {
      return std::string(Name(std::get<0>(test.param))) + (std::get<1>(test.param) ? "Latest" : "Default") +
             (std::get<2>(test.param) ? "Durable" : "");
    });

// Writers killed at random moments of their sessions while readers read:
// readers only ever see committed states, and the file ends as the sum of
// the sessions that committed.
TEST(RandomKills, ReadersSeeOnlyCommittedStates) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  RedisServer redis;
  TempDir dir;
  const std::string path = dir.File("random.h5");
  const std::string config = "url=" + redis.url() + ";retain=0;timeout=60" + JournalSetting() + LingerSetting();
  const hsize_t kValues = 4096;
  hid_t fapl = LockedFapl(config);
  ASSERT_TRUE(CreateFileWithDatasets(path, fapl, {"values", "sum"}, kValues, H5T_STD_I64LE));
  const double kRunFor = 8.0, t0 = MonotonicSeconds();
  SharedArray<long> reads(2), torn(2), failed(2);
  std::vector<pid_t> readers;
  for (int r = 0; r < 2; ++r) {
    readers.push_back(RunChild([&, r] {
      std::vector<long long> values(kValues), sum(kValues);
      while (MonotonicSeconds() - t0 < kRunFor) {
        H5File f(path, H5F_ACC_RDONLY, fapl);
        bool ok = f.ok() && ReadAll(f.id(), "values", H5T_NATIVE_LLONG, values.data()) &&
                  ReadAll(f.id(), "sum", H5T_NATIVE_LLONG, sum.data()) && f.Close() >= 0;
        if (!ok) {
          ++failed[r];
          continue;
        }
        ++reads[r];
        bool uniform = std::all_of(values.begin(), values.end(), [&](long long v) { return v == values[0]; });
        if (!uniform || sum[0] != values[0] * static_cast<long long>(kValues)) ++torn[r];
      }
      return 0;
    }));
  }
  std::mt19937 random(12345);
  long long committed = 0;
  int sessions = 0, killed = 0;
  while (MonotonicSeconds() - t0 < kRunFor) {
    int delta = 1 + static_cast<int>(random() % 9);
    long kill_after = random() % 2 ? 1 + static_cast<long>(random() % 4) : 0;  // 0: let it commit
    pid_t writer = RunChild([&] {
      if (kill_after) setenv("H5REDISLOCK_TEST_KILL_AFTER_WRITES", std::to_string(kill_after).c_str(), 1);
      std::vector<long long> values(kValues), sum(kValues);
      H5File f(path, H5F_ACC_RDWR, fapl);
      if (!f.ok() || !ReadAll(f.id(), "values", H5T_NATIVE_LLONG, values.data())) return 1;
      for (auto& v : values) v += delta;
      std::fill(sum.begin(), sum.end(), values[0] * static_cast<long long>(kValues));
      bool ok = WriteAll(f.id(), "values", H5T_NATIVE_LLONG, values.data()) &&
                WriteAll(f.id(), "sum", H5T_NATIVE_LLONG, sum.data());
      return ok && f.Close() >= 0 ? 0 : 1;
    });
    int status = WaitChild(writer);
    ++sessions;
    if (status == 0) committed += delta;
    else if (status == 128 + SIGKILL) ++killed;
    else ADD_FAILURE() << "a writer failed on its own: " << status;
  }
  EXPECT_EQ(WaitChildren(readers), 0);
  std::vector<long long> values(kValues);
  H5File f(path, H5F_ACC_RDONLY, fapl);
  ASSERT_TRUE(f.ok() && ReadAll(f.id(), "values", H5T_NATIVE_LLONG, values.data()));
  EXPECT_EQ(values[0], committed) << "the file is not the sum of the committed sessions";
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(torn[r], 0) << "reader " << r << " saw an uncommitted state";
    EXPECT_EQ(failed[r], 0) << "reader " << r << " could not read";
  }
  std::printf("sessions %d, killed %d, committed sum %lld, reads %ld, torn reads %ld\n", sessions, killed, committed,
              reads[0] + reads[1], torn[0] + torn[1]);
  H5Pclose(fapl);
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
