// environment.h: where the benchmarks run. The Redis server is the one
// scripts/bench started for this run (named by $H5REDISLOCK_BENCH_URL), the
// driver is the plugin of this build, and HDF5 files go to a scratch
// directory of the process.
//
// Thread-safety: call from the benchmark's main thread.
#ifndef H5REDISLOCK_BENCH_ENVIRONMENT_H_
#define H5REDISLOCK_BENCH_ENVIRONMENT_H_

#include <memory>
#include <string>

#include "redis/redis_connection.h"

namespace h5redislock {
namespace bench {

// Points HDF5_PLUGIN_PATH at this build's plugin. HDF5 reads it when it
// initializes, so call it before any H5 function.
void UseBuiltPlugin();

// The server's URL; exits with a message when $H5REDISLOCK_BENCH_URL is unset
// or unparsable: without its server no case measures anything.
const std::string& RedisUrl();

// A new connection to that server (one per process: forked children make
// their own); exits on failure, for the same reason.
std::unique_ptr<RedisConnection> ConnectToRedis();

// `name` inside the scratch directory, which is made on first use.
std::string ScratchPath(const std::string& name);
// Removes the scratch directory; only the process that made it calls this.
void RemoveScratch();

// Prints `message` and exits the process with status 2.
[[noreturn]] void Fatal(const std::string& message);

}  // namespace bench
}  // namespace h5redislock

#endif  // H5REDISLOCK_BENCH_ENVIRONMENT_H_
