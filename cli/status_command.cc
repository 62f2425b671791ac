// status_command.cc: `h5redislock status`, who holds and waits for which lock.
#include <cstdio>
#include <memory>

#include "command.h"
#include "embedded_server.h"
#include "json.h"
#include "lock/lock_keys.h"
#include "lock_listing.h"
#include "lock_view.h"
#include "redis_target.h"

namespace h5redislock {
namespace cli {
namespace {

const char kUsage[] = R"(usage: h5redislock status [--url URL] [--config STR] [--json] [FILE...]

Shows the locks of the FILEs, or every lock under the config's prefix:
  holders   pid, host, mode, since when (local time), for how long, how long
            their lease has left, whether the process is alive (on this
            host; "other host" otherwise), "broken" once `break` marked it,
            and "cached" for a lock its process keeps after the file's last
            close (linger=; no file is open, and it is let go as soon as
            someone waits: "cached, being released")
  waiters   the same, in the order they will be served
  counters  acquisitions, and the total and longest wait for them, since the
            lock was last idle for longer than retain= (default 600 s)
  session   the write session that may have left an undo journal (its
            process died or lost the lock before it finished): its pid,
            host and start; the next holder rolls the journal back, or
            refuses to open where it cannot see it (see `break --help`)

The Redis server and prefix are those `h5redislock run` would use (see
`h5redislock run --help`). If that is the embedded server and it is not
running, no file is locked. --json prints one JSON object instead:
  {"redis": URL, "prefix": P, "locks": [{"name", "time_ms", "holders": [...],
   "waiters": [...], "acquisitions", "wait_total_ms", "wait_max_ms",
   "session": {"pid", "host", "since_ms"} or null}]}
with each holder and waiter {"pid", "host", "mode", "since_ms", "for_ms",
"lease_left_ms", "broken", "cached", "being_released", "process"} (times in
ms of Redis's clock).
)";

// The snapshots of the files' locks, or of every lock. An embedded server
// that is not running holds no lock: its files are free, and nothing starts it.
Status ReadLocks(const Target& target, const std::vector<std::string>& files, bool* server_down,
                 std::vector<LockSnapshot>* locks) {
  std::vector<std::string> names(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    Status s = LockNameOfFile(target.config, files[i], &names[i]);
    if (!s.ok()) return s;
  }
  *server_down = target.embedded && !ServerAnswers(target.config.redis.socket_path);
  std::unique_ptr<RedisConnection> conn;
  Status s = *server_down ? Status::OK() : Connect(target, &conn);
  if (s.ok() && conn && files.empty()) s = ListLockNames(*conn, target.config.prefix, &names);
  for (size_t i = 0; s.ok() && i < names.size(); ++i) {
    locks->emplace_back();
    locks->back().lock_name = names[i];
    if (conn) s = ReadLockSnapshot(*conn, LockKeys(target.config.prefix, names[i]), &locks->back());
  }
  return s;
}

void Print(const Target& target, bool server_down, const std::vector<LockSnapshot>& locks, bool json) {
  const std::string where = target.config.redis.Describe();
  if (json) {
    std::vector<std::string> elements;
    for (const LockSnapshot& lock : locks) elements.push_back(LockJson(lock));
    std::printf("%s\n", JsonObject()
                            .Add("redis", where)
                            .Add("prefix", target.config.prefix)
                            .AddRaw("locks", JsonArray(elements))
                            .Text()
                            .c_str());
    return;
  }
  std::printf("Redis %s (%s%s), prefix '%s': %zu lock%s\n", where.c_str(), target.url_source.c_str(),
              server_down ? ", not running" : "", target.config.prefix.c_str(), locks.size(),
              locks.size() == 1 ? "" : "s");
  for (const LockSnapshot& lock : locks) std::printf("\n%s", LockText(lock).c_str());
}

}  // namespace

int StatusMain(const Args& args) {
  CommandSpec spec{"status", kUsage, TargetOptions()};
  spec.options.push_back({"--json", false});
  ParsedArgs parsed;
  if (auto done = ParseArgs(spec, args, &parsed)) return *done;
  Target target;
  Status s = ResolveTarget(parsed, &target);
  if (!s.ok()) return Fail(spec.name, s);
  std::vector<LockSnapshot> locks;
  bool server_down = false;
  s = ReadLocks(target, parsed.positionals, &server_down, &locks);
  if (!s.ok()) return Fail(spec.name, s);
  Print(target, server_down, locks, parsed.Has("--json"));
  return kExitOk;
}

}  // namespace cli
}  // namespace h5redislock
