// run_command.cc: `h5redislock run`, an unmodified program under the lock.
//
// It sets the three variables through which HDF5 picks a driver, then execs
// the program: the program keeps run's pid, signals and exit status, and no
// process of ours stays around. With the embedded server, the session lock
// (sessions.h) passes into the program with its descriptor, so the server
// stays up exactly as long as the program runs.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/log.h"
#include "command.h"
#include "embedded_server.h"
#include "plugin_dir.h"
#include "redis_target.h"
#include "runtime_dir.h"
#include "search_path.h"

namespace h5redislock {
namespace cli {
namespace {

const char kUsage[] = R"(usage: h5redislock run [--url URL] [--config STR] [--] PROGRAM [ARGS...]

Runs PROGRAM, an unmodified HDF5 program, with the redislock driver: every
HDF5 file it opens is locked in Redis (shared for reading, exclusive for
writing) while it is open. It sets, for PROGRAM only:

  HDF5_PLUGIN_PATH    the plugin's directory, before any directories already
                      in HDF5_PLUGIN_PATH (`h5redislock plugin-dir` prints it)
  HDF5_DRIVER         redislock
  HDF5_DRIVER_CONFIG  the config string (--config, else $HDF5_DRIVER_CONFIG)
                      with url= set to the Redis server

Whichever HDF5 PROGRAM loads gets a plugin that serves it: that of a Python
wheel (h5py, netCDF4, PyTables: each brings its own libhdf5) the build that
binds to it at run time; where this h5redislock also has the build linked
against its own HDF5, programs of that HDF5 get that one (and
H5REDISLOCK_LINKED_HDF5 names it).

The Redis server is --url, else url= in the config, else $H5REDISLOCK_URL,
else the embedded server: a private redis-server of this user on this host,
started now if it is not running and stopped once idle (see
`h5redislock server --help`). A password in the url is passed to PROGRAM in
H5REDISLOCK_PASSWORD, not in HDF5_DRIVER_CONFIG; better still, give it by
$H5REDISLOCK_PASSWORD or password_file= yourself, so it is in no command line
at all.

options:
  --url URL       redis://[[user]:password@]host[:port][/db], rediss://...,
                  or unix:///path/redis.sock[?db=N]
  --config STR    the driver's config string, e.g. 'timeout=30;lease=20'

The exit status is PROGRAM's; 127 if it is not found, 126 if it cannot be
executed, 1 or 2 if h5redislock fails before. H5REDISLOCK_LOG=info prints the driver's lock events.

example:
  h5redislock run -- h5dump data.h5
  h5redislock run --config 'timeout=-1' -- python3 analyse.py data.h5
)";

// The plugins' directories first; the user's own plugin directories
// (filters) stay reachable after them. A `run` inside a `run` adds nothing.
std::string PluginPath(const std::vector<std::string>& plugin_dirs) {
  std::vector<std::string> dirs = plugin_dirs;
  const char* old = std::getenv("HDF5_PLUGIN_PATH");
  for (const std::string& dir : SplitSearchPath(old ? old : ""))
    if (!dir.empty() && std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
  std::string path;
  for (const std::string& dir : dirs) path += (path.empty() ? "" : ":") + dir;
  return path;
}

}  // namespace

int RunMain(const Args& args) {
  CommandSpec spec{"run", kUsage, TargetOptions(), /*program_follows=*/true};
  ParsedArgs parsed;
  if (auto done = ParseArgs(spec, args, &parsed)) return *done;
  if (parsed.positionals.empty()) return UsageError(spec.name, "no program to run");
  Target target;
  Status s = ResolveTarget(parsed, &target);
  if (!s.ok()) return Fail(spec.name, s);
  Plugins plugins;
  s = FindPlugins(&plugins);
  if (!s.ok()) return Fail(spec.name, s);

  std::unique_ptr<FileLock> session;
  if (target.embedded) {
    double idle = 0;
    s = IdleTimeoutFromEnvironment(&idle);
    EmbeddedServer server(RuntimeDirPath());
    bool started = false;
    if (s.ok()) s = server.Start(idle, &started, &session);
    if (s.ok()) s = session->KeepAcrossExec();
    if (!s.ok()) return Fail(spec.name, s.WithContext("cannot use the embedded Redis server"));
    if (started) Log(LogLevel::kInfo, "started the embedded Redis server at " + server.files().url());
  }

  setenv("HDF5_PLUGIN_PATH", PluginPath(plugins.Dirs()).c_str(), 1);
  // Only where the linked plugin is on the path behind the dynamic one: else
  // the dynamic plugin would decline with nothing behind it.
  if (!plugins.dynamic_dir.empty() && !plugins.linked_hdf5.empty())
    setenv("H5REDISLOCK_LINKED_HDF5", plugins.linked_hdf5.c_str(), 1);
  else
    unsetenv("H5REDISLOCK_LINKED_HDF5");
  setenv("HDF5_DRIVER", "redislock", 1);
  setenv("HDF5_DRIVER_CONFIG", target.config_text.c_str(), 1);
  if (!target.url_password.empty()) setenv("H5REDISLOCK_PASSWORD", target.url_password.c_str(), 1);

  std::vector<char*> argv;
  for (std::string& arg : parsed.positionals) argv.push_back(arg.data());
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  const int error = errno;
  std::fprintf(stderr, "h5redislock run: cannot run %s: %s\n", argv[0], std::strerror(error));
  return error == ENOENT ? 127 : 126;  // as shells do
}

}  // namespace cli
}  // namespace h5redislock
