// embedded_server.h: the embedded default, a private redis-server for all
// programs of one user on one host, which `run` starts on demand.
//
// Its lifecycle (the runtime directory and its files: runtime_dir.h):
//
//  * Start. Whoever wants the server takes an exclusive flock on start.lock,
//    then PINGs redis.sock. If nobody answers, it launches the watchdog
//    (`h5redislock server watchdog`, detached in its own session), which runs
//    redis-server as its child: unix socket only (mode 0700, in a 0700
//    directory), no TCP port, no persistence, no password. The starter waits
//    until the server answers, then releases start.lock. Two `run`s starting
//    at once queue on start.lock: the second finds the server up.
//  * Use. `run` joins a session (sessions.h) before it releases start.lock,
//    so the server cannot stop between being found up and being used.
//  * Stop. The watchdog stops redis-server and exits when it has been idle
//    for the idle timeout (no session and no client but the watchdog itself;
//    default 600 s, $H5REDISLOCK_IDLE_TIMEOUT, or `server start
//    --idle-timeout`; 0 means never). It checks under start.lock, taken
//    without waiting, so it never stops a server that a starter has just
//    found up. `server stop` stops it at once (SIGTERM to the watchdog);
//    redis-server dies with its watchdog (PR_SET_PDEATHSIG), and the watchdog
//    exits when redis-server does. A server that stops loses every lock in it:
//    programs still holding one are fenced (their writes fail).
#ifndef H5REDISLOCK_CLI_EMBEDDED_SERVER_H_
#define H5REDISLOCK_CLI_EMBEDDED_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "file_lock.h"
#include "runtime_dir.h"
#include "server_info.h"

namespace h5redislock {
namespace cli {

constexpr double kDefaultIdleTimeoutS = 600;

// Parses an idle timeout in seconds (0: never) from `text`; `source` names
// where it came from, for the error.
Status ParseIdleTimeout(const std::string& text, const std::string& source, double* seconds);
// $H5REDISLOCK_IDLE_TIMEOUT, else kDefaultIdleTimeoutS.
Status IdleTimeoutFromEnvironment(double* seconds);

// The redis-server program: $H5REDISLOCK_REDIS_SERVER, else found on PATH.
Status FindRedisServer(std::string* path);

// Whether a Redis server answers PING on the unix socket `socket`; if so and
// `version` is given, its version.
bool ServerAnswers(const std::string& socket, std::string* version = nullptr);

class EmbeddedServer {
 public:
  explicit EmbeddedServer(const std::string& dir) : files_(dir) {}
  const ServerFiles& files() const { return files_; }

  // Starts the server unless it runs (*started tells which); a server it
  // starts stops after `idle_timeout_s` without use. With `session`, also
  // joins a session before anyone can stop the server.
  Status Start(double idle_timeout_s, bool* started, std::unique_ptr<FileLock>* session = nullptr);

  // Stops the server; *was_running tells whether it ran. Without `force`,
  // refuses (kBusy) while programs still run under `run`.
  Status Stop(bool force, bool* was_running);

  struct State {
    bool running = false;
    std::string version;
    bool have_info = false;
    ServerInfo info;
    bool sessions_idle = true;
    std::vector<long> session_pids;
  };
  State Inspect() const;

 private:
  Status LaunchWatchdog(double idle_timeout_s) const;
  Status WaitUntilUp() const;
  Status StopWatchdog(const ServerInfo& info) const;
  void RemoveLeftovers() const;

  ServerFiles files_;
};

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_EMBEDDED_SERVER_H_
