// plugin_dir.h: where the redislock plugin (libh5fd_redislock.so) is, for
// HDF5_PLUGIN_PATH.
//
// An installed h5redislock finds it relative to itself (<prefix>/bin ->
// <prefix>/lib/plugin, cmake/layout.cmake); one in a build tree uses the
// build's plugin directory, compiled in. The installed place wins, so an
// installed copy never hands out a build tree that may have changed since.
#ifndef H5REDISLOCK_CLI_PLUGIN_DIR_H_
#define H5REDISLOCK_CLI_PLUGIN_DIR_H_

#include <string>

#include "base/status.h"

namespace h5redislock {
namespace cli {

constexpr const char* kPluginFile = "libh5fd_redislock.so";

Status FindPluginDir(std::string* dir);

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_PLUGIN_DIR_H_
