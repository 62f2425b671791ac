#include "lock/lock_name.h"

#include <limits.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>

namespace h5redislock {
namespace {

bool RealPath(const std::string& path, std::string* out) {
  char buf[PATH_MAX];
  if (!realpath(path.c_str(), buf)) return false;
  *out = buf;
  return true;
}

}  // namespace

Status CanonicalPath(const std::string& path, std::string* out, bool* exists) {
  if (exists) *exists = true;
  if (path.empty()) return Status::InvalidArgument("empty file name");
  if (RealPath(path, out)) return Status::OK();
  if (errno != ENOENT) return Status::IoError("cannot resolve '" + path + "': " + std::strerror(errno));
  if (exists) *exists = false;
  // Not there yet: resolve the directory, keep the name.
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..")
    return Status::InvalidArgument("'" + path + "' does not name a file");
  std::string real_dir;
  if (!RealPath(dir, &real_dir))
    return Status::IoError("cannot resolve the directory of '" + path + "': " + std::strerror(errno));
  *out = real_dir == "/" ? "/" + name : real_dir + "/" + name;
  return Status::OK();
}

}  // namespace h5redislock
