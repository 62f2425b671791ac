#include "plugin_dir.h"

#include <dlfcn.h>
#include <hdf5.h>  // for H5PL_TYPE_VFD; this file calls no HDF5 function
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

namespace h5redislock {
namespace cli {
namespace {

bool Has(const std::string& dir, const char* file) {
  return !dir.empty() && access((dir + "/" + file).c_str(), R_OK) == 0;
}

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

#ifdef H5REDISLOCK_LINKS_HDF5
// The libhdf5 this program is linked against, as the linked plugin is (both
// find it the same way: cmake/install.cmake), with symlinks resolved.
std::string LinkedHdf5() {
  Dl_info info;
  char real[PATH_MAX];
  if (dladdr(reinterpret_cast<void*>(&H5open), &info) && info.dli_fname && realpath(info.dli_fname, real))
    return real;
  return {};
}
#endif

}  // namespace

std::vector<std::string> Plugins::Dirs() const {
  std::vector<std::string> dirs;
  for (const std::string* dir : {&dynamic_dir, &linked_dir})
    if (!dir->empty()) dirs.push_back(*dir);
  return dirs;
}

std::vector<std::string> Plugins::Files() const {
  std::vector<std::string> files;
  if (!dynamic_dir.empty()) files.push_back(dynamic_dir + "/" + kDynamicPluginFile);
  if (!linked_dir.empty()) files.push_back(linked_dir + "/" + kLinkedPluginFile);
  return files;
}

Status FindPlugins(Plugins* out) {
  Plugins found;
  const std::string installed = InstalledPluginDir();
  if (Has(installed, kDynamicPluginFile)) found.dynamic_dir = installed;
  if (Has(installed, kLinkedPluginFile)) found.linked_dir = installed;
  if (found.Dirs().empty()) {
    if (Has(H5REDISLOCK_BUILD_DL_PLUGIN_DIR, kDynamicPluginFile)) found.dynamic_dir = H5REDISLOCK_BUILD_DL_PLUGIN_DIR;
    if (Has(H5REDISLOCK_BUILD_PLUGIN_DIR, kLinkedPluginFile)) found.linked_dir = H5REDISLOCK_BUILD_PLUGIN_DIR;
  }
  if (found.Dirs().empty()) {
    std::string looked = installed;
    for (const char* dir : {H5REDISLOCK_BUILD_DL_PLUGIN_DIR, H5REDISLOCK_BUILD_PLUGIN_DIR})
      if (*dir) looked += std::string(" and ") + dir;
    return Status::IoError(std::string("cannot find the plugin ") + kDynamicPluginFile + " or " + kLinkedPluginFile +
                           " (looked in " + looked + "); reinstall h5redislock");
  }
#ifdef H5REDISLOCK_LINKS_HDF5
  if (!found.linked_dir.empty()) found.linked_hdf5 = LinkedHdf5();
#endif
  *out = found;
  return Status::OK();
}

std::string PluginLoadError(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) return dlerror();
  using TypeFunction = H5PL_type_t (*)();
  auto type = reinterpret_cast<TypeFunction>(dlsym(handle, "H5PLget_plugin_type"));
  // No dlclose: the plugin is built -z nodelete, and HDF5 may load it next.
  if (!type || type() != H5PL_TYPE_VFD) return path + " is not an HDF5 VFD plugin";
  return "";
}

}  // namespace cli
}  // namespace h5redislock
