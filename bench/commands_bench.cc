// commands_bench.cc: case 5, Redis commands per acquire, from INFO
// commandstats before and after: uncontended (one process, write-mode
// open/close cycles) and with two writers taking turns (ping_pong.h) so that
// each acquire waits about 1 ms, 10 ms, 100 ms or 1 s.
//
// A waiter that blocks sends the same commands however long it waits: the
// target is that the driver's count does not grow with the wait. A waiter
// that polls (the seed's lock, case 6) sends more the longer it waits.
// Counts are per lock cycle (an acquire and its release), and include the
// commands Lua scripts run (see redis_stats.h); "requests" counts what the
// clients sent.
#include <benchmark/benchmark.h>

#include "data_file.h"
#include "environment.h"
#include "ping_pong.h"
#include "server_counters.h"

namespace h5redislock {
namespace bench {
namespace {

constexpr int kUncontendedCycles = 200;

struct Wait {
  const char* name;
  double seconds;
  int rounds;  // enough hand-offs for a stable count, about a second or more in all
};
constexpr Wait kWaits[] = {{"1ms", 0.001, 200}, {"10ms", 0.01, 50}, {"100ms", 0.1, 10}, {"1s", 1.0, 4}};

const std::string& LockedFile() {
  static const std::string path = [] {
    std::string p = ScratchPath("commands.h5");
    if (!MakeDataFile(p, 1024)) Fatal("cannot create " + p);
    return p;
  }();
  return path;
}

void Uncontended(benchmark::State& state, SchemeKind kind) {
  auto scheme = Scheme::Make(kind);
  auto stats = ConnectToRedis();
  const ServerStats before = ReadServerStats(*stats);
  for (auto _ : state) {
    for (int i = 0; i < kUncontendedCycles; ++i) {
      hid_t file = scheme->Open(LockedFile(), true);
      if (file < 0 || !scheme->Close(file)) {
        state.SkipWithError("open/close failed");
        return;
      }
    }
  }
  SetServerCounters(state, ReadServerStats(*stats) - before,
                    static_cast<double>(state.iterations() * kUncontendedCycles));
}

void Waiting(benchmark::State& state, SchemeKind kind, Wait wait) {
  PingPong spec;
  spec.turns = FileTurns(kind, LockedFile());
  spec.rounds = wait.rounds;
  spec.hold_s = wait.seconds;
  auto stats = ConnectToRedis();
  const ServerStats before = ReadServerStats(*stats);
  std::vector<Handoff> handoffs;
  for (auto _ : state) {
    if (!RunPingPong(spec, &handoffs)) {
      state.SkipWithError("a process of the ping-pong failed");
      return;
    }
  }
  // Every round's acquire waited, and process 0 acquired once more at the start.
  SetServerCounters(state, ReadServerStats(*stats) - before,
                    static_cast<double>(state.iterations() * (wait.rounds + 1)));
}

[[maybe_unused]] const bool registered = [] {
  for (SchemeKind kind : {SchemeKind::kRedisLock, SchemeKind::kPolling}) {
    const std::string prefix = std::string("commands/") + SchemeName(kind);
    benchmark::RegisterBenchmark((prefix + "/uncontended").c_str(), Uncontended, kind)
        ->Iterations(1)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    for (const Wait& wait : kWaits) {
      benchmark::RegisterBenchmark((prefix + "/wait_" + wait.name).c_str(), Waiting, kind, wait)
          ->Iterations(1)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  return true;
}();

}  // namespace
}  // namespace bench
}  // namespace h5redislock
