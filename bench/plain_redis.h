// plain_redis.h: requests as any Redis client sends them, on a plain hiredis
// connection: the baselines' side of the comparisons (PING, and EVALSHA of a
// script that only returns).
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

// Loads the script "return 1"; returns its SHA1. Exits on failure.
std::string LoadEmptyScript(redisContext* c);

// EVALSHA of that script with as many keys and arguments as the driver's
// ACQUIRE: the least a scripted request of that shape costs.
std::vector<std::string> EmptyScriptCommand(const std::string& sha);

// Sends `argv` and reads the reply; false on a transport failure or an error
// reply.
bool Request(redisContext* c, const std::vector<std::string>& argv);

}  // namespace bench
}  // namespace h5redislock

#endif  // H5REDISLOCK_BENCH_PLAIN_REDIS_H_
