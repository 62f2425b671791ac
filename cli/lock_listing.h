// lock_listing.h: which locks to show: those of the files named on the
// command line, or every lock under the prefix.
//
// Finding every lock needs a key scan, which the driver never does: SCAN
// (not KEYS, which would stall Redis) for '<prefix>{*}:lock', which exists
// while a lock has entries and while its counters are retained, and for the
// keys of an older layout ('<prefix>{*}:state', ':lease'), so that such a
// lock is shown for what it is. On Redis Cluster, SCAN sees only the node it
// is sent to.
#ifndef H5REDISLOCK_CLI_LOCK_LISTING_H_
#define H5REDISLOCK_CLI_LOCK_LISTING_H_

#include <string>
#include <vector>

#include "base/status.h"
#include "lock/config.h"
#include "redis/redis_connection.h"

namespace h5redislock {
namespace cli {

// Every lock name under `prefix`, sorted.
Status ListLockNames(RedisConnection& conn, const std::string& prefix, std::vector<std::string>* names);

// The name of the lock that guards `file` under `config`, as the driver
// names it (lock_name.h): config key= if set, else the canonical path.
Status LockNameOfFile(const Config& config, const std::string& file, std::string* name);

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_LOCK_LISTING_H_
