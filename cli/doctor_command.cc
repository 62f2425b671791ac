// doctor_command.cc: `h5redislock doctor`, checks of a set-up, one line each.
#include <limits.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "command.h"
#include "doctor_checks.h"
#include "plugin_dir.h"

namespace h5redislock {
namespace cli {
namespace {

const char kUsage[] = R"(usage: h5redislock doctor [--url URL] [--config STR] [FILE]

Checks what the redislock driver needs and prints one line per finding, with
what to do where something is wrong:
  HDF5                  its version, and whether it loads driver plugins
  plugin                the plugin `h5redislock run` hands out, and whether it loads
  plugin path           whether HDF5 finds the driver on HDF5_PLUGIN_PATH by itself
  HDF5_DRIVER           whether plain programs of this environment use the driver
  config                the config string (--config, else $HDF5_DRIVER_CONFIG)
  Redis, Redis login, Redis version, round trip, lock scripts
                        the server `h5redislock run` would use: reachable,
                        password, version, latency, and the lock scripts run
  file system           of FILE, else of the current directory (NFS, Lustre...)
  HDF5_USE_FILE_LOCKING HDF5's own flock, and what it means there

Verdicts: ok, note (worth knowing), WARN (may bite), FAIL (will not work).
The exit status is 1 if anything failed, else 0. Passwords are never shown.
)";

const char* VerdictName(Finding::Verdict verdict) {
  switch (verdict) {
    case Finding::Verdict::kOk: return "ok";
    case Finding::Verdict::kNote: return "note";
    case Finding::Verdict::kWarn: return "WARN";
    case Finding::Verdict::kFail: return "FAIL";
  }
  return "?";
}

std::optional<std::string> TakeEnv(const char* name) {
  const char* value = std::getenv(name);
  if (!value) return std::nullopt;
  std::string kept = value;
  unsetenv(name);
  return kept;
}

}  // namespace

bool CheckRunPlugins(Plugins* plugins, Findings* out) {
  Status s = FindPlugins(plugins);
  std::string error = s.message(), used;
  for (const std::string& file : plugins->Files()) {
    if (s.ok()) error = PluginLoadError(file);
    if (!error.empty()) break;
    used += (used.empty() ? "" : " and ") + file;
  }
  if (!error.empty()) {
    out->push_back({Finding::Verdict::kFail, "plugin", "`h5redislock run` has no working plugin: " + error,
                    "reinstall h5redislock"});
    return false;
  }
  out->push_back({Finding::Verdict::kOk, "plugin", "`h5redislock run` uses " + used, ""});
  return true;
}

void CheckDriverVariable(const std::optional<std::string>& hdf5_driver, Findings* out) {
  if (hdf5_driver == "redislock")
    out->push_back(
        {Finding::Verdict::kOk, "HDF5_DRIVER", "redislock: every HDF5 program of this environment uses the lock", ""});
  else
    out->push_back({Finding::Verdict::kNote, "HDF5_DRIVER",
                    hdf5_driver.value_or("unset") +
                        ": only programs started by `h5redislock run`, or that pick the driver in code, use the lock",
                    ""});
}

int DoctorMain(const Args& args) {
  CommandSpec spec{"doctor", kUsage, TargetOptions()};
  ParsedArgs parsed;
  if (auto done = ParseArgs(spec, args, &parsed)) return *done;
  if (parsed.positionals.size() > 1) return UsageError(spec.name, "takes at most one FILE");
  // Our own HDF5 must not pick the driver by itself at start-up: what HDF5
  // does with the plugin is what the checks are to find out.
  const std::optional<std::string> hdf5_driver = TakeEnv("HDF5_DRIVER");

  Findings findings;
  CheckHdf5(&findings);
  CheckPlugin(&findings);
  CheckDriverVariable(hdf5_driver, &findings);
  Target target;
  Status s = ResolveTarget(parsed, &target);
  if (s.ok()) {
    findings.push_back({Finding::Verdict::kOk, "config", target.config.Describe() + " (from " +
                        target.config_source + ", url from " + target.url_source + ")", ""});
    CheckRedis(target, &findings);
  } else {
    findings.push_back({Finding::Verdict::kFail, "config", s.message(), "fix the config string"});
  }
  char cwd[PATH_MAX];
  CheckFiles(parsed.positionals.empty() ? (getcwd(cwd, sizeof cwd) ? cwd : ".") : parsed.positionals[0],
             &findings);

  bool failed = false;
  for (const Finding& f : findings) {
    std::printf("%-4s  %-21s %s%s\n", VerdictName(f.verdict), f.topic.c_str(), f.text.c_str(),
                f.advice.empty() ? "" : (" -> " + f.advice).c_str());
    failed = failed || f.verdict == Finding::Verdict::kFail;
  }
  return failed ? kExitFailure : kExitOk;
}

}  // namespace cli
}  // namespace h5redislock
