// redis_info.h: one field of Redis's INFO reply ("redis_version",
// "connected_clients"), for the watchdog, `server status` and `doctor`.
#ifndef H5REDISLOCK_CLI_REDIS_INFO_H_
#define H5REDISLOCK_CLI_REDIS_INFO_H_

#include <string>

#include "base/status.h"
#include "redis/redis_connection.h"

namespace h5redislock {
namespace cli {

Status ReadInfoField(RedisConnection& conn, const std::string& section, const std::string& field,
                     std::string* value);

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_REDIS_INFO_H_
