// plugin_dir_command.cc: `h5redislock plugin-dir`, what to put on
// HDF5_PLUGIN_PATH for programs not started by `h5redislock run`.
#include <cstdio>

#include "command.h"
#include "plugin_dir.h"

namespace h5redislock {
namespace cli {
namespace {

const char kUsage[] = R"(usage: h5redislock plugin-dir

Prints the directory of the redislock plugin that `h5redislock run` puts on
HDF5_PLUGIN_PATH (colon-separated directories, where this h5redislock has
both builds of the plugin; see `h5redislock run --help`), for programs that
name the driver themselves or through the environment:

  export HDF5_PLUGIN_PATH=$(h5redislock plugin-dir)
  export HDF5_DRIVER=redislock HDF5_DRIVER_CONFIG='url=redis://db1:6379/0'
  python3 unmodified.py
)";

}  // namespace

int PluginDirMain(const Args& args) {
  CommandSpec spec{"plugin-dir", kUsage, {}};
  ParsedArgs parsed;
  if (auto done = ParseArgs(spec, args, &parsed)) return *done;
  if (!parsed.positionals.empty()) return UsageError(spec.name, "takes no arguments");
  Plugins plugins;
  Status s = FindPlugins(&plugins);
  if (!s.ok()) return Fail(spec.name, s);
  std::string path;
  for (const std::string& dir : plugins.Dirs()) path += (path.empty() ? "" : ":") + dir;
  std::printf("%s\n", path.c_str());
  return kExitOk;
}

}  // namespace cli
}  // namespace h5redislock
