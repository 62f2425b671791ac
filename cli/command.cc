#include "command.h"

#include <cstdio>

namespace h5redislock {
namespace cli {
namespace {

const OptionSpec* FindOption(const CommandSpec& spec, const std::string& name) {
  for (const OptionSpec& option : spec.options)
    if (option.name == name) return &option;
  return nullptr;
}

}  // namespace

std::string ParsedArgs::Value(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? std::string() : it->second;
}

std::optional<int> ParseArgs(const CommandSpec& spec, const Args& args, ParsedArgs* out) {
  *out = ParsedArgs();
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      out->positionals.insert(out->positionals.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg == "--help" || arg == "-h") {
      std::fputs(spec.usage, stdout);
      return kExitOk;
    }
    if (arg.size() < 2 || arg.compare(0, 2, "--") != 0) {
      if (spec.program_follows) {
        out->positionals.insert(out->positionals.end(), args.begin() + i, args.end());
        break;
      }
      out->positionals.push_back(arg);
      continue;
    }
    size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const OptionSpec* option = FindOption(spec, name);
    if (!option) return UsageError(spec.name, "unknown option " + name);
    if (out->Has(name)) return UsageError(spec.name, name + " is given twice");
    if (!option->takes_value) {
      if (eq != std::string::npos) return UsageError(spec.name, name + " takes no value");
      out->flags.insert(name);
    } else if (eq != std::string::npos) {
      out->values[name] = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      out->values[name] = args[++i];
    } else {
      return UsageError(spec.name, name + " needs a value");
    }
  }
  return std::nullopt;
}

int Fail(const std::string& command, const Status& status) {
  std::fprintf(stderr, "h5redislock %s: %s\n", command.c_str(), status.message().c_str());
  return kExitFailure;
}

int UsageError(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "h5redislock %s: %s (see h5redislock %s --help)\n", command.c_str(), message.c_str(),
               command.c_str());
  return kExitUsage;
}

}  // namespace cli
}  // namespace h5redislock
