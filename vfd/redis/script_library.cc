#include "redis/script_library.h"

#include <hiredis/hiredis.h>

#include "redis/reply_error.h"

namespace h5redislock {
namespace {

std::string LibraryText(const std::string& name, const std::string& lua, const std::vector<std::string>& functions) {
  std::string text = "#!lua name=" + name + "\n" + lua + "\n";
  for (const std::string& f : functions)
    text += "redis.register_function('" + name + "_" + f + "', " + f + ")\n";
  return text;
}

std::vector<std::string> ScriptTexts(const std::string& lua, const std::vector<std::string>& functions) {
  std::vector<std::string> scripts;
  for (const std::string& f : functions) scripts.push_back(lua + "\nreturn " + f + "(KEYS, ARGV)\n");
  return scripts;
}

Argv CallCommand(const char* verb, const std::string& what, const Argv& keys, const Argv& args) {
  Argv argv = {verb, what, std::to_string(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

ReplyError ErrorOf(const redisReply* reply) {
  return IsErrorReply(reply) ? ClassifyError(ReplyString(reply)) : ReplyError::kNone;
}

// Whether a refused FCALL or FUNCTION LOAD means that this server (or this
// user on it) runs no functions: then scripts it is. (A user that may not
// touch the keys is refused by scripts too: that error is the caller's.)
bool NoFunctionsHere(const redisReply* reply) {
  const ReplyError e = ErrorOf(reply);
  return e == ReplyError::kUnknownCommand ||
         (e == ReplyError::kNoPermission && ReplyString(reply).find(" command") != std::string::npos);
}

}  // namespace

ScriptLibrary::ScriptLibrary(std::string name, const std::string& lua, std::vector<std::string> functions)
    : name_(std::move(name)),
      functions_(std::move(functions)),
      library_(LibraryText(name_, lua, functions_)),
      scripts_(ScriptTexts(lua, functions_)),
      digests_(functions_.size()) {}

ScriptLibrary::Mode ScriptLibrary::ModeOf(const RedisConnection& conn) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = modes_.find(conn.endpoint().Describe());
  return it == modes_.end() ? Mode::kFunctions : it->second;
}

void ScriptLibrary::SetMode(const RedisConnection& conn, Mode mode) {
  std::lock_guard<std::mutex> lock(mu_);
  modes_[conn.endpoint().Describe()] = mode;
}

std::string ScriptLibrary::Digest(size_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  return digests_[index];
}

bool ScriptLibrary::RanNothing(const redisReply* reply) {
  const ReplyError e = ErrorOf(reply);
  return e == ReplyError::kNoFunction || e == ReplyError::kNoScript || e == ReplyError::kUnknownCommand;
}

Argv ScriptLibrary::Command(const RedisConnection& conn, size_t index, const Argv& keys, const Argv& args) {
  switch (ModeOf(conn)) {
    case Mode::kFunctions: return CallCommand("FCALL", name_ + "_" + functions_[index], keys, args);
    case Mode::kScripts: {
      const std::string digest = Digest(index);
      if (!digest.empty()) return CallCommand("EVALSHA", digest, keys, args);
      break;
    }
    case Mode::kWhole: break;
  }
  return CallCommand("EVAL", scripts_[index], keys, args);
}

Status ScriptLibrary::Call(RedisConnection& conn, size_t index, const Argv& keys, const Argv& args, Reply* reply) {
  if (ModeOf(conn) == Mode::kFunctions) {
    bool fell_back = false;
    Status s = CallFunction(conn, index, keys, args, reply, &fell_back);
    if (!s.ok() || !fell_back) return s;
  }
  if (ModeOf(conn) == Mode::kScripts) return CallScript(conn, index, keys, args, reply);
  return CallWhole(conn, index, keys, args, reply);
}

// FCALL; FUNCTION LOAD REPLACE and FCALL again if the function is not found.
// *fell_back: the server runs no functions (the mode is now scripts).
Status ScriptLibrary::CallFunction(RedisConnection& conn, size_t index, const Argv& keys, const Argv& args,
                                   Reply* reply, bool* fell_back) {
  const Argv fcall = CallCommand("FCALL", name_ + "_" + functions_[index], keys, args);
  Status s = conn.Command(fcall, reply);
  if (!s.ok()) return s;
  if (ErrorOf(reply->get()) != ReplyError::kNoFunction) {
    if (!NoFunctionsHere(reply->get())) return Status::OK();
    SetMode(conn, Mode::kScripts);
    *fell_back = true;
    return Status::OK();
  }
  // Loading and calling in one round trip: REPLACE makes a library of
  // another process's making ours (the same name is the same version).
  std::vector<Reply> replies;
  s = conn.Pipeline({{"FUNCTION", "LOAD", "REPLACE", library_}, fcall}, &replies);
  if (!s.ok()) return s;
  if (NoFunctionsHere(replies[0].get())) {
    SetMode(conn, Mode::kScripts);
    *fell_back = true;
    return Status::OK();
  }
  *reply = std::move(replies[1]);
  return Status::OK();
}

// EVALSHA by the digest; while it is not known, the script goes whole with
// a SCRIPT LOAD of every script in the same round trip.
Status ScriptLibrary::CallScript(RedisConnection& conn, size_t index, const Argv& keys, const Argv& args,
                                 Reply* reply) {
  const std::string digest = Digest(index);
  if (!digest.empty()) {
    Status s = conn.Command(CallCommand("EVALSHA", digest, keys, args), reply);
    if (!s.ok() || ErrorOf(reply->get()) != ReplyError::kNoScript) return s;
    // The server restarted or flushed its scripts: send it whole, load again.
  }
  std::vector<Argv> commands;
  for (const std::string& script : scripts_) commands.push_back({"SCRIPT", "LOAD", script});
  commands.push_back(CallCommand("EVAL", scripts_[index], keys, args));
  std::vector<Reply> replies;
  Status s = conn.Pipeline(commands, &replies);
  if (!s.ok()) return s;
  std::vector<std::string> learnt;
  for (size_t i = 0; i < scripts_.size(); ++i) {
    if (ErrorOf(replies[i].get()) == ReplyError::kNoPermission) {
      SetMode(conn, Mode::kWhole);
      break;
    }
    const std::string text = ReplyString(replies[i].get());
    if (IsErrorReply(replies[i].get()) || text.size() != 40) break;
    learnt.push_back(text);
  }
  if (learnt.size() == scripts_.size()) {
    std::lock_guard<std::mutex> lock(mu_);
    digests_ = std::move(learnt);
  }
  *reply = std::move(replies.back());
  return Status::OK();
}

Status ScriptLibrary::CallWhole(RedisConnection& conn, size_t index, const Argv& keys, const Argv& args,
                                Reply* reply) {
  return conn.Command(CallCommand("EVAL", scripts_[index], keys, args), reply);
}

}  // namespace h5redislock
