// redis_target.h: which Redis server, with which driver configuration, a
// command works with. Every command resolves them alike, and `run` hands the
// same to its program, so `status` and `break` see the locks that `run`'s
// programs take:
//
//   config string  --config, else $HDF5_DRIVER_CONFIG, else the defaults
//   url            --url, else url= in the config string, else
//                  $H5REDISLOCK_URL, else the embedded server (embedded_server.h)
#ifndef H5REDISLOCK_CLI_REDIS_TARGET_H_
#define H5REDISLOCK_CLI_REDIS_TARGET_H_

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "command.h"
#include "lock/config.h"
#include "redis/redis_connection.h"

namespace h5redislock {
namespace cli {

struct Target {
  Config config;              // parsed, with the password: never print it
  std::string config_text;    // for HDF5_DRIVER_CONFIG: its url= carries no password
  std::string url_password;   // the url's password, for $H5REDISLOCK_PASSWORD; "" if none
  bool embedded = false;      // the url is the embedded server's
  std::string url_source;     // where the url came from, for people
  std::string config_source;  // where the config string came from
};

// --url URL and --config STR, for a command's CommandSpec.
std::vector<OptionSpec> TargetOptions();

Status ResolveTarget(const ParsedArgs& args, Target* out);

// A connection to the target's server, with the config's connect timeout; an
// error for a cluster or Sentinel url (the driver routes those, not the
// commands).
Status Connect(const Target& target, std::unique_ptr<RedisConnection>* conn);

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_REDIS_TARGET_H_
