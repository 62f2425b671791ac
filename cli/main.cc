// main.cc: h5redislock, the command of the redislock HDF5 driver. Picks the
// subcommand; each lives in its own *_command.cc.
#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "command.h"
#include "plugin_dir.h"
#include "redis/tls_library.h"

namespace {

const char kUsage[] = R"(usage: h5redislock COMMAND [OPTIONS] [ARGS]

The command of the redislock HDF5 driver, which holds a readers-writers lock
in Redis while a file is open.

commands:
  run [--url URL] [--config STR] -- PROGRAM [ARGS...]
                     run an unmodified HDF5 program under the lock; without a
                     URL it uses a private Redis server of this user, started
                     on demand (the embedded default)
  server start|stop|status
                     the embedded Redis server
  status [FILE...] [--json]
                     who holds and waits for every lock, or those of FILEs
  break FILE [--yes] force-release a lock whose holder is gone or stuck
  doctor [FILE]      check HDF5, the plugin, Redis, the config and the file system
  plugin-dir         the plugin's directory, for HDF5_PLUGIN_PATH

Each command has --help. `h5redislock --version` prints the version.

Where the lock server is, for every command: --url, else url= in --config (or
in $HDF5_DRIVER_CONFIG), else $H5REDISLOCK_URL, else the embedded server.
)";

// Overwrites the passwords of URLs in our own argv (--url redis://:pw@host,
// url= in --config), which /proc/<pid>/cmdline and `ps` show to every user.
// The commands have their copies already; this only narrows the window in
// which the password is visible to the moment between exec and here.
void HideUrlPasswords(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    for (size_t scheme = arg.find("://"); scheme != std::string::npos; scheme = arg.find("://", scheme + 3)) {
      const size_t start = scheme + 3;
      const size_t end = std::min(arg.find_first_of("/;?", start), arg.size());
      const size_t at = arg.rfind('@', end);
      if (at == std::string::npos || at < start) continue;
      const size_t colon = arg.find(':', start);
      if (colon < at) std::memset(argv[i] + colon + 1, '*', at - colon - 1);
    }
  }
}

// TLS for rediss:// is a library beside the plugin's real file (see
// vfd/tls_library.h), and this program is not the plugin.
void FindTlsBesidePlugins() {
  h5redislock::cli::Plugins plugins;
  if (!h5redislock::cli::FindPlugins(&plugins).ok()) return;
  for (const std::string& file : plugins.Files()) {
    char real[PATH_MAX];
    if (!realpath(file.c_str(), real)) continue;
    std::string dir = real;
    h5redislock::AddTlsLibraryDir(dir.substr(0, dir.find_last_of('/')));
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace h5redislock::cli;
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  const std::string command = argv[1];
  const Args args(argv + 2, argv + argc);
  HideUrlPasswords(argc, argv);
  FindTlsBesidePlugins();
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (command == "--version") {
    std::printf("h5redislock %s\n", H5REDISLOCK_VERSION);
    return kExitOk;
  }
  if (command == "run") return RunMain(args);
  if (command == "server") return ServerMain(args);
  if (command == "status") return StatusMain(args);
  if (command == "break") return BreakMain(args);
  if (command == "doctor") return DoctorMain(args);
  if (command == "plugin-dir") return PluginDirMain(args);
  std::fprintf(stderr, "h5redislock: unknown command '%s' (see h5redislock --help)\n", command.c_str());
  return kExitUsage;
}
