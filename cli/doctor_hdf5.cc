// doctor_hdf5.cc: is HDF5 new enough for plugin drivers, does the plugin that
// `run` hands out load, and does HDF5 find it on its own plugin path?
#include <dlfcn.h>
#include <hdf5.h>

#include <cstdlib>
#include <string>

#include "doctor_checks.h"
#include "plugin_dir.h"

namespace h5redislock {
namespace cli {
namespace {

using Verdict = Finding::Verdict;

// HDF5's plugin search path, as it stands in this process (from
// HDF5_PLUGIN_PATH, else HDF5's compiled-in default).
std::string SearchPath() {
  unsigned count = 0;
  std::string path;
  if (H5PLsize(&count) < 0) return path;
  for (unsigned i = 0; i < count; ++i) {
    char dir[4096];
    if (H5PLget(i, dir, sizeof dir) > 0) path += (path.empty() ? "" : ":") + std::string(dir);
  }
  return path;
}

// What dlopen says of the plugin file in `dir`: "" if it loads and is an
// HDF5 VFD plugin.
std::string LoadError(const std::string& dir) {
  const std::string file = dir + "/" + kPluginFile;
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) return dlerror();
  using TypeFunction = H5PL_type_t (*)();
  auto type = reinterpret_cast<TypeFunction>(dlsym(handle, "H5PLget_plugin_type"));
  // No dlclose: the plugin is built -z nodelete, and HDF5 may load it next.
  if (!type || type() != H5PL_TYPE_VFD) return file + " is not an HDF5 VFD plugin";
  return "";
}

}  // namespace

void CheckHdf5(Findings* out) {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  const std::string version = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
  if (major < 1 || (major == 1 && minor < 14)) {
    out->push_back({Verdict::kFail, "HDF5", version + " cannot load driver plugins (HDF5 1.14 can)",
                    "build and run the programs with HDF5 1.14 or later"});
    return;
  }
  unsigned mask = 0;
  H5PLget_loading_state(&mask);
  if (!(mask & H5PL_VFD_PLUGIN)) {
    out->push_back({Verdict::kFail, "HDF5", version + ", but loading driver plugins is disabled",
                    "unset HDF5_PLUGIN_PRELOAD (\"::\" disables all plugins)"});
    return;
  }
  out->push_back({Verdict::kOk, "HDF5", version + ", which loads driver plugins", ""});
}

void CheckPlugin(Findings* out) {
  std::string run_dir;
  Status s = FindPluginDir(&run_dir);
  std::string error = s.ok() ? LoadError(run_dir) : s.message();
  if (!error.empty()) {
    out->push_back({Verdict::kFail, "plugin", "`h5redislock run` has no working plugin: " + error,
                    "reinstall h5redislock, built against this HDF5"});
    return;
  }
  out->push_back({Verdict::kOk, "plugin", "`h5redislock run` uses " + run_dir + "/" + kPluginFile, ""});

  // Whether HDF5 itself finds the driver, as a program not started by `run`
  // would (H5Pset_driver_by_name loads it from the plugin path).
  const char* env = std::getenv("HDF5_PLUGIN_PATH");
  const std::string where = env ? "HDF5_PLUGIN_PATH=" + std::string(env)
                                : "HDF5's default plugin path " + SearchPath() + " (HDF5_PLUGIN_PATH is unset)";
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  const bool found = H5Pset_driver_by_name(fapl, "redislock", "") >= 0;
  H5Pclose(fapl);
  const std::string fix = "for programs not started by `h5redislock run`: export HDF5_PLUGIN_PATH=" + run_dir;
  if (found)
    out->push_back({Verdict::kOk, "plugin path", "HDF5 finds the redislock driver on " + where, ""});
  else
    out->push_back({env ? Verdict::kFail : Verdict::kWarn, "plugin path",
                    "HDF5 finds no redislock driver on " + where, fix});

}

void CheckDriverVariable(const std::optional<std::string>& hdf5_driver, Findings* out) {
  if (hdf5_driver == "redislock")
    out->push_back(
        {Verdict::kOk, "HDF5_DRIVER", "redislock: every HDF5 program of this environment uses the lock", ""});
  else
    out->push_back({Verdict::kNote, "HDF5_DRIVER",
                    hdf5_driver.value_or("unset") +
                        ": only programs started by `h5redislock run`, or that pick the driver in code, use the lock",
                    ""});
}

}  // namespace cli
}  // namespace h5redislock
