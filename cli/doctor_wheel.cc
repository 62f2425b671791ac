// doctor_wheel.cc: the HDF5 checks of `h5redislock doctor` in the Python
// wheel's h5redislock, which has no HDF5 of its own: the plugin it hands out
// binds to the libhdf5 of whichever Python package loads it. So it checks
// that the plugin loads, and whether HDF5_PLUGIN_PATH names it for programs
// not started by `run`. (With an HDF5 linked in: doctor_hdf5.cc.)
#include <cstdlib>
#include <string>

#include "doctor_checks.h"
#include "plugin_dir.h"
#include "search_path.h"

namespace h5redislock {
namespace cli {

using Verdict = Finding::Verdict;

void CheckHdf5(Findings* out) {
  out->push_back({Verdict::kNote, "HDF5",
                  "the plugin serves the libhdf5 of the Python package that loads it (h5py, netCDF4, PyTables): "
                  "HDF5 1.14.x and 2.0.x to 2.2.x",
                  ""});
}

void CheckPlugin(Findings* out) {
  Plugins plugins;
  if (!CheckRunPlugins(&plugins, out)) return;

  const char* env = std::getenv("HDF5_PLUGIN_PATH");
  for (const std::string& dir : SplitSearchPath(env ? env : ""))
    if (dir == plugins.dynamic_dir) {
      out->push_back({Verdict::kOk, "plugin path", "HDF5_PLUGIN_PATH names the plugin's directory", ""});
      return;
    }
  out->push_back({env ? Verdict::kFail : Verdict::kNote, "plugin path",
                  std::string("HDF5_PLUGIN_PATH ") + (env ? "does not name" : "is unset, so HDF5 does not find") +
                      " the plugin",
                  "for programs not started by `h5redislock run`: export HDF5_PLUGIN_PATH=" + plugins.dynamic_dir});
}

}  // namespace cli
}  // namespace h5redislock
