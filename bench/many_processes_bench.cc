// many_processes_bench.cc: case 7, many processes: kProcesses processes, each
// doing kCycles open/close cycles on one of kFiles files (process i on file
// i % kFiles), one cycle in ten for writing, all started together. Reported:
// the total throughput (cycles per second) against the same processes on
// sec2, and the Redis server's CPU time per acquire (INFO cpu), which PING's
// server CPU time (same run) puts in proportion; without lock caching and
// with it (a writer's open revokes the readers' cached locks on its file).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <vector>

#include "data_file.h"
#include "environment.h"
#include "processes.h"
#include "schemes.h"
#include "server_counters.h"

namespace h5redislock {
namespace bench {
namespace {

constexpr int kProcesses = 100;
constexpr int kFiles = 10;
constexpr int kCycles = 200;

const std::vector<std::string>& Files() {
  static const std::vector<std::string> paths = [] {
    std::vector<std::string> made;
    for (int i = 0; i < kFiles; ++i) {
      made.push_back(ScratchPath("many_" + std::to_string(i) + ".h5"));
      if (!MakeDataFile(made.back(), 1024)) Fatal("cannot create " + made.back());
    }
    return made;
  }();
  return paths;
}

bool Worker(SchemeKind kind, int index, StartSignal& start, double* finished) {
  auto scheme = Scheme::Make(kind);
  const std::string& path = Files()[index % kFiles];
  start.Await();
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    hid_t file = scheme->Open(path, (cycle + index) % 10 == 0);
    if (file < 0 || !scheme->Close(file)) return false;
  }
  *finished = Now();
  return true;
}

void ManyProcesses(benchmark::State& state, SchemeKind kind) {
  Files();
  auto stats = ConnectToRedis();
  const ServerStats before = ReadServerStats(*stats);
  const double seconds = RunTogetherEachIteration(state, kProcesses, [&](int i, StartSignal& start, double* finished) {
    return Worker(kind, i, start, finished);
  });
  if (seconds < 0) return;
  const double cycles = static_cast<double>(state.iterations()) * kProcesses * kCycles;
  state.counters["cycles_per_s"] = cycles / seconds;
  state.counters["processes"] = kProcesses;
  state.counters["cycles_per_process"] = kCycles;
  SetServerCounters(state, ReadServerStats(*stats) - before, cycles);
}

[[maybe_unused]] const bool registered = [] {
  for (SchemeKind kind : {SchemeKind::kSec2, SchemeKind::kRedisLock, SchemeKind::kRedisLockCached}) {
    std::string name = std::string("many/") + SchemeName(kind);
    benchmark::RegisterBenchmark(name.c_str(), ManyProcesses, kind)
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
}  // namespace bench
}  // namespace h5redislock
