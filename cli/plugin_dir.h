// plugin_dir.h: the redislock plugins this program hands to the programs it
// runs, and where they are, for HDF5_PLUGIN_PATH.
//
// The plugin has two builds. libh5fd_redislock.so ("linked") is linked
// against the project's libhdf5 and serves only that library.
// libh5fd_redislock_dl.so ("dynamic", python/wheel_plugin/hdf5_dynamic.cc)
// is linked against none and serves whichever libhdf5 loads it, such as the
// one inside a Python wheel (h5py, netCDF4, PyTables). What this program has
// depends on where it is:
//
//   from the Python wheel   <package>/bin/h5redislock      <package>/plugins: dynamic
//   cmake --install         <prefix>/bin/h5redislock       <prefix>/lib/plugin: linked
//   in a build tree         build/cli/h5redislock          build/python/wheel_plugin:
//                                                          dynamic; build/vfd: linked
//
// An installed program finds its plugin relative to itself (cmake/layout.cmake
// or the wheel's layout); one in a build tree uses the build's directories,
// compiled in. The installed place wins, so an installed copy never hands out
// a build tree that may have changed since.
//
// With both builds, a program's HDF5_PLUGIN_PATH lists the dynamic plugin's
// directory first, and $H5REDISLOCK_LINKED_HDF5 names the libhdf5 that the
// linked plugin serves: loaded by that very library, the dynamic plugin
// declines and HDF5 goes on to the linked one; any other libhdf5 (a wheel's)
// gets the dynamic one. So one `h5redislock run` serves both kinds.
#ifndef H5REDISLOCK_CLI_PLUGIN_DIR_H_
#define H5REDISLOCK_CLI_PLUGIN_DIR_H_

#include <string>
#include <vector>

#include "base/status.h"

namespace h5redislock {
namespace cli {

constexpr const char* kLinkedPluginFile = "libh5fd_redislock.so";
constexpr const char* kDynamicPluginFile = "libh5fd_redislock_dl.so";

struct Plugins {
  std::string dynamic_dir;  // where libh5fd_redislock_dl.so is, or ""
  std::string linked_dir;   // where libh5fd_redislock.so is, or ""
  std::string linked_hdf5;  // the libhdf5 the linked plugin serves (with linked_dir)

  // The directories for HDF5_PLUGIN_PATH, the dynamic plugin's first.
  std::vector<std::string> Dirs() const;
  // Each plugin's file, in the same order.
  std::vector<std::string> Files() const;
};

// Finds this program's plugins; an error says where it looked.
Status FindPlugins(Plugins* out);

// "" if the plugin file `path` loads and is an HDF5 VFD plugin, else why not.
std::string PluginLoadError(const std::string& path);

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_PLUGIN_DIR_H_
