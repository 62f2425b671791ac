#include "runtime_dir.h"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace h5redislock {
namespace cli {

ServerFiles::ServerFiles(const std::string& d)
    : dir(d),
      socket(d + "/redis.sock"),
      start_lock(d + "/start.lock"),
      sessions(d + "/sessions"),
      info(d + "/server.info"),
      redis_log(d + "/redis.log"),
      watchdog_log(d + "/watchdog.log") {}

std::string RuntimeDirPath() {
  const char* own = std::getenv("H5REDISLOCK_RUNTIME_DIR");
  if (own && *own) return own;
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg && *xdg) return std::string(xdg) + "/h5redislock";
  return "/tmp/h5redislock-" + std::to_string(getuid());
}

Status PrepareRuntimeDir(const std::string& dir) {
  if (dir.empty() || dir.front() != '/')
    return Status::InvalidArgument("the runtime directory '" + dir + "' is not an absolute path");
  // A unix socket path must fit in sockaddr_un.
  if (ServerFiles(dir).socket.size() >= sizeof(sockaddr_un{}.sun_path))
    return Status::InvalidArgument("the runtime directory '" + dir +
                                   "' is too long for a unix socket path; set H5REDISLOCK_RUNTIME_DIR to a "
                                   "shorter one");
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Status::IoError("cannot create the runtime directory '" + dir + "': " + std::strerror(errno));
  // lstat: in a shared /tmp, someone else may have put a symlink or their own
  // directory here first.
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0)
    return Status::IoError("cannot inspect the runtime directory '" + dir + "': " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return Status::IoError("the runtime directory '" + dir + "' is not a directory (a symlink or file is in "
                           "the way; remove it or set H5REDISLOCK_RUNTIME_DIR)");
  if (st.st_uid != getuid())
    return Status::IoError("the runtime directory '" + dir +
                           "' belongs to another user; set H5REDISLOCK_RUNTIME_DIR to a directory of yours");
  if (st.st_mode & 077)
    return Status::IoError("the runtime directory '" + dir +
                           "' may be entered by other users, who could then use the embedded server; "
                           "chmod 700 it");
  return Status::OK();
}

}  // namespace cli
}  // namespace h5redislock
