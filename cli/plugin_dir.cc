#include "plugin_dir.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

namespace h5redislock {
namespace cli {
namespace {

bool HasPlugin(const std::string& dir) { return access((dir + "/" + kPluginFile).c_str(), R_OK) == 0; }

// <directory of this program>/H5REDISLOCK_PLUGINDIR_FROM_BINDIR, resolved
// if it exists.
std::string InstalledPluginDir() {
  char exe[PATH_MAX];
  if (!realpath("/proc/self/exe", exe)) return {};
  std::string dir(exe);
  dir.erase(dir.find_last_of('/'));
  dir += std::string("/") + H5REDISLOCK_PLUGINDIR_FROM_BINDIR;
  char resolved[PATH_MAX];
  return realpath(dir.c_str(), resolved) ? resolved : dir;
}

}  // namespace

Status FindPluginDir(std::string* dir) {
  const std::string installed = InstalledPluginDir();
  for (const std::string& candidate : {installed, std::string(H5REDISLOCK_BUILD_PLUGIN_DIR)}) {
    if (!candidate.empty() && HasPlugin(candidate)) {
      *dir = candidate;
      return Status::OK();
    }
  }
  return Status::IoError(std::string("cannot find the plugin ") + kPluginFile + " (looked in " +
                         (installed.empty() ? "" : installed + " and ") + H5REDISLOCK_BUILD_PLUGIN_DIR +
                         "); reinstall h5redislock");
}

}  // namespace cli
}  // namespace h5redislock
