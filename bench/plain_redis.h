// plain_redis.h: requests as any Redis client sends them, on a plain hiredis
// connection: the baselines' side of the comparisons (PING, and FCALL of a
// function that only returns).
//
// Thread-safety: a connection belongs to one thread.
#ifndef H5REDISLOCK_BENCH_PLAIN_REDIS_H_
#define H5REDISLOCK_BENCH_PLAIN_REDIS_H_

#include <hiredis/hiredis.h>

#include <string>
#include <vector>

namespace h5redislock {
namespace bench {

// A connection to the benchmark's server; exits on failure (environment.h).
redisContext* ConnectPlain();

// Loads a function that only returns; returns its name. Exits on failure.
std::string LoadEmptyFunction(redisContext* c);

// FCALL of that function with as many keys and arguments as the driver's
// ACQUIRE: the least a request of that shape to a function costs.
std::vector<std::string> EmptyFunctionCommand(const std::string& name);

// Sends `argv` and reads the reply; false on a transport failure or an error
// reply.
bool Request(redisContext* c, const std::vector<std::string>& argv);

}  // namespace bench
}  // namespace h5redislock

#endif  // H5REDISLOCK_BENCH_PLAIN_REDIS_H_
