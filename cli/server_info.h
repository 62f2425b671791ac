// server_info.h: what the watchdog of the embedded server tells the others,
// in the runtime directory's `server.info`: its own identity (pid and start
// time, so a reused pid is not taken for it), redis-server's pid and the idle
// timeout it enforces. Lines of key=value.
#ifndef H5REDISLOCK_CLI_SERVER_INFO_H_
#define H5REDISLOCK_CLI_SERVER_INFO_H_

#include <string>

#include "base/status.h"

namespace h5redislock {
namespace cli {

struct ServerInfo {
  long watchdog_pid = 0;
  unsigned long long watchdog_start = 0;  // as in ProcessIdentity::start
  long redis_pid = 0;
  double idle_timeout_s = 0;              // 0: never stops by itself

  // Whether the watchdog that wrote this still runs.
  bool WatchdogAlive() const;
};

// Writes atomically (a reader never sees half a file).
Status WriteServerInfo(const std::string& path, const ServerInfo& info);
// False if there is no such file or it is not complete.
bool ReadServerInfo(const std::string& path, ServerInfo* info);

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_SERVER_INFO_H_
