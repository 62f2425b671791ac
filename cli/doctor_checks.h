// doctor_checks.h: the checks of `h5redislock doctor`. Each appends findings:
// one line each, with a verdict, what was found, and what to do about it.
#ifndef H5REDISLOCK_CLI_DOCTOR_CHECKS_H_
#define H5REDISLOCK_CLI_DOCTOR_CHECKS_H_

#include <optional>
#include <string>
#include <vector>

#include "plugin_dir.h"
#include "redis_target.h"

namespace h5redislock {
namespace cli {

struct Finding {
  enum class Verdict { kOk, kNote, kWarn, kFail };
  Verdict verdict;
  std::string topic;   // "HDF5", "plugin", "Redis", ...
  std::string text;    // what was found
  std::string advice;  // what to do; "" when nothing
};
using Findings = std::vector<Finding>;

// doctor_hdf5.cc (doctor_wheel.cc in the Python wheel's h5redislock): the
// HDF5 library and whether it loads the plugin.
void CheckHdf5(Findings* out);
void CheckPlugin(Findings* out);
// doctor_command.cc. Finds the plugins `run` hands out and checks that each
// loads (for CheckPlugin); false, with a FAIL finding, if not.
bool CheckRunPlugins(Plugins* plugins, Findings* out);
// `hdf5_driver`: $HDF5_DRIVER as it was when doctor
// started (it unsets it, so that its own HDF5 does not load the driver at
// start-up).
void CheckDriverVariable(const std::optional<std::string>& hdf5_driver, Findings* out);
// doctor_redis.cc: reaching, authenticating to and using the Redis server.
void CheckRedis(const Target& target, Findings* out);
// doctor_files.cc: the file system of `path` and HDF5's own file locking.
void CheckFiles(const std::string& path, Findings* out);

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_DOCTOR_CHECKS_H_
