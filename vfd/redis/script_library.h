// script_library.h: a library of Lua functions, run on Redis servers.
//
// Redis 7 keeps *functions* among its data (FUNCTION LOAD): loaded once per
// server, persisted and replicated with it, and called by name (FCALL), with
// no digest to compute and no script cache to miss. So a library's functions
// are called with FCALL, and the library is loaded (FUNCTION LOAD REPLACE)
// when a server answers that a function is not found: a server that never
// had it, or one restarted without its data, or flushed. Its name carries its
// version ("h5redislock2"), so that processes of two versions each call their
// own.
//
// Where FCALL is unknown (Redis before 7, or renamed away) or forbidden (an
// ACL user without FUNCTION), the same Lua runs as scripts: one per function,
// the library's text followed by a call of that function. A script goes by
// EVALSHA, with the digest that SCRIPT LOAD answered for it (there is no
// SHA-1 code, and no OpenSSL, in here): a process learns every digest with
// its first script, whose EVAL goes in one round trip with a SCRIPT LOAD of
// each; NOSCRIPT (a restart, SCRIPT FLUSH) sends the script whole once more.
// A user that may not run SCRIPT LOAD sends every script whole (EVAL).
//
// What a server can do is learnt once per server (by the text of its address)
// and kept: the first call to a server before Redis 7 costs one refused FCALL.
//
// Thread-safety: thread-safe; connections are the caller's (one thread each).
#ifndef H5REDISLOCK_SCRIPT_LIBRARY_H_
#define H5REDISLOCK_SCRIPT_LIBRARY_H_

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "redis/redis_connection.h"

namespace h5redislock {

class ScriptLibrary {
 public:
  // `lua` defines one local function per name in `functions`, each taking
  // (keys, args) as a Redis function does.
  ScriptLibrary(std::string name, const std::string& lua, std::vector<std::string> functions);
  ScriptLibrary(const ScriptLibrary&) = delete;
  ScriptLibrary& operator=(const ScriptLibrary&) = delete;

  // Calls function `index` (of the constructor's list) on `conn`'s server,
  // loading what the server lacks. An error the function raised comes back
  // as an error reply, the caller's to judge; a transport failure as Status.
  Status Call(RedisConnection& conn, size_t index, const Argv& keys, const Argv& args, Reply* reply);

  // For pipelines (the lease keeper's): the command that calls function
  // `index` on `conn`'s server as far as it is known...
  Argv Command(const RedisConnection& conn, size_t index, const Argv& keys, const Argv& args);
  // ...and whether its reply says that it ran nothing, because the server
  // lacked the library or the script: then call it again through Call.
  static bool RanNothing(const redisReply* reply);

  const std::string& name() const { return name_; }

 private:
  // How a server runs the library: functions, until it says it cannot; else
  // scripts by digest, until it refuses SCRIPT LOAD; else scripts whole.
  enum class Mode { kFunctions, kScripts, kWhole };

  Mode ModeOf(const RedisConnection& conn);
  void SetMode(const RedisConnection& conn, Mode mode);
  Status CallFunction(RedisConnection& conn, size_t index, const Argv& keys, const Argv& args, Reply* reply,
                      bool* fell_back);
  Status CallScript(RedisConnection& conn, size_t index, const Argv& keys, const Argv& args, Reply* reply);
  Status CallWhole(RedisConnection& conn, size_t index, const Argv& keys, const Argv& args, Reply* reply);
  std::string Digest(size_t index);

  const std::string name_;
  const std::vector<std::string> functions_;
  const std::string library_;               // FUNCTION LOAD's text
  const std::vector<std::string> scripts_;  // one per function, for EVAL

  std::mutex mu_;
  std::map<std::string, Mode> modes_;   // guarded by mu_; by server address
  std::vector<std::string> digests_;    // guarded by mu_; "" while not known
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_SCRIPT_LIBRARY_H_
