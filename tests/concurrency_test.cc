// concurrency_test.cc: what the lock is for, shown with real processes on real
// files. Each test fails without the lock: run the suite with
// H5REDISLOCK_TEST_DRIVER=sec2 (HDF5's file locking off) to see it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "hdf5_files.h"
#include "locked_file_test.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

using std::chrono::milliseconds;

struct Interval {
  double start = 0, end = 0;
  int writer = 0;
  int ok = 0;
};

void SleepSeconds(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

class ConcurrencyTest : public OneServerTest {
 protected:
  std::string Config(const std::string& extra = "") const { return ServerConfig("timeout=120;retain=0" + extra); }
  // Opens `path` through the lock, runs `body` on the file, closes; records
  // the interval during which the file was open.
  bool Session(const std::string& path, bool write, Interval* interval,
               const std::function<bool(hid_t)>& body) {
    hid_t fapl = LockedFapl(Config());
    H5File f(path, write ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (!f.ok()) return false;
    if (interval) interval->start = MonotonicSeconds();
    bool ok = body(f.id());
    if (interval) {
      interval->end = MonotonicSeconds();
      interval->writer = write;
    }
    return f.Close() >= 0 && ok;
  }
};

// Writers' intervals overlap nothing; returns how many reader pairs overlapped.
int CheckExclusion(SharedArray<Interval>& iv) {
  int reader_overlaps = 0;
  for (size_t i = 0; i < iv.size(); ++i) {
    for (size_t j = i + 1; j < iv.size(); ++j) {
      bool overlap = iv[i].start < iv[j].end && iv[j].start < iv[i].end;
      if (!overlap) continue;
      EXPECT_FALSE(iv[i].writer || iv[j].writer)
          << "a writer overlapped another session: " << i << " [" << iv[i].start << ", " << iv[i].end << ") and "
          << j << " [" << iv[j].start << ", " << iv[j].end << ")";
      ++reader_overlaps;
    }
  }
  return reader_overlaps;
}

// 1. Read-modify-write increments from many processes lose nothing.
TEST_F(ConcurrencyTest, NoLostUpdates) {
  const std::string path = dir_.File("counter.h5");
  hid_t fapl = LockedFapl(Config());
  ASSERT_TRUE(CreateFileWithDatasets(path, fapl, {"counter"}, 1, H5T_STD_I64LE));
  H5Pclose(fapl);
  const int kProcesses = 8, kIncrements = 25;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    children.push_back(RunChild([&] {
      for (int k = 0; k < kIncrements; ++k) {
        bool ok = Session(path, true, nullptr, [](hid_t f) {
          long long v = 0;
          if (!ReadAll(f, "counter", H5T_NATIVE_LLONG, &v)) return false;
          ++v;
          return WriteAll(f, "counter", H5T_NATIVE_LLONG, &v);
        });
        if (!ok) return 1;
      }
      return 0;
    }));
  }
  EXPECT_EQ(WaitChildren(children), 0);
  long long final_value = -1;
  ASSERT_TRUE(Session(path, false, nullptr, [&](hid_t f) { return ReadAll(f, "counter", H5T_NATIVE_LLONG, &final_value); }));
  EXPECT_EQ(final_value, kProcesses * kIncrements);
}

// 2. Readers never see a half-written dataset: data and its checksum agree.
TEST_F(ConcurrencyTest, NoTornReads) {
  const std::string path = dir_.File("pattern.h5");
  const hsize_t kLength = 1 << 18;  // 1 MiB of int32
  hid_t fapl = LockedFapl(Config());
  ASSERT_TRUE(CreateFileWithDatasets(path, fapl, {"data"}, kLength, H5T_STD_I32LE));
  ASSERT_TRUE(Session(path, true, nullptr, [&](hid_t f) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(f, "sum", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    long long zero = 0;
    bool ok = d >= 0 && H5Dwrite(d, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, &zero) >= 0;
    H5Dclose(d);
    H5Sclose(space);
    return ok;
  }));
  H5Pclose(fapl);

  const int kWriters = 3, kWrites = 12, kReaders = 5, kReads = 25;
  SharedArray<int> torn(kReaders), failed(kReaders);
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    children.push_back(RunChild([&, w] {
      std::vector<int> data(kLength);
      for (int i = 0; i < kWrites; ++i) {
        int value = (w + 1) * 1000 + i;
        std::fill(data.begin(), data.end(), value);
        long long sum = static_cast<long long>(value) * kLength;
        bool ok = Session(path, true, nullptr, [&](hid_t f) {
          // Data first, then its checksum: a reader in between would see
          // new data with the old sum.
          return WriteAll(f, "data", H5T_NATIVE_INT, data.data()) && WriteAll(f, "sum", H5T_NATIVE_LLONG, &sum);
        });
        if (!ok) return 1;
      }
      return 0;
    }));
  }
  for (int r = 0; r < kReaders; ++r) {
    children.push_back(RunChild([&, r] {
      std::vector<int> data(kLength);
      for (int i = 0; i < kReads; ++i) {
        long long sum = -1;
        bool ok = Session(path, false, nullptr, [&](hid_t f) {
          return ReadAll(f, "data", H5T_NATIVE_INT, data.data()) && ReadAll(f, "sum", H5T_NATIVE_LLONG, &sum);
        });
        if (!ok) {
          ++failed[r];
          continue;
        }
        long long actual = 0;
        for (int v : data) actual += v;
        bool uniform = std::all_of(data.begin(), data.end(), [&](int v) { return v == data[0]; });
        if (!uniform || actual != sum) ++torn[r];
      }
      return 0;
    }));
  }
  EXPECT_EQ(WaitChildren(children), 0);
  for (int r = 0; r < kReaders; ++r) {
    EXPECT_EQ(torn[r], 0) << "reader " << r << " saw data and checksum disagree";
    EXPECT_EQ(failed[r], 0) << "reader " << r << " could not read the file";
  }
}

// 3. Readers hold the lock together; a writer holds it alone.
TEST_F(ConcurrencyTest, ReadersOverlapWritersAlone) {
  const std::string path = dir_.File("overlap.h5");
  hid_t fapl = LockedFapl(Config());
  ASSERT_TRUE(CreateFileWithDatasets(path, fapl, {"x"}, 16, H5T_STD_I32LE));
  H5Pclose(fapl);
  const int kReaders = 6, kWriters = 3;
  SharedArray<Interval> iv(kReaders + kWriters);
  std::vector<pid_t> children;
  for (int i = 0; i < kReaders + kWriters; ++i) {
    bool writer = i % 3 == 2;
    children.push_back(RunChild([&, i, writer] {
      return Session(path, writer, &iv[i], [&](hid_t) {
               SleepSeconds(writer ? 0.1 : 0.3);
               return true;
             })
                 ? 0
                 : 1;
    }));
  }
  EXPECT_EQ(WaitChildren(children), 0);
  EXPECT_GE(CheckExclusion(iv), 1) << "no two readers ever held the lock together";
}

// 4. Writer preference: readers that keep the lock busy among themselves do
// not starve a waiting writer, and the writer still holds it alone.
TEST_F(ConcurrencyTest, WaitingWriterIsNotStarvedByReaders) {
  const std::string path = dir_.File("preference.h5");
  hid_t fapl = LockedFapl(Config());
  ASSERT_TRUE(CreateFileWithDatasets(path, fapl, {"x"}, 16, H5T_STD_I32LE));
  H5Pclose(fapl);
  const int kReaders = 4, kHoldsPerReader = 30;
  const double kReaderHold = 0.2, kRunFor = 4.0;
  const double t0 = MonotonicSeconds();
  SharedArray<Interval> iv(kReaders * kHoldsPerReader + 1);  // the writer's is the last
  SharedArray<double> writer_wait(1);
  std::vector<pid_t> children;
  for (int r = 0; r < kReaders; ++r) {
    children.push_back(RunChild([&, r] {
      SleepSeconds(r * kReaderHold / kReaders);  // staggered: some reader always holds
      for (int k = 0; k < kHoldsPerReader && MonotonicSeconds() - t0 < kRunFor; ++k) {
        if (!Session(path, false, &iv[r * kHoldsPerReader + k], [&](hid_t) {
              SleepSeconds(kReaderHold);
              return true;
            }))
          return 1;
      }
      return 0;
    }));
  }
  children.push_back(RunChild([&] {
    SleepSeconds(0.8);
    double asked = MonotonicSeconds();
    bool ok = Session(path, true, &iv[iv.size() - 1], [&](hid_t) {
      writer_wait[0] = MonotonicSeconds() - asked;
      SleepSeconds(0.05);
      return true;
    });
    return ok ? 0 : 1;
  }));
  EXPECT_EQ(WaitChildren(children), 0);
  CheckExclusion(iv);
  // The writer waits for the readers holding when it arrives (at most one
  // hold), not for the readers' loop to end (3 s later).
  EXPECT_LT(writer_wait[0], 2 * kReaderHold + 0.5);
}

// 5a. The seed's lock test: 100 processes on one lock, every 6th a writer.
// Afterwards no key of the lock is left in Redis.
TEST_F(ConcurrencyTest, SeedHundredProcessesOneLock) {
  const std::string path = dir_.File("seed-locks.h5");
  hid_t fapl = LockedFapl(Config());
  ASSERT_TRUE(CreateFileWithDatasets(path, fapl, {"counter"}, 1, H5T_STD_I64LE));
  H5Pclose(fapl);
  const int kProcesses = 100;
  SharedArray<Interval> iv(kProcesses);
  std::vector<pid_t> children;
  for (int i = 0; i < kProcesses; ++i) {
    bool writer = i % 6 == 0;
    children.push_back(RunChild([&, i, writer] {
      bool ok = Session(path, writer, &iv[i], [&](hid_t f) {
        long long v = 0;
        if (!ReadAll(f, "counter", H5T_NATIVE_LLONG, &v)) return false;
        SleepSeconds(0.01);
        ++v;
        return !writer || WriteAll(f, "counter", H5T_NATIVE_LLONG, &v);
      });
      return ok ? 0 : 1;
    }));
  }
  EXPECT_EQ(WaitChildren(children), 0);
  CheckExclusion(iv);
  long long counter = 0;
  ASSERT_TRUE(Session(path, false, nullptr, [&](hid_t f) { return ReadAll(f, "counter", H5T_NATIVE_LLONG, &counter); }));
  EXPECT_EQ(counter, (kProcesses + 5) / 6);
  // This process's read lock may be cached (LingerSetting): it goes when
  // HDF5 ends, as at a program's exit.
  H5close();
  if (!RunningUnlocked()) {
    EXPECT_EQ(redis_.Keys("h5redislock:*").size(), 0u);
  }
}

// 5b. The seed's parallel test: ~40 processes on a file of large datasets,
// every 4th writing rows [0, 50) with its number; readers always see the
// rows of all datasets written by one writer; the parent checks every row.
TEST_F(ConcurrencyTest, SeedParallelLargeDatasets) {
  const std::string path = dir_.File("seed-parallel.h5");
  const hsize_t kRows = 200, kWidth = 1000, kWritten = 50;
  const std::vector<std::string> names = {"a", "b", "c", "d"};
  {
    hid_t fapl = LockedFapl(Config());
    H5File f(path, H5F_ACC_TRUNC, fapl, true);
    H5Pclose(fapl);
    ASSERT_TRUE(f.ok());
    hsize_t dims[2] = {kRows, kWidth};
    hid_t space = H5Screate_simple(2, dims, nullptr);
    std::vector<float> initial(kRows * kWidth, -1.0f);
    for (const auto& n : names) {
      hid_t d = H5Dcreate2(f.id(), n.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      ASSERT_GE(d, 0);
      ASSERT_GE(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, initial.data()), 0);
      H5Dclose(d);
    }
    H5Sclose(space);
  }
  const int kProcesses = 40;
  SharedArray<int> inconsistent(kProcesses);
  std::vector<pid_t> children;
  for (int i = 0; i < kProcesses; ++i) {
    children.push_back(RunChild([&, i] {
      std::vector<float> rows(kWritten * kWidth);
      if (i % 4 == 0) {
        std::fill(rows.begin(), rows.end(), static_cast<float>(i));
        return Session(path, true, nullptr, [&](hid_t f) {
                 for (const auto& n : names)
                   if (!WriteRows(f, n, 0, kWritten, kWidth, rows.data())) return false;
                 return true;
               })
                   ? 0
                   : 1;
      }
      return Session(path, false, nullptr, [&](hid_t f) {
               float first = 0;
               for (size_t k = 0; k < names.size(); ++k) {
                 if (!ReadRows(f, names[k], 0, kWritten, kWidth, rows.data())) return false;
                 if (k == 0) first = rows[0];
                 for (float v : rows)
                   if (v != first) ++inconsistent[i];
               }
               return true;
             })
                 ? 0
                 : 1;
    }));
  }
  EXPECT_EQ(WaitChildren(children), 0);
  for (int i = 0; i < kProcesses; ++i) EXPECT_EQ(inconsistent[i], 0) << "process " << i << " saw mixed rows";
  ASSERT_TRUE(Session(path, false, nullptr, [&](hid_t f) {
    std::vector<float> all(kRows * kWidth);
    float last = 0;
    for (size_t k = 0; k < names.size(); ++k) {
      EXPECT_TRUE(ReadRows(f, names[k], 0, kRows, kWidth, all.data()));
      if (k == 0) last = all[0];
      EXPECT_EQ(static_cast<int>(last) % 4, 0) << "rows [0, 50) hold no writer's number";
      for (hsize_t r = 0; r < kRows; ++r) {
        float want = r < kWritten ? last : -1.0f;
        bool row_ok = std::all_of(&all[r * kWidth], &all[(r + 1) * kWidth], [&](float v) { return v == want; });
        EXPECT_TRUE(row_ok) << names[k] << " row " << r << " is not all " << want;
        if (!row_ok) return false;
      }
    }
    return true;
  }));
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
