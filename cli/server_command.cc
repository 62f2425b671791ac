// server_command.cc: `h5redislock server start|stop|status`, the embedded
// Redis server by hand, and `server watchdog`, the process that keeps it.
#include <cstdio>

#include "command.h"
#include "embedded_server.h"
#include "runtime_dir.h"
#include "time_format.h"
#include "watchdog.h"

namespace h5redislock {
namespace cli {
namespace {

const char kUsage[] = R"(usage: h5redislock server start [--idle-timeout SECONDS]
       h5redislock server stop [--force]
       h5redislock server status

The embedded Redis server: a private redis-server of this user on this host,
which `h5redislock run` uses when no Redis server is named (no --url, no url=
in the config, no $H5REDISLOCK_URL) and starts when it is not running.

It listens on a unix socket only, in the runtime directory: the directory
$H5REDISLOCK_RUNTIME_DIR, else $XDG_RUNTIME_DIR/h5redislock, else
/tmp/h5redislock-<uid>, mode 0700. It has no password, no TCP port and keeps
nothing on disk. A small watchdog process (`h5redislock server watchdog`)
runs it and stops it once it has been idle for the idle timeout: no program
running under `h5redislock run` and no other client connected. The timeout
is --idle-timeout, else $H5REDISLOCK_IDLE_TIMEOUT, else 600 s; 0 means never.
Starting is race-free: concurrent starters take turns on a lock file in the
runtime directory, and the first one starts the server for all.

  start   start the server unless it runs, and print its url
          (for HDF5_DRIVER_CONFIG='url=...' or H5REDISLOCK_URL)
  stop    stop it now; refused while programs run under `h5redislock run`
          unless --force (they then lose their locks: their writes fail)
  status  whether it runs, its url, pids, idle timeout and the programs
          using it; exit status 0 if it runs, 3 if not
)";

std::string Describe(const EmbeddedServer::State& state) {
  std::string text = "  redis-server " + state.version;
  if (state.have_info) {
    text += ", pid " + std::to_string(state.info.redis_pid) + "; watchdog pid " +
            std::to_string(state.info.watchdog_pid) + "; stops after " +
            (state.info.idle_timeout_s > 0 ? FormatSeconds(state.info.idle_timeout_s) + " idle" : "`server stop` only");
  }
  text += "\n  programs under `h5redislock run`: ";
  if (state.sessions_idle) return text + "none\n";
  if (state.session_pids.empty()) return text + "some\n";
  for (size_t i = 0; i < state.session_pids.size(); ++i)
    text += (i ? ", pid " : "pid ") + std::to_string(state.session_pids[i]);
  return text + "\n";
}

int Start(const Args& args) {
  CommandSpec spec{"server start", kUsage, {{"--idle-timeout", true}}};
  ParsedArgs parsed;
  if (auto done = ParseArgs(spec, args, &parsed)) return *done;
  if (!parsed.positionals.empty()) return UsageError(spec.name, "unexpected argument " + parsed.positionals[0]);
  double idle = 0;
  Status s = parsed.Has("--idle-timeout") ? ParseIdleTimeout(parsed.Value("--idle-timeout"), "--idle-timeout", &idle)
                                          : IdleTimeoutFromEnvironment(&idle);
  if (!s.ok()) return UsageError(spec.name, s.message());
  EmbeddedServer server(RuntimeDirPath());
  bool started = false;
  s = server.Start(idle, &started);
  if (!s.ok()) return Fail(spec.name, s);
  std::printf("%s\n", server.files().url().c_str());
  std::fprintf(stderr, "h5redislock server: %s\n",
               started ? "started the embedded Redis server" : "the embedded Redis server runs already");
  return kExitOk;
}

int Stop(const Args& args) {
  CommandSpec spec{"server stop", kUsage, {{"--force", false}}};
  ParsedArgs parsed;
  if (auto done = ParseArgs(spec, args, &parsed)) return *done;
  if (!parsed.positionals.empty()) return UsageError(spec.name, "unexpected argument " + parsed.positionals[0]);
  EmbeddedServer server(RuntimeDirPath());
  bool was_running = false;
  Status s = server.Stop(parsed.Has("--force"), &was_running);
  if (!s.ok()) return Fail(spec.name, s);
  std::printf("%s\n", was_running ? "stopped the embedded Redis server" : "the embedded Redis server was not running");
  return kExitOk;
}

int ShowStatus(const Args& args) {
  CommandSpec spec{"server status", kUsage, {}};
  ParsedArgs parsed;
  if (auto done = ParseArgs(spec, args, &parsed)) return *done;
  if (!parsed.positionals.empty()) return UsageError(spec.name, "unexpected argument " + parsed.positionals[0]);
  EmbeddedServer server(RuntimeDirPath());
  EmbeddedServer::State state = server.Inspect();
  if (!state.running) {
    std::printf("the embedded Redis server is not running (runtime directory %s)\n", server.files().dir.c_str());
    return 3;  // as LSB init scripts say "not running"
  }
  std::printf("the embedded Redis server is running at %s\n%s", server.files().url().c_str(), Describe(state).c_str());
  return kExitOk;
}

int Watchdog(const Args& args) {
  CommandSpec spec{"server watchdog", kUsage, {{"--dir", true}, {"--idle-timeout", true}}};
  ParsedArgs parsed;
  if (auto done = ParseArgs(spec, args, &parsed)) return *done;
  double idle = 0;
  Status s = ParseIdleTimeout(parsed.Value("--idle-timeout"), "--idle-timeout", &idle);
  if (!s.ok() || parsed.Value("--dir").empty()) return UsageError(spec.name, "needs --dir and --idle-timeout");
  return RunWatchdog(ServerFiles(parsed.Value("--dir")), idle);
}

}  // namespace

int ServerMain(const Args& args) {
  const std::string action = args.empty() ? "" : args[0];
  const Args rest(args.begin() + (args.empty() ? 0 : 1), args.end());
  if (action == "start") return Start(rest);
  if (action == "stop") return Stop(rest);
  if (action == "status") return ShowStatus(rest);
  if (action == "watchdog") return Watchdog(rest);  // started by Start, not by people
  if (action == "--help" || action == "-h") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  return UsageError("server", action.empty() ? "needs start, stop or status" : "unknown action '" + action + "'");
}

}  // namespace cli
}  // namespace h5redislock
