// command.h: what the subcommands of h5redislock share: their entry points,
// how they parse options, and how they report failure.
//
// Every subcommand takes its arguments (after its own name) and returns the
// process's exit status: 0 success, 1 failure, 2 a usage error. Errors go to
// stderr as "h5redislock <command>: <message>"; messages come from Status
// texts, which never hold a password.
#ifndef H5REDISLOCK_CLI_COMMAND_H_
#define H5REDISLOCK_CLI_COMMAND_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"

namespace h5redislock {
namespace cli {

using Args = std::vector<std::string>;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int RunMain(const Args& args);
int ServerMain(const Args& args);
int StatusMain(const Args& args);
int BreakMain(const Args& args);
int DoctorMain(const Args& args);
int PluginDirMain(const Args& args);

struct OptionSpec {
  std::string name;  // "--url"
  bool takes_value;  // --url VALUE or --url=VALUE
};

struct ParsedArgs {
  std::map<std::string, std::string> values;
  std::set<std::string> flags;
  std::vector<std::string> positionals;

  bool Has(const std::string& name) const { return values.count(name) || flags.count(name); }
  std::string Value(const std::string& name) const;  // "" when absent
};

// A subcommand's name, its --help text and the options it knows (--help is
// always known). With `program_follows`, the first positional argument and
// everything after it (or everything after "--") are positionals, so that
// `run` passes a program's own options through untouched.
struct CommandSpec {
  std::string name;
  const char* usage;
  std::vector<OptionSpec> options;
  bool program_follows = false;
};

// Parses `args`. Returns the exit status when the command is done already
// (--help printed, or a usage error reported), otherwise nothing.
std::optional<int> ParseArgs(const CommandSpec& spec, const Args& args, ParsedArgs* out);

// Reports a failure of `command`; returns kExitFailure.
int Fail(const std::string& command, const Status& status);
// Reports a usage error of `command`, pointing to its --help; returns kExitUsage.
int UsageError(const std::string& command, const std::string& message);

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_COMMAND_H_
