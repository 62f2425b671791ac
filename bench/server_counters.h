// server_counters.h: the Redis server's share of a measurement, as Google
// Benchmark counters per lock cycle (one acquire and its release):
//   commands        every command the server ran (INFO commandstats),
//                   including those inside Lua scripts
//   requests        commands clients sent (see ServerStats::Requests)
//   server_cpu_us   the server's CPU time (INFO cpu)
// plus "cmd_<name>" per command, so the JSON shows what the count is made of.
#ifndef H5REDISLOCK_BENCH_SERVER_COUNTERS_H_
#define H5REDISLOCK_BENCH_SERVER_COUNTERS_H_

#include <benchmark/benchmark.h>

#include "redis_stats.h"

namespace h5redislock {
namespace bench {

void SetServerCounters(benchmark::State& state, const ServerStats& used, double cycles);

}  // namespace bench
}  // namespace h5redislock

#endif  // H5REDISLOCK_BENCH_SERVER_COUNTERS_H_
