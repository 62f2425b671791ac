// redis_stats.h: what the Redis server says it did, read before and after a
// measurement: calls per command (INFO commandstats) and its CPU time
// (INFO cpu). The benchmark's server is private, so a difference is exactly
// what the measured code caused.
//
// commandstats counts the commands a Lua function or script runs as well as
// the FCALL or EVALSHA that ran it: with them, the count is the server's
// work, and the requests clients sent are the FCALL, EVALSHA, EVAL and BLPOP
// calls alone.
#ifndef H5REDISLOCK_BENCH_REDIS_STATS_H_
#define H5REDISLOCK_BENCH_REDIS_STATS_H_

#include <map>
#include <string>

#include "redis/redis_connection.h"

namespace h5redislock {
namespace bench {

struct ServerStats {
  std::map<std::string, long long> calls;  // command name (lower case) -> calls
  double cpu_s = 0;                        // user + system CPU time of the server

  // Calls of every command, without the INFO commands that read the stats.
  long long TotalCalls() const;
  // Requests clients sent: if functions or scripts ran, the FCALL, EVALSHA,
  // EVAL and BLPOP calls (what else was counted ran inside them); otherwise
  // every call.
  // Right for the schemes measured here: the driver sends nothing but
  // scripts and BLPOP, the polling lock no script at all.
  long long Requests() const;
};

// Reads the server's counters; exits on failure (see environment.h).
ServerStats ReadServerStats(RedisConnection& conn);

// after - before, command by command.
ServerStats operator-(const ServerStats& after, const ServerStats& before);

}  // namespace bench
}  // namespace h5redislock

#endif  // H5REDISLOCK_BENCH_REDIS_STATS_H_
