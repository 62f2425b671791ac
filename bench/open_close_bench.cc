// open_close_bench.cc: case 1, the uncontended open+close cycle: H5Fopen and
// H5Fclose of a small file, read-only and read-write, with nobody else
// around. The lock adds two requests to Redis (the ACQUIRE and LEAVE
// scripts); the target is that it adds at most 1.2 x the time of two PINGs
// to sec2's cycle. The polling lock shows the seed's cost (case 6).
//
// lock_cycle times each lock alone, without HDF5 (lock_clients.h): the
// driver's, to tell the protocol's cost from the rest of the driver's; the
// polling lock's; and the floor lock's, two trivial requests, which is what
// the target allows.
#include <benchmark/benchmark.h>

#include "data_file.h"
#include "environment.h"
#include "lock_clients.h"
#include "schemes.h"
#include "server_counters.h"

namespace h5redislock {
namespace bench {
namespace {

const std::string& SmallFile() {
  static const std::string path = [] {
    std::string p = ScratchPath("open_close.h5");
    if (!MakeDataFile(p, 1024)) Fatal("cannot create " + p);
    return p;
  }();
  return path;
}

void OpenClose(benchmark::State& state, SchemeKind kind, bool write) {
  const std::string& path = SmallFile();
  auto scheme = Scheme::Make(kind);
  auto stats = ConnectToRedis();
  const ServerStats before = ReadServerStats(*stats);
  for (auto _ : state) {
    hid_t file = scheme->Open(path, write);
    if (file < 0 || !scheme->Close(file)) {
      state.SkipWithError("open/close failed");
      break;
    }
  }
  SetServerCounters(state, ReadServerStats(*stats) - before, static_cast<double>(state.iterations()));
}

void LockCycle(benchmark::State& state, LockKind kind, bool write) {
  auto lock = LockClient::Make(kind);
  auto stats = ConnectToRedis();
  const ServerStats before = ReadServerStats(*stats);
  for (auto _ : state) {
    if (!lock->Acquire("bench-lock-cycle", write) || !lock->Release()) {
      state.SkipWithError("lock/unlock failed");
      break;
    }
  }
  SetServerCounters(state, ReadServerStats(*stats) - before, static_cast<double>(state.iterations()));
}

[[maybe_unused]] const bool registered = [] {
  for (SchemeKind kind : {SchemeKind::kSec2, SchemeKind::kRedisLock, SchemeKind::kPolling}) {
    for (bool write : {false, true}) {
      std::string name = std::string("open_close/") + SchemeName(kind) + (write ? "/write" : "/read");
      benchmark::RegisterBenchmark(name.c_str(), OpenClose, kind, write)
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
  for (LockKind kind : {LockKind::kRedisLock, LockKind::kPolling, LockKind::kFloor}) {
    for (bool write : {false, true}) {
      std::string name = std::string("lock_cycle/") + LockName(kind) + (write ? "/write" : "/read");
      benchmark::RegisterBenchmark(name.c_str(), LockCycle, kind, write)
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
  return true;
}();

}  // namespace
}  // namespace bench
}  // namespace h5redislock
