#include "lock_view.h"

#include <vector>

#include "base/process_identity.h"
#include "json.h"
#include "text_table.h"
#include "time_format.h"

namespace h5redislock {
namespace cli {
namespace {

// Holders since their grant, waiters since they queued.
long long SinceMs(const LockEntry& e) { return e.granted_ms ? e.granted_ms : e.since_ms; }

std::string Note(const LockEntry& e) {
  if (e.broken) return "broken";
  if (e.lease_left_ms < 0) return "lease expired";
  // Kept by its process after the file's last close: no file is open.
  if (e.releasing) return "cached, being released";
  if (e.cached) return "cached";
  return "";
}

// "1 acquisition", "3 acquisitions".
std::string Count(size_t n, const std::string& noun, const std::string& plural) {
  return std::to_string(n) + " " + (n == 1 ? noun : plural);
}

std::string Summary(const LockSnapshot& lock) {
  std::string text = lock.lock_name + ": ";
  if (lock.holders.empty()) {
    text += "free";
  } else {
    const bool writing = lock.holders[0].mode == LockMode::kWrite;
    text += std::string("held for ") + (writing ? "writing" : "reading") + " by " +
            Count(lock.holders.size(), "process", "processes");
  }
  if (!lock.waiters.empty()) text += ", " + std::to_string(lock.waiters.size()) + " waiting";
  return text + "; " + Count(static_cast<size_t>(lock.acquisitions), "acquisition", "acquisitions") +
         ", waits " + FormatMs(lock.wait_total_ms) + " in all, " + FormatMs(lock.wait_max_ms) + " at most";
}

std::string EntryJson(const LockEntry& e, long long now_ms) {
  return JsonObject()
      .Add("pid", static_cast<long long>(e.pid))
      .Add("host", e.host)
      .Add("mode", ModeName(e.mode))
      .Add("since_ms", SinceMs(e))
      .Add("for_ms", now_ms - SinceMs(e))
      .Add("lease_left_ms", e.lease_left_ms)
      .AddBool("broken", e.broken)
      .AddBool("cached", e.cached)
      .AddBool("being_released", e.releasing)
      .Add("process", ProcessState(e))
      .Text();
}

// The session mark, if any: a session whose journal may remain.
std::string SessionText(const LockSnapshot& lock) {
  const SessionMark& m = lock.session;
  if (!m.set()) return "";
  return "  unfinished write session: pid " + std::to_string(m.pid) + " on " + m.host + " (since " +
         FormatClockTime(m.since_ms, lock.now_ms) + "); the next holder rolls back its journal, or refuses to "
         "open where it cannot see one (`h5redislock break --clear-session` clears this mark)\n";
}

std::string SessionJson(const LockSnapshot& lock) {
  const SessionMark& m = lock.session;
  if (!m.set()) return "null";
  return JsonObject()
      .Add("pid", static_cast<long long>(m.pid))
      .Add("host", m.host)
      .Add("since_ms", m.since_ms)
      .Text();
}

std::string EntriesJson(const std::vector<LockEntry>& entries, long long now_ms) {
  std::vector<std::string> elements;
  for (const LockEntry& e : entries) elements.push_back(EntryJson(e, now_ms));
  return JsonArray(elements);
}

}  // namespace

const char* ProcessState(const LockEntry& entry) {
  switch (CheckLiveness(entry.host_key, entry.pid, entry.start)) {
    case Liveness::kAlive: return "alive";
    case Liveness::kDead: return "dead";
    case Liveness::kUnknown: break;
  }
  return "other host";
}

std::string LockText(const LockSnapshot& lock) {
  std::string text = Summary(lock) + "\n" + SessionText(lock);
  if (lock.holders.empty() && lock.waiters.empty()) return text;
  TextTable table({"ROLE", "PID", "HOST", "MODE", "SINCE", "FOR", "LEASE LEFT", "PROCESS", "NOTE"});
  auto add = [&](const std::string& role, const LockEntry& e) {
    table.AddRow({role, std::to_string(e.pid), e.host, ModeName(e.mode), FormatClockTime(SinceMs(e), lock.now_ms),
                  FormatMs(lock.now_ms - SinceMs(e)), FormatMs(e.lease_left_ms), ProcessState(e), Note(e)});
  };
  for (const LockEntry& e : lock.holders) add("holder", e);
  for (size_t i = 0; i < lock.waiters.size(); ++i) add("waiter " + std::to_string(i + 1), lock.waiters[i]);
  return text + table.Render("  ");
}

std::string LockJson(const LockSnapshot& lock) {
  return JsonObject()
      .Add("name", lock.lock_name)
      .Add("time_ms", lock.now_ms)
      .AddRaw("holders", EntriesJson(lock.holders, lock.now_ms))
      .AddRaw("waiters", EntriesJson(lock.waiters, lock.now_ms))
      .Add("acquisitions", lock.acquisitions)
      .Add("wait_total_ms", lock.wait_total_ms)
      .Add("wait_max_ms", lock.wait_max_ms)
      .AddRaw("session", SessionJson(lock))
      .Text();
}

}  // namespace cli
}  // namespace h5redislock
