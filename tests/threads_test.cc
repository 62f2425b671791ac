// threads_test.cc: the driver's per-process state (lock table, connection
// pools, lease keeper) under many threads. Run under ThreadSanitizer by
// `scripts/test --tsan`, which also links a thread-safe HDF5 so that the
// second test can open files from many threads at once.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "hdf5_files.h"
#include "lock/config.h"
#include "lock/lock_table.h"
#include "polling.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

TEST(ThreadsTest, LockTableFromManyThreads) {
  RedisServer redis;
  Config config;
  ASSERT_TRUE(ParseConfig("url=" + redis.url() + ";retain=0;lease=2", &config).ok());
  const int kThreads = 8, kRounds = 60;
  std::atomic<int> failures{0}, upgrades{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      LockTable& table = LockTable::ForThisProcess();
      for (int i = 0; i < kRounds; ++i) {
        // Every thread shares "common" for reading; pairs of threads share a
        // lock they take for writing (the process holds it once for both).
        std::shared_ptr<HeldLock> common, pair;
        Status s = table.Acquire(config, "common", LockMode::kRead, "common", &common);
        if (!s.ok()) ++failures;
        s = table.Acquire(config, "pair-" + std::to_string(t / 2), LockMode::kWrite, "pair", &pair);
        if (s.code() == Status::Code::kUpgrade) ++upgrades;
        else if (!s.ok()) ++failures;
        if (pair && !table.Release(pair).ok()) ++failures;
        if (common && !table.Release(common).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(upgrades.load(), 0) << "no thread holds a pair lock for reading";
  EXPECT_EQ(redis.Keys("h5redislock:*").size(), 0u) << "every reference released: nothing left in Redis";
}

TEST(ThreadsTest, ManyThreadsOpenAndCloseFiles) {
  hbool_t threadsafe = false;
  H5is_library_threadsafe(&threadsafe);
  if (!threadsafe) GTEST_SKIP() << "HDF5 is not thread-safe here; scripts/test --tsan runs this on one that is";
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  RedisServer redis;
  TempDir dir;
  const std::string config = "url=" + redis.url() + ";retain=0;timeout=60";
  const int kThreads = 6, kRounds = 25;
  const std::string shared = dir.File("shared.h5");
  {
    hid_t fapl = LockedFapl(config);
    ASSERT_TRUE(CreateFileWithDatasets(shared, fapl, {"x"}, 8, H5T_STD_I32LE));
    H5Pclose(fapl);
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string own = dir.File("own-" + std::to_string(t) + ".h5");
      for (int i = 0; i < kRounds; ++i) {
        hid_t fapl = LockedFapl(config);
        if (!CreateFileWithDatasets(own, fapl, {"x"}, 8, H5T_STD_I32LE)) ++failures;
        hid_t f = H5Fopen(shared.c_str(), H5F_ACC_RDONLY, fapl);
        int data[8];
        if (f < 0 || !ReadAll(f, "x", H5T_NATIVE_INT, data) || H5Fclose(f) < 0) ++failures;
        H5Pclose(fapl);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  // The threads' last closes cached their locks (the driver's default); a
  // program's end (H5close) lets them go, their releases sent without
  // waiting for the replies.
  H5close();
  EXPECT_TRUE(WaitFor([&] { return redis.Keys("h5redislock:*").empty(); }, 5))
      << redis.Keys("h5redislock:*").size() << " keys left in Redis";
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
