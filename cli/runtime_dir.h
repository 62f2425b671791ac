// runtime_dir.h: the per-user directory of the embedded Redis server, and the
// names of the files in it.
//
// The directory is $H5REDISLOCK_RUNTIME_DIR if set, else
// $XDG_RUNTIME_DIR/h5redislock, else /tmp/h5redislock-<uid>. The embedded
// server has no password: its unix socket is protected by this directory
// (mode 0700, owned by the user) and by the socket's own mode, so the
// directory is checked before anything is put into it.
#ifndef H5REDISLOCK_CLI_RUNTIME_DIR_H_
#define H5REDISLOCK_CLI_RUNTIME_DIR_H_

#include <string>

#include "base/status.h"

namespace h5redislock {
namespace cli {

struct ServerFiles {
  explicit ServerFiles(const std::string& dir);

  std::string dir;
  std::string socket;        // redis.sock: the server's only listener
  std::string start_lock;    // flock'd by whoever starts or stops the server
  std::string sessions;      // flock'd shared by every `run` (sessions.h)
  std::string info;          // the watchdog's pids and idle timeout (server_info.h)
  std::string redis_log;     // redis-server's log
  std::string watchdog_log;  // the watchdog's log

  std::string url() const { return "unix://" + socket; }
};

// The directory's path; nothing is created or checked.
std::string RuntimeDirPath();

// Creates the directory (mode 0700) if it is missing and checks that it is a
// real directory of this user that nobody else may enter.
Status PrepareRuntimeDir(const std::string& dir);

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_RUNTIME_DIR_H_
