// journal_test.cc: a writer that dies in mid-session never leaves a corrupt
// file. The crash matrix kills a writer after each of its writes in turn
// (vfd/driver/test_seams.h); the random test kills writers while readers read.
// With journal=off both fail (checked by hand once: see the README).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include "hdf5_files.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

const hsize_t kWidth = 16;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The file every session starts from: an extendible chunked dataset, a dense
// contiguous one, an attribute and a few groups.
void MakeBaseFile(const std::string& path, hid_t fapl, bool latest_format) {
  hid_t access = H5Pcopy(fapl);
  if (latest_format) H5Pset_libver_bounds(access, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
  H5File f(path, H5F_ACC_TRUNC, access, true);
  H5Pclose(access);
  ASSERT_TRUE(f.ok()) << ErrorText();
  hsize_t dims[2] = {16, kWidth}, max[2] = {H5S_UNLIMITED, kWidth}, chunk[2] = {8, kWidth};
  hid_t space = H5Screate_simple(2, dims, max);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 2, chunk);
  hid_t d = H5Dcreate2(f.id(), "chunked", H5T_STD_I32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  std::vector<int> rows(16 * kWidth);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int>(i);
  H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data());
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
  hsize_t dense_dims[2] = {64, 1024};
  space = H5Screate_simple(2, dense_dims, nullptr);
  d = H5Dcreate2(f.id(), "dense", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<float> dense(64 * 1024, 1.5f);
  H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dense.data());
  H5Dclose(d);
  H5Sclose(space);
  hsize_t n = 8;
  space = H5Screate_simple(1, &n, nullptr);
  hid_t a = H5Acreate2(f.id(), "meta", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
  int meta[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  H5Awrite(a, H5T_NATIVE_INT, meta);
  H5Aclose(a);
  H5Sclose(space);
  for (const char* g : {"g0", "g1", "g2"}) H5Gclose(H5Gcreate2(f.id(), g, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  ASSERT_GE(f.Close(), 0);
}

// One write session of each kind the issue names; true if every call succeeded.
enum class Session { kAppendRows, kOverwriteChunk, kUpdateAttributes, kGroups, kRewriteDataset };

bool RunSession(hid_t file, Session kind, int salt) {
  bool ok = true;
  switch (kind) {
    case Session::kAppendRows: {
      hid_t d = H5Dopen2(file, "chunked", H5P_DEFAULT);
      hid_t space = H5Dget_space(d);
      hsize_t dims[2];
      H5Sget_simple_extent_dims(space, dims, nullptr);
      H5Sclose(space);
      hsize_t grown[2] = {dims[0] + 8, kWidth};
      ok = H5Dset_extent(d, grown) >= 0;
      space = H5Dget_space(d);
      hsize_t start[2] = {dims[0], 0}, count[2] = {8, kWidth};
      H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
      hid_t mem = H5Screate_simple(2, count, nullptr);
      std::vector<int> rows(8 * kWidth, salt);
      ok = ok && H5Dwrite(d, H5T_NATIVE_INT, mem, space, H5P_DEFAULT, rows.data()) >= 0;
      H5Sclose(mem);
      H5Sclose(space);
      H5Dclose(d);
      break;
    }
    case Session::kOverwriteChunk: {
      hid_t d = H5Dopen2(file, "chunked", H5P_DEFAULT);
      hid_t space = H5Dget_space(d);
      hsize_t start[2] = {0, 0}, count[2] = {8, kWidth};
      H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
      hid_t mem = H5Screate_simple(2, count, nullptr);
      std::vector<int> rows(8 * kWidth, -salt);
      ok = H5Dwrite(d, H5T_NATIVE_INT, mem, space, H5P_DEFAULT, rows.data()) >= 0;
      H5Sclose(mem);
      H5Sclose(space);
      H5Dclose(d);
      break;
    }
    case Session::kUpdateAttributes: {
      hid_t a = H5Aopen(file, "meta", H5P_DEFAULT);
      int meta[8] = {salt, salt, salt, salt, salt, salt, salt, salt};
      ok = H5Awrite(a, H5T_NATIVE_INT, meta) >= 0;
      H5Aclose(a);
      hsize_t n = 64;
      hid_t space = H5Screate_simple(1, &n, nullptr);
      std::string name = "extra" + std::to_string(salt);
      a = H5Acreate2(file, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
      std::vector<long long> extra(64, salt);
      ok = ok && a >= 0 && H5Awrite(a, H5T_NATIVE_LLONG, extra.data()) >= 0;
      H5Aclose(a);
      H5Sclose(space);
      break;
    }
    case Session::kGroups: {
      for (int i = 0; i < 4; ++i) {
        std::string name = "new" + std::to_string(salt) + "_" + std::to_string(i);
        hid_t g = H5Gcreate2(file, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        ok = ok && g >= 0;
        H5Gclose(g);
      }
      ok = ok && H5Ldelete(file, "g1", H5P_DEFAULT) >= 0;
      break;
    }
    case Session::kRewriteDataset: {
      std::vector<float> dense(64 * 1024, static_cast<float>(salt));
      ok = WriteAll(file, "dense", H5T_NATIVE_FLOAT, dense.data());
      break;
    }
  }
  return ok;
}

const char* Name(Session kind) {
  switch (kind) {
    case Session::kAppendRows: return "AppendRows";
    case Session::kOverwriteChunk: return "OverwriteChunk";
    case Session::kUpdateAttributes: return "UpdateAttributes";
    case Session::kGroups: return "CreateAndDeleteGroups";
    case Session::kRewriteDataset: return "RewriteDataset";
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
class CrashMatrix : public ::testing::TestWithParam<std::tuple<Session, bool, bool>> {
 protected:
  CrashMatrix() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
  std::string Config() const {
    return "url=" + redis_.url() + ";retain=0;timeout=30;durable=" + (std::get<2>(GetParam()) ? "1" : "0") +
           JournalSetting();
  }
  RedisServer redis_;
  TempDir dir_;
};

// After the writer is killed following its k-th write, for every k, the next
// open succeeds and the file is exactly the file before the session.
TEST_P(CrashMatrix, KilledAfterEveryWriteLeavesTheFileAsBefore) {
  const auto [kind, latest, durable] = GetParam();
  const std::string path = dir_.File("matrix.h5");
  hid_t fapl = LockedFapl(Config());
  MakeBaseFile(path, fapl, latest);
  const std::string before = Slurp(path);
  int kills = 0;
  for (int k = 1;; ++k) {
    ASSERT_LT(k, 500) << "the session never finished";
    pid_t writer = RunChild([&] {
      setenv("H5REDISLOCK_TEST_KILL_AFTER_WRITES", std::to_string(k).c_str(), 1);
      H5File f(path, H5F_ACC_RDWR, fapl);
      bool ok = f.ok() && RunSession(f.id(), kind, 1000 + k);
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
    ::testing::Combine(::testing::Values(Session::kAppendRows, Session::kOverwriteChunk, Session::kUpdateAttributes,
                                         Session::kGroups, Session::kRewriteDataset),
                       ::testing::Bool(), ::testing::Bool()),
    [](const ::testing::TestParamInfo<std::tuple<Session, bool, bool>>& info) {
      return std::string(Name(std::get<0>(info.param))) + (std::get<1>(info.param) ? "Latest" : "Default") +
             (std::get<2>(info.param) ? "Durable" : "");
    });

// Writers killed at random moments of their sessions while readers read:
// readers only ever see committed states, and the file ends as the sum of
// the sessions that committed.
TEST(RandomKills, ReadersSeeOnlyCommittedStates) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  RedisServer redis;
  TempDir dir;
  const std::string path = dir.File("random.h5");
  const std::string config = "url=" + redis.url() + ";retain=0;timeout=60" + JournalSetting();
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
