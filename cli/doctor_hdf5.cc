// doctor_hdf5.cc: is HDF5 new enough for plugin drivers, do the plugins that
// `run` hands out load, and does HDF5 find the driver on its own plugin path?
// (The h5redislock of the Python wheel has no HDF5 of its own: it checks the
// plugin in doctor_wheel.cc instead.)
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

}  // namespace

void CheckHdf5(Findings* out) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
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
  Plugins plugins;
  if (!CheckRunPlugins(&plugins, out)) return;

  // Whether HDF5 itself finds the driver, as a program not started by `run`
  // would (H5Pset_driver_by_name loads it from the plugin path).
  const char* env = std::getenv("HDF5_PLUGIN_PATH");
  const std::string where = env ? "HDF5_PLUGIN_PATH=" + std::string(env)
                                : "HDF5's default plugin path " + SearchPath() + " (HDF5_PLUGIN_PATH is unset)";
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  const bool found = H5Pset_driver_by_name(fapl, "redislock", "") >= 0;
  H5Pclose(fapl);
  // For programs of this HDF5, the linked plugin.
  const std::string dir = plugins.linked_dir.empty() ? plugins.dynamic_dir : plugins.linked_dir;
  const std::string fix = "for programs not started by `h5redislock run`: export HDF5_PLUGIN_PATH=" + dir;
  if (found)
    out->push_back({Verdict::kOk, "plugin path", "HDF5 finds the redislock driver on " + where, ""});
  else
    out->push_back({env ? Verdict::kFail : Verdict::kWarn, "plugin path",
                    "HDF5 finds no redislock driver on " + where, fix});
}

}  // namespace cli
}  // namespace h5redislock
