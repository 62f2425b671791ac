// ping_bench.cc: the physical limit. A PING is one round trip to the server
// and the least work it can do there. Here, plainly, for the server's CPU
// per PING, which puts its CPU per lock cycle (cases 5 and 7) in proportion;
// scripts/bench runs "ping" with every case, so that baseline is from the
// same minutes. (Cases 1 and 3 time PINGs themselves, beside what they
// measure.)
#include <benchmark/benchmark.h>

#include "environment.h"
#include "plain_redis.h"
#include "redis_stats.h"

namespace h5redislock {
namespace bench {
namespace {

void Ping(benchmark::State& state) {
  redisContext* c = ConnectPlain();
  auto stats = ConnectToRedis();
  const ServerStats before = ReadServerStats(*stats);
  for (auto _ : state) {
    if (!Request(c, {"PING"})) {
      state.SkipWithError("PING failed");
      break;
    }
  }
  const ServerStats used = ReadServerStats(*stats) - before;
  state.counters["server_cpu_us"] = benchmark::Counter(used.cpu_s * 1e6, benchmark::Counter::kAvgIterations);
  redisFree(c);
}

BENCHMARK(Ping)->Name("ping")->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace bench
}  // namespace h5redislock
