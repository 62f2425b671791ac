// watchdog.h: the process that keeps the embedded Redis server, started by
// EmbeddedServer::Start as `h5redislock server watchdog` (see
// embedded_server.h for the whole lifecycle).
//
// It runs redis-server as its child and then waits for one of three things:
// redis-server exits (the watchdog cleans up and exits too), SIGTERM/SIGINT/
// SIGHUP (it stops redis-server first), or the server has been idle for the
// idle timeout: no `run` session and no Redis client besides the watchdog's
// own connection, which it checks every tick. Its log is the runtime
// directory's watchdog.log.
#ifndef H5REDISLOCK_CLI_WATCHDOG_H_
#define H5REDISLOCK_CLI_WATCHDOG_H_

#include "runtime_dir.h"

namespace h5redislock {
namespace cli {

// Runs until the server stops; the process's exit status.
int RunWatchdog(const ServerFiles& files, double idle_timeout_s);

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_WATCHDOG_H_
