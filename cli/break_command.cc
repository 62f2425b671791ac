// break_command.cc: `h5redislock break FILE`, force-releasing a lock whose
// holder is gone or stuck.
//
// Entries of processes that this host knows to be dead are removed at once
// (RemoveEntries), and the lock is handed on. Every other holder may still be
// alive, here or on another host, and may still write: its entry is marked
// broken (BreakEntries), so its renewals fail, it loses the lock when its
// current lease ends and is fenced from then on (its writes fail), and only
// then does the next waiter get the lock. Never two writers at once.
//
// With --clear-session it clears the lock's session mark instead (see "Write
// sessions" in vfd/lock_protocol.cc): for a file known to be whole, whose
// opens are refused because the marked session's journal, if it made one,
// is not visible where they run.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

#include "base/process_identity.h"
#include "command.h"
#include "embedded_server.h"
#include "lock/lock_keys.h"
#include "lock/lock_protocol.h"
#include "lock_listing.h"
#include "lock_view.h"
#include "redis_target.h"
#include "time_format.h"

namespace h5redislock {
namespace cli {
namespace {

const char kUsage[] = R"(usage: h5redislock break [--url URL] [--config STR] [--yes] [--clear-session] FILE

Force-releases the lock of FILE when its holder is gone or stuck. Shows the
holders and waiters, asks for confirmation on a terminal (--yes skips it,
and is needed when stdin is not a terminal), then:
  * entries of processes of this host that are dead are removed at once, and
    the lock goes to the next waiter now;
  * every other holder (alive, stopped, or on another host) is marked broken:
    its lease is no longer renewed, so it loses the lock when its current
    lease ends (at most lease= seconds, default 10), and from then on its
    reads and writes of FILE fail. The next waiter gets the lock then, never
    while the old holder could still write.
Live waiters are left alone. The Redis server is the one `h5redislock run`
would use (see `h5redislock run --help`).

--clear-session clears the lock's session mark instead, and nothing else.
The mark names a write session that died or lost the lock before it
finished (`h5redislock status` shows it): the next open must roll back its
undo journal (FILE-redislock-journal), and refuses to open where it cannot
see one, since a file system that caches names (NFS) can hide a journal made
on another host for a while. Clear it only when FILE is known to be whole:
its journal was rolled back or removed, or never made. A journal that is
there is still rolled back by the next open that sees it.
)";

struct Plan {
  std::vector<const LockEntry*> remove;  // dead on this host
  std::vector<const LockEntry*> mark;    // holders that may be alive
};

Plan MakePlan(const LockSnapshot& lock) {
  Plan plan;
  for (const auto* entries : {&lock.holders, &lock.waiters}) {
    for (const LockEntry& e : *entries) {
      if (CheckLiveness(e.host_key, e.pid, e.start) == Liveness::kDead) plan.remove.push_back(&e);
      else if (entries == &lock.holders) plan.mark.push_back(&e);
    }
  }
  return plan;
}

std::vector<std::string> Tokens(const std::vector<const LockEntry*>& entries) {
  std::vector<std::string> tokens;
  for (const LockEntry* e : entries) tokens.push_back(e->token);
  return tokens;
}

bool Confirm(const char* what, const std::string& lock_name) {
  std::fprintf(stderr, "%s %s? [y/N] ", what, lock_name.c_str());
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "Y" || answer == "yes";
}

// What happened, for people, and what is the lock's state now.
void Report(const LockSnapshot& before, const Plan& plan, long long marked, const LockSnapshot& after) {
  for (const LockEntry* e : plan.remove)
    std::printf("removed %s: the process is dead\n", e->Describe(before.now_ms).c_str());
  for (const LockEntry* e : plan.mark) {
    std::printf("marked broken %s: it loses the lock when its lease ends in %s; its reads and writes fail "
                "from then on\n",
                e->Describe(before.now_ms).c_str(), FormatMs(std::max(e->lease_left_ms, 0LL)).c_str());
  }
  if (marked < static_cast<long long>(plan.mark.size()))
    std::printf("(%lld of them had left the lock meanwhile)\n", static_cast<long long>(plan.mark.size()) - marked);
  std::printf("now %s", LockText(after).c_str());
}

}  // namespace

int BreakMain(const Args& args) {
  CommandSpec spec{"break", kUsage, TargetOptions()};
  spec.options.push_back({"--yes", false});
  spec.options.push_back({"--clear-session", false});
  ParsedArgs parsed;
  if (auto done = ParseArgs(spec, args, &parsed)) return *done;
  if (parsed.positionals.size() != 1) return UsageError(spec.name, "needs exactly one FILE");
  Target target;
  Status s = ResolveTarget(parsed, &target);
  std::string name;
  if (s.ok()) s = LockNameOfFile(target.config, parsed.positionals[0], &name);
  if (s.ok() && target.embedded && !ServerAnswers(target.config.redis.socket_path)) {
    std::printf("the embedded Redis server is not running, so nobody holds the lock of %s\n", name.c_str());
    return kExitOk;
  }
  std::unique_ptr<RedisConnection> conn;
  if (s.ok()) s = Connect(target, &conn);
  const LockKeys keys(target.config.prefix, name);
  LockSnapshot before;
  if (s.ok()) s = ReadLockSnapshot(*conn, keys, &before);
  if (!s.ok()) return Fail(spec.name, s);

  const bool clear_session = parsed.Has("--clear-session");
  const Plan plan = clear_session ? Plan() : MakePlan(before);
  std::printf("%s", LockText(before).c_str());
  if (clear_session && !before.session.set()) {
    std::printf("nothing to clear: the lock has no session mark\n");
    return kExitOk;
  }
  if (!clear_session && plan.remove.empty() && plan.mark.empty()) {
    std::printf("nothing to break: nobody holds the lock and no waiter is dead\n");
    return kExitOk;
  }
  if (!parsed.Has("--yes")) {
    if (!isatty(STDIN_FILENO))
      return Fail(spec.name, Status::InvalidArgument("stdin is not a terminal to ask on: add --yes to go on"));
    if (!Confirm(clear_session ? "Clear the session mark of" : "Break the lock of", name)) {
      std::printf("left the lock alone\n");
      return kExitFailure;
    }
  }
  if (clear_session) {
    bool cleared = false;
    s = SettleSession(*conn, keys, "", before.session.token, static_cast<long long>(target.config.retain_s * 1000),
                      &cleared);
    if (!s.ok()) return Fail(spec.name, s);
    std::printf(cleared ? "cleared the session mark of %s\n" : "left the lock alone: its session mark changed "
                                                               "meanwhile (it no longer names %s)\n",
                before.session.Describe().c_str());
    return cleared ? kExitOk : kExitFailure;
  }
  long long marked = 0;
  if (!plan.remove.empty()) s = RemoveEntries(*conn, keys, Tokens(plan.remove), target.config.retain_s);
  if (s.ok() && !plan.mark.empty()) s = BreakEntries(*conn, keys, Tokens(plan.mark), &marked);
  LockSnapshot after;
  if (s.ok()) s = ReadLockSnapshot(*conn, keys, &after);
  if (!s.ok()) return Fail(spec.name, s);
  Report(before, plan, marked, after);
  return kExitOk;
}

}  // namespace cli
}  // namespace h5redislock
