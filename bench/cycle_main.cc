// cycle_main.cc: case 8, the driver's CPU cost per open/close cycle as an
// instruction count, which unlike a time repeats from run to run. Run under
// callgrind with collection off at the start:
//
//   H5REDISLOCK_BENCH_URL=unix:///path/redis.sock valgrind --tool=callgrind
//       --collect-atstart=no --callgrind-out-file=OUT h5redislock_cycle redislock read 200
//
// Usage: h5redislock_cycle sec2|redislock|cached read|write CYCLES
// (cached: the driver with linger=30, whose lock stays cached between cycles)
//
// Warm-up cycles first (loading the plugin, connecting to Redis, starting
// the lease keeper); then collection is switched on for exactly CYCLES
// H5Fopen/H5Fclose cycles. OUT's "totals:" line divided by CYCLES is this
// process's instructions per cycle, all its threads included, the Redis
// server's not; the driver's own cost is redislock's count minus sec2's.
#include <valgrind/callgrind.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "data_file.h"
#include "environment.h"
#include "schemes.h"

namespace h5redislock {
namespace bench {
namespace {

constexpr int kWarmUpCycles = 20;

bool Cycles(Scheme& scheme, const std::string& path, bool write, int cycles) {
  for (int i = 0; i < cycles; ++i) {
    hid_t file = scheme.Open(path, write);
    if (file < 0 || !scheme.Close(file)) return false;
  }
  return true;
}

int Run(int argc, char** argv) {
  const std::string driver = argc == 4 ? argv[1] : "";
  if (argc != 4 || (driver != "sec2" && driver != "redislock" && driver != "cached") ||
      (std::strcmp(argv[2], "read") && std::strcmp(argv[2], "write")) || std::atoi(argv[3]) <= 0) {
    std::fprintf(stderr, "usage: %s sec2|redislock|cached read|write CYCLES\n", argv[0]);
    return 2;
  }
  const SchemeKind kind = driver == "sec2"        ? SchemeKind::kSec2
                          : driver == "redislock" ? SchemeKind::kRedisLock
                                                  : SchemeKind::kRedisLockCached;
  const bool write = std::strcmp(argv[2], "write") == 0;
  const int cycles = std::atoi(argv[3]);
  UseBuiltPlugin();
  const std::string path = ScratchPath("cycle.h5");
  bool ok = MakeDataFile(path, 1024);
  {
    auto scheme = Scheme::Make(kind);
    ok = ok && Cycles(*scheme, path, write, kWarmUpCycles);
    CALLGRIND_TOGGLE_COLLECT;
    ok = ok && Cycles(*scheme, path, write, cycles);
    CALLGRIND_TOGGLE_COLLECT;
  }
  RemoveScratch();
  if (!ok) std::fprintf(stderr, "%s: an open/close cycle failed\n", argv[0]);
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace bench
}  // namespace h5redislock

int main(int argc, char** argv) { return h5redislock::bench::Run(argc, argv); }
