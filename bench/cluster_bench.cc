// cluster_bench.cc: case 10, locks spread over a Redis Cluster's shards:
// kProcesses processes, all started together, each take and release kCycles
// locks (the driver's lock table, without HDF5) among kLocks lock names, one
// in ten exclusive. Reported: acquisitions per second on a cluster of one
// shard and of three (masters without replicas, and replicas=0, so the
// shards' own cost is measured, not WAIT's), and on the one server of the
// other cases for comparison. scripts/bench starts the clusters and names them
// by $H5REDISLOCK_BENCH_CLUSTER1_URL and $H5REDISLOCK_BENCH_CLUSTER3_URL.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "environment.h"
#include "lock/config.h"
#include "lock/lock_table.h"
#include "processes.h"

namespace h5redislock {
namespace bench {
namespace {

constexpr int kProcesses = 12;
constexpr int kLocks = 240;
constexpr int kCycles = 200;

bool Worker(const std::string& url, int index, StartSignal& start, double* finished) {
  Config config;
  if (!ParseConfig("url=" + url + ";replicas=0;retain=0;timeout=60", &config).ok()) return false;
  LockTable& table = LockTable::ForThisProcess();
  start.Await();
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    const std::string name = "cluster-bench-" + std::to_string((index * 7919 + cycle * 31) % kLocks);
    const LockMode mode = (cycle + index) % 10 == 0 ? LockMode::kWrite : LockMode::kRead;
    std::shared_ptr<HeldLock> held;
    if (!table.Acquire(config, name, mode, name, &held).ok() || !table.Release(held).ok()) return false;
  }
  *finished = Now();
  return true;
}

// `url_variable` names the cluster's url; empty: the server of the other cases.
void Acquisitions(benchmark::State& state, const char* url_variable) {
  const char* named = *url_variable ? std::getenv(url_variable) : nullptr;
  if (*url_variable && !(named && *named)) {
    state.SkipWithError((std::string("no cluster: set ") + url_variable + " (scripts/bench does)").c_str());
    return;
  }
  const std::string url = named ? named : RedisUrl();
  const double seconds = RunTogetherEachIteration(state, kProcesses, [&](int i, StartSignal& start, double* finished) {
    return Worker(url, i, start, finished);
  });
  if (seconds < 0) return;
  state.counters["acquisitions_per_s"] = static_cast<double>(state.iterations()) * kProcesses * kCycles / seconds;
  state.counters["processes"] = kProcesses;
  state.counters["locks"] = kLocks;
}

[[maybe_unused]] const bool registered = [] {
  const std::pair<const char*, const char*> cases[] = {
      {"cluster/one_server", ""},
      {"cluster/shards:1", "H5REDISLOCK_BENCH_CLUSTER1_URL"},
      {"cluster/shards:3", "H5REDISLOCK_BENCH_CLUSTER3_URL"},
  };
  for (const auto& [name, variable] : cases)
    benchmark::RegisterBenchmark(name, Acquisitions, variable)
        ->Iterations(1)
        ->Repetitions(3)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
}  // namespace bench
}  // namespace h5redislock
