// lock_protocol.cc: the readers-writers lock kept in Redis.
//
// This file is the one place where the lock protocol lives. Its divisions:
//   1. The protocol in prose: keys, entries, states and transitions.
//   2. The Lua scripts that make every transition atomic.
//   3. Running scripts: EVALSHA, digests from SCRIPT LOAD, NOSCRIPT, and what
//      Redis errors mean.
//   4. Taking a lock: the client's side of waiting.
//   5. Releasing, renewing, and reading a lock.
//
// ============================================================================
// 1. The protocol
// ============================================================================
//
// A lock is named by a string (the file's canonical path, or key=). Its keys
// all share the hash tag {name} (see lock_keys.h), so one script sees them all,
// also on Redis Cluster:
//
//   <base>:state   HASH   mode (r|w, while held), fence (last fencing number),
//                         seq (last queue ticket), acquired, wait_ms,
//                         wait_max_ms (counters for `h5redislock status`),
//                         session (the session mark: see "Write sessions")
//   <base>:lease   ZSET   token -> Redis time (ms) the entry expires; every
//                         entry, holder or waiter, is here
//   <base>:queue   ZSET   token -> ticket, for waiters: the order of service
//   <base>:held    ZSET   token -> fencing number, for holders
//   <base>:info    HASH   token -> JSON record: mode, host, hostkey, pid, start,
//                         lease (ms), since, granted (Redis ms), broken,
//                         session (st_dev of the file's directory, for a
//                         write session that keeps a journal)
//   <base>:wake:<token>   LIST   the grant, pushed for a waiter to pop
//
// An *entry* is one attempt by one process to hold the lock, named by a random
// 128-bit token. Within a process, opens of one file share one entry (see
// lock_table.h), so a process never waits for itself.
//
// States of an entry, and the transitions between them:
//
//               ACQUIRE: compatible and nobody queued
//      (none) ----------------------------------------> HELD
//        |                                               ^   |
//        | ACQUIRE: otherwise                   promote  |   | LEAVE, or lease
//        v                                               |   v   expiry (prune)
//     QUEUED ------------------------------------------->+  (none)
//        |
//        | LEAVE (timeout), lease expiry (prune)
//        v
//      (none)
//
// Compatibility: holders are either any number of readers or one writer.
// *Writer preference*: a newcomer is granted at once only if the queue is
// empty; otherwise it queues. So once a writer waits, new readers queue behind
// it, and the queue is served in ticket order: a run of readers at its head is
// granted together, a writer alone. Nobody starves, and the seed's guarantee
// (writers are not starved by a stream of readers) holds.
//
// *Promote* runs after every change that may free the lock (leave, expiry):
// it grants the head of the queue while it is compatible with the holders,
// gives each grant a fencing number, and pushes that number onto the grantee's
// wake list. Waiters block in BLPOP on their own wake list, so there is no
// polling and no lost wake-up: a grant made before the waiter blocks is still
// in the list when it does (pub/sub would lose it). A waiter that died leaves
// a list nobody pops: it expires with the entry's lease.
//
// *Leases.* Every entry expires (lease ZSET, Redis's own clock) unless its
// process renews it: each process's keeper renews all its entries every
// lease/3, in one pipelined round trip per master, each master on a schedule
// of its own (lease_keeper.h). Every script first *prunes* expired entries, so a holder that vanished (host down,
// network cut) frees the lock at most one lease after its last renewal. Its
// process, if it still runs, stops all I/O before that moment: see
// lock_lease.h for the local deadline and its safety margin (fencing). That
// holds only if a client never counts on more of a lease than Redis has: it
// counts from when it sent the command that told it how much was left, and
// an ACQUIRE that finds its entry (a retry whose first reply was lost, a
// waiter asking again) renews it first, as its owner's renewal. Without
// that, a grant found most of a lease late would be used with the lease of
// its first grant, and Redis would give the lock to another before the
// holder stopped.
//
// *Fast recovery on one host.* A waiter learns from ACQUIRE who is ahead of it
// (holders and earlier waiters, with host key, pid and start time). While it
// blocks, it asks its own kernel every 100 ms whether those of its host are
// alive (process_identity.h: no Redis command). When one is certainly dead
// (one that /proc hides from it is left to its lease), it removes that entry
// with LEAVE (the entry's token identifies exactly that dead attempt) and
// promote hands the lock on: the next waiter runs within a tick.
// Connection liveness (CLIENT LIST) is deliberately not used: a live holder
// whose connection dropped would be declared dead while it can still write.
//
// *Fencing numbers* increase strictly with every grant of a lock, also after
// Redis lost its data: a grant's number is max(last + 1, Redis time in µs).
//
// *Keys vanish.* After each script the keys' TTLs are set to the latest lease
// expiry, so nothing outlives its last lease, whatever happens to clients. The
// state hash, with the counters, is kept `retain` longer; while it holds a
// session mark, for good (a lost mark is lost protection).
//
// Each state change is one script: there is no check-then-act across round
// trips. An uncontended open+close is two round trips (ACQUIRE, LEAVE).
//
// *Where the lock lives.* A lock's commands go to the master that serves its
// hash slot (router.h: one server, a Redis Cluster, Sentinel's master); the
// waiter's BLPOP too, since promote pushes the grant there. When that master
// is failed over, the grants of its term are fenced (master_term.h); with
// replicas=N a grant counts only once WAIT confirms N replicas have it, and a
// renewal extends the local deadline only then (see "Failover" in README.md).
// A server restarted without its data has forgotten every entry and grants
// again at once: the holders from before are fenced when their watch sees
// the restart (server_watch.h), and, for those whose path to it went silent
// and who cannot see it, a grant of a server that has been up for less than
// a lease is used only once it has (master_term.h: "Young servers").
//
// *Write sessions.* The lock keeps writers apart; what a writer that dies in
// mid-session leaves behind is undone by its undo journal (undo_journal.h):
// made when the session begins, committed by its removal at the last close
// while the lock is still held, and rolled back by whoever takes the lock
// next, always under the exclusive lock and before any read, whatever that
// opener's own journal= says (a reader that finds a journal trades its
// shared lock for the exclusive one to roll back; see
// RedisLockFile::TakeLock). A session holder that lost its lease never
// commits: its journal stays for the next holder.
//
// Finding that journal must not depend on the next holder's directory cache:
// an NFS client trusts "no such file" for up to a minute, and would read the
// dead session's writes. So the state hash keeps a *session mark*: the token,
// host, host key, pid and directory st_dev (as its process saw it) of a
// write session that keeps a journal and is not known to have finished:
//
//                grant of the write lock to a session that keeps a
//                journal, when no mark is set (HSETNX)
//   (no mark) -----------------------------------------> MARKED <--+
//       ^                                                  |  |     |
//       |  LEAVE 'c' of the marked session (it committed,  |  +-----+ SETTLE by a holder that
//       |  rolled back, or left its grant unused); SETTLE  |          keeps a journal: its own
//       +--by a holder that keeps none; `h5redislock ------+          session is marked instead
//          break --clear-session`
//
// Every grant tells the grantee the mark (in ACQUIRE's reply, or after the
// fence in its wake list): no extra round trip. A grantee that sees another
// session's mark opens the file's directory (NFS revalidates its names then)
// and looks for the journal. Found: it is rolled back. Not found: if the
// grantee has the marked session's host key and st_dev, it sees the directory
// as that session did, so the absence is real (the session died before
// making its journal, or after removing it); otherwise it refuses to open,
// naming that session. A grantee that resolved another session's mark
// SETTLEs it before it goes on. A grant does not replace an older mark: the
// grantee may die before it has resolved it, and the next one, trusting the
// new mark's host and device, would take the absence of the older session's
// journal for real. Without a mark (a Redis that lost its data, an older
// client) the grantee only looks for the journal.

#include "lock/lock_protocol.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "base/log.h"
#include "base/no_destructor.h"
#include "base/process_identity.h"
#include "redis/master_term.h"

namespace h5redislock {

// ============================================================================
// 2. The scripts
// ============================================================================
// KEYS for every script: state, lease, queue, held, info (LockKeys order).
namespace {

// Shared by all scripts: names, the server's clock, and the transitions of the
// chart above (prune, promote, grant, forget), plus `tidy` for key TTLs.
const char kPrelude[] = R"lua(
local state, lease, queue, held, info = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local base = string.sub(state, 1, -7)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local function corrupt(what)
  error({err = 'H5REDISLOCK_CORRUPT ' .. what .. ' under ' .. base})
end

local function record(token)
  local raw = redis.call('HGET', info, token)
  if not raw then corrupt('entry ' .. token .. ' has no record') end
  local ok, rec = pcall(cjson.decode, raw)
  if not ok or type(rec) ~= 'table' or (rec.mode ~= 'r' and rec.mode ~= 'w')
     or type(rec.lease) ~= 'number' or type(rec.since) ~= 'number' then
    corrupt('malformed record for entry ' .. token)
  end
  return rec
end

local function view(token)
  local rec = record(token)
  local expiry = tonumber(redis.call('ZSCORE', lease, token) or now)
  return {token, rec.mode, tostring(rec.host or '?'), tostring(rec.hostkey or ''),
          tonumber(rec.pid) or 0, tonumber(rec.start) or 0, rec.since, rec.granted or 0,
          expiry - now, rec.broken and 1 or 0}
end

-- `was`: 'held' or 'queued' when known, which spares a command.
local function forget(token, was)
  redis.call('ZREM', lease, token)
  if was ~= 'held' then redis.call('ZREM', queue, token) end
  if was ~= 'queued' then redis.call('ZREM', held, token) end
  redis.call('HDEL', info, token)
  redis.call('DEL', base .. ':wake:' .. token)
end

-- The session mark of `token`'s write session (see "Write sessions"): its
-- token, host, host key, pid, directory st_dev and the time set, a line each.
local function session_of(token, rec)
  return table.concat({token, tostring(rec.host or '?'), tostring(rec.hostkey or ''),
                       tostring(rec.pid or 0), tostring(rec.session), now}, '\n')
end

local function held_mode()
  if redis.call('ZCARD', held) == 0 then return false end
  local mode = redis.call('HGET', state, 'mode')
  if mode ~= 'r' and mode ~= 'w' then corrupt('lock mode missing') end
  return mode
end

-- Grants the lock to `token`, a waiter if `queued`, else a newcomer.
local function grant(token, rec, queued)
  local fence = math.max(tonumber(redis.call('HGET', state, 'fence') or '0') + 1, now * 1000)
  redis.call('HSET', state, 'fence', string.format('%.0f', fence), 'mode', rec.mode)
  if queued then redis.call('ZREM', queue, token) end
  redis.call('ZADD', held, fence, token)
  redis.call('ZADD', lease, now + rec.lease, token)
  rec.granted = now
  redis.call('HSET', info, token, cjson.encode(rec))
  if rec.session then redis.call('HSETNX', state, 'session', session_of(token, rec)) end
  redis.call('HINCRBY', state, 'acquired', 1)
  local waited = now - rec.since
  if waited > 0 then
    redis.call('HINCRBY', state, 'wait_ms', waited)
    if waited > tonumber(redis.call('HGET', state, 'wait_max_ms') or '0') then
      redis.call('HSET', state, 'wait_max_ms', waited)
    end
  end
  return fence
end

local function promote()
  local mode = held_mode()
  while true do
    local head = redis.call('ZRANGE', queue, 0, 0)[1]
    if not head then break end
    local rec = record(head)
    if mode and (mode == 'w' or rec.mode == 'w') then break end
    local fence = grant(head, rec, true)
    local wake = base .. ':wake:' .. head
    local mark = redis.call('HGET', state, 'session')
    redis.call('LPUSH', wake, string.format('%.0f', fence) .. (mark and '\n' .. mark or ''))
    redis.call('PEXPIRE', wake, rec.lease)
    mode = rec.mode
  end
  if not mode then redis.call('HDEL', state, 'mode') end
end

local function prune()
  local expired = redis.call('ZRANGEBYSCORE', lease, '-inf', now)
  for _, token in ipairs(expired) do forget(token) end
  if #expired > 0 then promote() end
end

local function tidy(retain)
  local last = redis.call('ZRANGE', lease, -1, -1, 'WITHSCORES')
  local ttl
  if last[2] then
    ttl = math.max(tonumber(last[2]) - now, 1)
    for _, key in ipairs({lease, queue, held, info}) do redis.call('PEXPIRE', key, ttl) end
  end
  if redis.call('HEXISTS', state, 'session') == 1 then
    redis.call('PERSIST', state)
  elseif ttl then
    redis.call('PEXPIRE', state, ttl + retain)
  elseif retain > 0 then
    redis.call('PEXPIRE', state, retain)
  else
    redis.call('DEL', state)
  end
end
)lua";

// ACQUIRE token mode lease_ms record may_wait retain_ms
//   -> {'granted', fence, ms left of our entry's lease, {}, session mark or ''}
//    | {'queued' | 'busy', 0, ms until the soonest lease expiry ahead, {views ahead}, now,
//       ms left of our entry's lease (-1 for 'busy': there is none)}
// Idempotent: a retry with the same token reports the entry's current state,
// having renewed its lease (see below).
const char kAcquire[] = R"lua(
local token, mode, lease_ms = ARGV[1], ARGV[2], tonumber(ARGV[3])
local may_wait, retain = ARGV[5] == '1', tonumber(ARGV[6])
prune()

-- What the client may count on, from when it sent this command.
local function left()
  return tonumber(redis.call('ZSCORE', lease, token)) - now
end

-- `waited`: the entry queued before, so a grant may lie in its wake list.
local function granted(fence, waited)
  if waited then redis.call('DEL', base .. ':wake:' .. token) end
  tidy(retain)
  return {'granted', tonumber(fence), left(), {}, redis.call('HGET', state, 'session') or ''}
end

local function blocked(status)
  local ahead, soonest = {}, -1
  local function add(t)
    local v = view(t)
    ahead[#ahead + 1] = v
    if soonest < 0 or v[9] < soonest then soonest = v[9] end
  end
  for _, t in ipairs(redis.call('ZRANGE', held, 0, -1)) do add(t) end
  local rank = redis.call('ZRANK', queue, token)
  local queued = {}
  if not rank then queued = redis.call('ZRANGE', queue, 0, -1)
  elseif rank > 0 then queued = redis.call('ZRANGE', queue, 0, rank - 1) end
  for _, t in ipairs(queued) do add(t) end
  local ours = -1
  if status == 'queued' then ours = left() end
  tidy(retain)
  return {status, 0, math.max(soonest, -1), ahead, now, ours}
end

-- A retry, or a waiter asking again: every entry has a lease. Its owner
-- asks, so this renews it, as RENEW would (not a broken one's): the client
-- counts the lease from this command, and a grant whose reply was lost,
-- found here most of a lease later, must not keep its first expiry.
if redis.call('ZSCORE', lease, token) then
  if not record(token).broken then redis.call('ZADD', lease, now + lease_ms, token) end
  if redis.call('ZSCORE', queue, token) then promote() end
  local fence = redis.call('ZSCORE', held, token)
  if fence then return granted(fence, true) end
  return blocked('queued')
end

local ok, rec = pcall(cjson.decode, ARGV[4])
if not ok or type(rec) ~= 'table' then return redis.error_reply('ERR h5redislock: bad record') end
rec.mode, rec.lease, rec.since = mode, lease_ms, now
local current = held_mode()
if redis.call('ZCARD', queue) == 0 and (not current or (current == 'r' and mode == 'r')) then
  return granted(grant(token, rec, false), false)
end
if not may_wait then return blocked('busy') end
redis.call('ZADD', queue, redis.call('HINCRBY', state, 'seq', 1), token)
redis.call('ZADD', lease, now + lease_ms, token)
redis.call('HSET', info, token, cjson.encode(rec))
return blocked('queued')
)lua";

// LEAVE retain_ms how token [token ...]
//   -> {'held' | 'queued' | 'none' (what the first token was), {views of holders after}, now}
// Used to release, to give up waiting, and to reap entries of dead processes.
// `how` holds flags: 'd' describes the holders (for a timeout's message: a
// release must not cost more with every reader that holds); 'c' says that
// the first token, a holder, leaves no unfinished write session (it
// committed, rolled back, or never used its grant): its session mark goes.
// ('0': neither.)
const char kLeave[] = R"lua(
local retain, how = tonumber(ARGV[1]), ARGV[2]
prune()
local first = 'none'
for i = 3, #ARGV do
  local t = ARGV[i]
  local was = 'none'
  if redis.call('ZSCORE', held, t) then was = 'held'
  elseif redis.call('ZSCORE', queue, t) then was = 'queued' end
  if i == 3 then first = was end
  forget(t, was)
end
if first == 'held' and string.find(how, 'c', 1, true) then
  local mark = redis.call('HGET', state, 'session')
  if mark and string.sub(mark, 1, #ARGV[3] + 1) == ARGV[3] .. '\n' then redis.call('HDEL', state, 'session') end
end
promote()
local holders = {}
if string.find(how, 'd', 1, true) then
  for _, t in ipairs(redis.call('ZRANGE', held, 0, -1)) do holders[#holders + 1] = view(t) end
end
tidy(retain)
return {first, holders, now}
)lua";

// RENEW token lease_ms retain_ms -> 1 (extended) | 0 (gone, expired or broken)
// An expired entry is pruned first, so it can never be revived.
const char kRenew[] = R"lua(
local token = ARGV[1]
prune()
if not redis.call('ZSCORE', lease, token) then return 0 end
if record(token).broken then return 0 end
redis.call('ZADD', lease, now + tonumber(ARGV[2]), token)
tidy(tonumber(ARGV[3]))
return 1
)lua";

// BREAK token [token ...] -> number of entries marked broken
// `h5redislock break`: a broken entry's renewals are refused, so it expires at
// the end of its current lease; its process, if alive, is fenced by then
// (lock_lease.h), and only then does promote hand the lock on. Entries of
// dead processes need no breaking: LEAVE removes them at once.
const char kBreak[] = R"lua(
local marked = 0
for i = 1, #ARGV do
  if redis.call('ZSCORE', lease, ARGV[i]) then
    local rec = record(ARGV[i])
    rec.broken = true
    redis.call('HSET', info, ARGV[i], cjson.encode(rec))
    marked = marked + 1
  end
end
return marked
)lua";

// SETTLE holder seen retain_ms -> 1 | 0 (the holder does not hold the lock, or
// the mark names another session than `seen` now)
// The session mark of `seen` is resolved: its journal was rolled back, or is
// known not to exist. A holder whose own session keeps a journal is marked
// instead; any other holder, and `h5redislock break --clear-session` (holder
// ''), clear it.
const char kSettle[] = R"lua(
local holder, seen = ARGV[1], ARGV[2]
prune()
local rec
if holder ~= '' then
  if not redis.call('ZSCORE', held, holder) then return 0 end
  rec = record(holder)
end
local mark = redis.call('HGET', state, 'session')
if mark and string.sub(mark, 1, #seen + 1) ~= seen .. '\n' then return 0 end
if rec and rec.session then
  redis.call('HSET', state, 'session', session_of(holder, rec))
else
  redis.call('HDEL', state, 'session')
end
tidy(tonumber(ARGV[3]))
return 1
)lua";

// SNAPSHOT -> {now, {state hash, flat}, {holder views}, {waiter views in order}}
// Read-only: expired entries show a negative lease_left.
const char kSnapshot[] = R"lua(
local holders, waiters = {}, {}
for _, t in ipairs(redis.call('ZRANGE', held, 0, -1)) do holders[#holders + 1] = view(t) end
for _, t in ipairs(redis.call('ZRANGE', queue, 0, -1)) do waiters[#waiters + 1] = view(t) end
return {now, redis.call('HGETALL', state), holders, waiters}
)lua";

// ============================================================================
// 3. Running scripts
// ============================================================================

// A script's SHA-1 digest, which EVALSHA names it by, is Redis's own: SCRIPT
// LOAD answers with the digest of what it loaded (so there is no SHA-1 code,
// and no OpenSSL, in here). A process learns all six digests with its first
// script, whose EVAL goes in one round trip with a SCRIPT LOAD of each. Until
// then, and for good once the server refuses SCRIPT LOAD (an ACL user with
// only EVAL and EVALSHA), scripts are sent whole, with EVAL.
constexpr Script kScripts[] = {Script::kAcquire, Script::kLeave, Script::kRenew, Script::kBreak, Script::kSettle,
                               Script::kSnapshot};
constexpr size_t kScriptCount = sizeof kScripts / sizeof kScripts[0];

// Never destroyed: HDF5 closes files, and so releases locks, from an atexit
// handler that may run after static destructors.
const std::string& Source(Script script) {
  static NoDestructor<std::vector<std::string>> sources([] {
    std::vector<std::string> v;
    for (const char* body : {kAcquire, kLeave, kRenew, kBreak, kSettle, kSnapshot})
      v.push_back(std::string(kPrelude) + body);
    return v;
  }());
  return (*sources)[static_cast<size_t>(script)];
}

// The digests learnt from SCRIPT LOAD. Thread-safe.
class ScriptDigests {
 public:
  // The digest of `script`, or "" while it is not known.
  std::string Of(Script script) {
    std::lock_guard<std::mutex> lock(mu_);
    return digests_[static_cast<size_t>(script)];
  }
  // Whether a script sent whole should bring SCRIPT LOADs along.
  bool WorthLoading() {
    std::lock_guard<std::mutex> lock(mu_);
    return !refused_ && digests_[0].empty();
  }
  // Takes the replies to SCRIPT LOAD of kScripts, in that order.
  void Learn(const std::vector<Reply>& replies) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < kScriptCount; ++i) {
      const std::string text = ReplyString(replies[i].get());
      if (IsErrorReply(replies[i].get())) {
        refused_ = refused_ || text.rfind("NOPERM", 0) == 0;
        return;
      }
      if (text.size() != 40 || text.find_first_not_of("0123456789abcdef") != std::string::npos) return;
    }
    for (size_t i = 0; i < kScriptCount; ++i) digests_[i] = ReplyString(replies[i].get());
  }

 private:
  std::mutex mu_;
  std::string digests_[kScriptCount];  // guarded by mu_
  bool refused_ = false;                // guarded by mu_
};

ScriptDigests& Digests() {
  static NoDestructor<ScriptDigests> digests;
  return *digests;
}

Argv ScriptCommand(const char* verb, const std::string& body, const LockKeys& keys, const Argv& args) {
  std::vector<std::string> script_keys = keys.ScriptKeys();
  Argv argv = {verb, body, std::to_string(script_keys.size())};
  argv.insert(argv.end(), script_keys.begin(), script_keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// What an error reply from a script means, as a Status naming the lock.
Status ScriptError(const LockKeys& keys, const std::string& error) {
  const std::string where = "lock '" + keys.lock_name() + "' (keys " + keys.base() + ":*)";
  auto has = [&](const char* word) { return error.find(word) != std::string::npos; };
  if (has("WRONGTYPE") || has("H5REDISLOCK_CORRUPT"))
    return Status::Corrupt("Redis holds data under " + where +
                           " that h5redislock did not write (a foreign or damaged key; "
                           "delete it or choose another prefix=): " + error);
  if (has("NOAUTH") || has("unauthenticated"))
    return Status::Auth("Redis requires a password for " + where +
                        " (give it in the url, by password_file= or in H5REDISLOCK_PASSWORD): " + error);
  if (has("NOPERM"))
    return Status::Auth("the Redis user may not run the lock scripts on " + where + ": " + error);
  if (has("LOADING") || has("BUSY") || has("READONLY") || has("MASTERDOWN") || has("TRYAGAIN") ||
      has("CLUSTERDOWN") || has("MOVED") || has("ASK"))
    return Status::Unavailable("Redis cannot serve " + where + " now: " + error);
  return Status::Internal("Redis refused a lock script on " + where + ": " + error);
}

// Sends `script` whole (EVAL), with SCRIPT LOAD of every script in the same
// round trip while the digests are worth learning.
Status RunScriptWhole(RedisConnection& conn, Script script, const LockKeys& keys, const Argv& args,
                      Reply* reply) {
  std::vector<Argv> commands;
  const bool load = Digests().WorthLoading();
  if (load)
    for (Script each : kScripts) commands.push_back({"SCRIPT", "LOAD", Source(each)});
  commands.push_back(ScriptCommand("EVAL", Source(script), keys, args));
  std::vector<Reply> replies;
  Status s = conn.Pipeline(commands, &replies);
  if (!s.ok()) return s;
  if (load) Digests().Learn(replies);
  *reply = std::move(replies.back());
  return Status::OK();
}

}  // namespace

Status RunScript(RedisConnection& conn, Script script, const LockKeys& keys, const Argv& args, Reply* reply) {
  const std::string digest = Digests().Of(script);
  Status s = digest.empty() ? RunScriptWhole(conn, script, keys, args, reply)
                            : conn.Command(ScriptCommand("EVALSHA", digest, keys, args), reply);
  if (!s.ok()) return s;
  if (IsErrorReply(reply->get()) && ReplyString(reply->get()).rfind("NOSCRIPT", 0) == 0) {
    // The server restarted or flushed its script cache: EVAL sends the body
    // once and caches it again.
    s = conn.Command(ScriptCommand("EVAL", Source(script), keys, args), reply);
    if (!s.ok()) return s;
  }
  if (IsErrorReply(reply->get())) return ScriptError(keys, ReplyString(reply->get()));
  return Status::OK();
}

// ============================================================================
// 4. Taking a lock
// ============================================================================
//
// The waiter's side of the protocol: one Acquisition per attempt, whose
// steps come in this order.
//
//   Ask      ACQUIRE: granted at once; or queued (busy, with timeout=0), and
//            who is ahead
//   Reap     LEAVE for the entries of dead processes of this host among those
//            ahead, and ask again: the lock may be ours now
//   Block    BLPOP on our wake list until the grant comes, the soonest lease
//            ahead ends (ask again: ACQUIRE prunes it) or the timeout; reaping
//            at every liveness tick meanwhile
//   Accept   a grant, from ACQUIRE or BLPOP: its lease runs; it is used once
//            enough replicas have it (WAIT), its master's term holds it, the
//            server has been up long enough and its watch is on
//            (master_term.h, server_watch.h)
//   give up  LEAVE our entry, and say why: busy, timed out, or the error
//
// Redis unreachable or failing over, the lock's slot moving, a grant that
// cannot be used yet: a waiter asks again after a tick (ACQUIRE is
// idempotent), where the router now says the lock lives, while its timeout
// allows. A newcomer, which has no entry yet, fails at once.
//
// *Time.* The timeout runs from when the open began (AcquireRequest). Waiting
// ends at the timeout's end (give_up_); every connect, command and wait made
// for the acquisition, the last LEAVE included, ends connect_timeout later
// (hard_end_: the thread's ScopedDeadline, redis_connection.h). A LEAVE left
// no time is not sent: the entry expires with its lease.
//
// *The lease counted.* Whenever the client starts or moves its deadline from
// a command's send time (LockLease::Start), Redis's expiry for the entry is
// at least that send time plus what the deadline counts on. An ACQUIRE's
// reply says how much of the entry's lease is left when Redis ran it; an
// ACQUIRE that finds our entry (a retry whose first reply was lost, a waiter
// asking again) renews it first, so that a grant found most of a lease late
// is not used with its first lease. A grant popped from the wake list was
// made, with a whole lease, after the ACQUIRE that found us queued had run.
namespace {

constexpr auto kLivenessTick = std::chrono::milliseconds(100);

const char* ModeArg(LockMode mode) { return mode == LockMode::kWrite ? "w" : "r"; }

bool ParseEntry(const redisReply* r, LockEntry* e) {
  if (ReplyArraySize(r) < 10) return false;
  e->token = ReplyString(ReplyElement(r, 0));
  e->mode = ReplyString(ReplyElement(r, 1)) == "w" ? LockMode::kWrite : LockMode::kRead;
  e->host = ReplyString(ReplyElement(r, 2));
  e->host_key = ReplyString(ReplyElement(r, 3));
  e->pid = static_cast<long>(ReplyInteger(ReplyElement(r, 4)));
  e->start = static_cast<unsigned long long>(ReplyInteger(ReplyElement(r, 5)));
  e->since_ms = ReplyInteger(ReplyElement(r, 6));
  e->granted_ms = ReplyInteger(ReplyElement(r, 7));
  e->lease_left_ms = ReplyInteger(ReplyElement(r, 8));
  e->broken = ReplyInteger(ReplyElement(r, 9)) != 0;
  return !e->token.empty();
}

bool ParseEntries(const redisReply* list, std::vector<LockEntry>* out) {
  out->clear();
  for (size_t i = 0; i < ReplyArraySize(list); ++i) {
    LockEntry e;
    if (!ParseEntry(ReplyElement(list, i), &e)) return false;
    out->push_back(std::move(e));
  }
  return true;
}

std::string DescribeHolders(const std::vector<LockEntry>& entries, long long now_ms) {
  std::string text;
  int shown = 0;
  for (const LockEntry& e : entries) {
    if (e.granted_ms == 0) continue;
    if (shown == 3) {
      text += " and others";
      break;
    }
    text += (shown++ ? ", " : "") + e.Describe(now_ms);
  }
  return text.empty() ? "no holder (the lock was being handed on)" : "held by " + text;
}

// A session mark as the scripts write it (session_of): a line per field; an
// unset mark for "" (or a mark of another make).
void ParseSessionMark(const std::string& text, SessionMark* out) {
  std::vector<std::string> fields;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) fields.push_back(line);
  *out = SessionMark();
  if (fields.size() != 6) return;
  out->token = fields[0];
  out->host = fields[1];
  out->host_key = fields[2];
  out->pid = std::strtol(fields[3].c_str(), nullptr, 10);
  out->dev = fields[4];
  out->since_ms = std::strtoll(fields[5].c_str(), nullptr, 10);
}

Status UnexpectedReply(const LockKeys& keys, const char* script) {
  return Status::Corrupt(std::string("unexpected reply from the ") + script + " script for lock '" +
                         keys.lock_name() + "' (is another program using the prefix?)");
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g s", s);
  return buf;
}

double InSeconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// `t` plus `s` seconds; max() stays max() (a wait without end).
Clock::time_point Later(Clock::time_point t, double s) {
  if (t == Clock::time_point::max()) return t;
  return t + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

class Acquisition {
 public:
  Acquisition(const AcquireRequest& request, const std::string& record_json, LockLease* lease);
  Acquisition(const Acquisition&) = delete;
  Acquisition& operator=(const Acquisition&) = delete;

  // Takes the lock: see AcquireLock.
  Status Run(long long* fence, SessionMark* mark);

 private:
  // A grant, and what using it depends on.
  struct Grant {
    long long fence = 0;
    Clock::time_point sent;              // the lease counts from here,
    std::chrono::milliseconds left{0};   // for this long (Redis's expiry is no sooner)
    std::shared_ptr<MasterTerm> term;    // of the master that made it
    std::string server;                  // that master, for messages
    Status replicated;                   // whether enough replicas have it (WAIT)
    SessionMark mark;                    // the lock's, as the grant found it
  };

  // The steps.
  Status Ask(Grant* grant, bool* granted);
  bool Reap();
  Status Block(Grant* grant, bool* granted);
  void Vouch(RedisConnection& conn, Grant* grant);
  Status Accept(const Grant& grant);
  Status AwaitServerAge(const Grant& grant);
  bool MayTryAgain(const Status& failure);
  // The endings without the lock, each with its message.
  Status Busy() const;
  Status TimedOut();
  Status Failed(const Status& error);
  std::string Leave(std::vector<LockEntry>* holders);

  const AcquireRequest& request_;
  LockLease* const lease_;
  Router& router_;
  const LockKeys& keys_;
  const Argv args_;                    // ACQUIRE's
  const std::string what_;             // "write lock on 'x.h5'"
  const Clock::time_point give_up_;    // waiting ends here: the timeout's end
  const Clock::time_point hard_end_;   // every Redis call ends here: connect_timeout later
  // Where we stand, as the last ACQUIRE that did not grant said.
  bool busy_ = false;
  std::vector<LockEntry> ahead_;       // holders, and waiters before us
  long long now_ms_ = 0;               // Redis's clock then
  long long soonest_ms_ = -1;          // until the soonest lease ahead ends; -1: none
  Clock::time_point queued_at_;        // when the ACQUIRE that found us queued was sent
  std::set<std::string> reaped_;       // entries of dead processes removed already
};

Acquisition::Acquisition(const AcquireRequest& request, const std::string& record_json, LockLease* lease)
    : request_(request),
      lease_(lease),
      router_(lease->router()),
      keys_(lease->keys()),
      args_({lease->token(), ModeArg(request.mode), std::to_string(lease->lease_ms()), record_json,
             request.timeout_s == 0 ? "0" : "1", std::to_string(lease->retain_ms())}),
      what_(std::string(ModeName(request.mode)) + " lock on '" + request.file + "'"),
      give_up_(request.timeout_s < 0 ? Clock::time_point::max() : Later(request.started, request.timeout_s)),
      hard_end_(Later(give_up_, router_.timeout_s())) {}

Status Acquisition::Run(long long* fence, SessionMark* mark) {
  ScopedDeadline bound(hard_end_);
  for (;;) {
    Grant grant;
    bool granted = false;
    Status s = Ask(&grant, &granted);
    if (s.ok() && !granted) {
      if (Reap()) continue;
      if (busy_) return Busy();
      if (Clock::now() >= give_up_) return TimedOut();
      s = Block(&grant, &granted);
    }
    if (s.ok() && granted) s = Accept(grant);
    if (s.ok() && granted) {
      *fence = grant.fence;
      *mark = grant.mark;
      return s;
    }
    if (!s.ok() && !MayTryAgain(s)) return Failed(s);
  }
}

// ACQUIRE. Granted: *granted, and *grant says how. Otherwise it notes where
// we stand: who is ahead, and, if queued, how long our entry lives.
Status Acquisition::Ask(Grant* grant, bool* granted) {
  Reply reply;
  Status s = router_.Run(keys_.slot(), [&](RedisConnection& conn) {
    grant->sent = Clock::now();
    Status run = RunScript(conn, Script::kAcquire, keys_, args_, &reply);
    if (run.ok() && ReplyString(ReplyElement(reply.get(), 0)) == "granted") Vouch(conn, grant);
    return run;
  });
  if (!s.ok()) return s;
  const std::string state = ReplyString(ReplyElement(reply.get(), 0));
  if (state == "granted") {
    *granted = true;
    grant->fence = ReplyInteger(ReplyElement(reply.get(), 1));
    grant->left = std::chrono::milliseconds(ReplyInteger(ReplyElement(reply.get(), 2)));
    ParseSessionMark(ReplyString(ReplyElement(reply.get(), 4)), &grant->mark);
    return s;
  }
  if ((state != "queued" && state != "busy") || !ParseEntries(ReplyElement(reply.get(), 3), &ahead_))
    return UnexpectedReply(keys_, "ACQUIRE");
  busy_ = state == "busy";
  soonest_ms_ = ReplyInteger(ReplyElement(reply.get(), 2));
  now_ms_ = ReplyInteger(ReplyElement(reply.get(), 4));
  if (!busy_) {
    lease_->Start(grant->sent, std::chrono::milliseconds(ReplyInteger(ReplyElement(reply.get(), 5))));
    queued_at_ = grant->sent;
  }
  return s;
}

// Removes the entries of dead processes of this host among those ahead
// (each token names exactly that dead attempt): true if any went, and the
// lock may be ours now. One that could not be removed is tried again at the
// next tick or answer.
bool Acquisition::Reap() {
  std::vector<std::string> dead;
  for (const LockEntry& e : ahead_) {
    if (!reaped_.count(e.token) && CheckLiveness(e.host_key, e.pid, e.start) == Liveness::kDead)
      dead.push_back(e.token);
  }
  if (dead.empty()) return false;
  Status s = router_.Run(keys_.slot(), [&](RedisConnection& conn) {
    return RemoveEntries(conn, keys_, dead, lease_->retain_ms() / 1000.0);
  });
  if (!s.ok()) {
    Log(LogLevel::kInfo, "could not remove the entries of dead processes from the " + what_ +
                             ", will try again: " + s.message());
    return false;
  }
  reaped_.insert(dead.begin(), dead.end());
  return true;
}

// Waits on our wake list, on the master that serves the lock (the grant is
// pushed there), until the grant comes (*granted), the soonest lease ahead
// ends or the timeout; reaping at every tick.
Status Acquisition::Block(Grant* grant, bool* granted) {
  const auto now = Clock::now();
  auto until = give_up_;
  if (soonest_ms_ >= 0) until = std::min(until, now + std::chrono::milliseconds(soonest_ms_ + 20));
  char wait_arg[32];
  std::snprintf(wait_arg, sizeof wait_arg, "%.3f", std::max(InSeconds(until - now), 0.001));
  ConnectionPool::Lease conn;
  Status s = router_.Get(keys_.slot(), &conn);
  if (!s.ok()) return s;
  conn->TakeRedirection();
  Reply popped;
  s = conn->BlockingCommand({"BLPOP", keys_.WakeKey(lease_->token()), wait_arg},
                            Later(until, router_.timeout_s()), kLivenessTick, [this] { Reap(); }, &popped);
  HostPort ask;
  const bool moved = router_.Reroute(conn, &ask);
  if (!s.ok()) return s;
  if (moved)
    return Status::Unavailable("Redis at " + conn->endpoint().Describe() + " no longer serves the " + what_ +
                               " (it moved, or its master was failed over)");
  if (ReplyArraySize(popped.get()) != 2) return s;  // the wait ended: ask again
  // A waiter that was paused, or whose entry Redis lost, may be handed a
  // grant it can no longer trust: give it back rather than fail later.
  s = lease_->CheckValid("taking the lock");
  if (!s.ok()) return s;
  *granted = true;
  // The wake list holds "<fence>" or "<fence>\n<session mark>".
  const std::string pushed = ReplyString(ReplyElement(popped.get(), 1));
  grant->fence = std::strtoll(pushed.c_str(), nullptr, 10);
  const size_t newline = pushed.find('\n');
  ParseSessionMark(newline == std::string::npos ? "" : pushed.substr(newline + 1), &grant->mark);
  grant->sent = queued_at_;
  grant->left = lease_->lease();
  Vouch(*conn, grant);
  return s;
}

// Asks the master that granted, on the connection that brought the grant,
// what using it depends on: whether enough replicas have it, and, if it
// started less than a lease ago, who can reach it (master_term.h). A question
// that fails leaves the answer "not yet": the grant is asked for again, or
// waits for the server's age as if other hosts could reach it.
void Acquisition::Vouch(RedisConnection& conn, Grant* grant) {
  grant->term = conn.term();
  grant->server = conn.endpoint().Describe();
  grant->replicated = router_.ConfirmReplicated(conn, "the grant of the " + what_);
  bool this_host_only = false;
  if (grant->term->NeedsReach(lease_->lease()) && ReadServerReach(conn, &this_host_only).ok())
    grant->term->NoteReach(this_host_only);
}

// The lease runs from the grant; it is used once enough replicas have the
// grant, the master's term that made it holds it (it is fenced when the term
// ends), the server is old enough and its watch would see it restart. A
// grant not usable yet fails with Unavailable, and is asked for again: the
// entry stays, renewed by the keeper.
Status Acquisition::Accept(const Grant& grant) {
  lease_->Start(grant.sent, grant.left);
  if (!grant.replicated.ok()) return grant.replicated;
  if (!grant.term->Enlist(lease_->shared_from_this()))
    return Status::Unavailable("the Redis master restarted or was failed over as it granted the " + what_);
  Status s = AwaitServerAge(grant);
  if (s.ok()) s = grant.term->Watch();
  // A grant that came late (a waiter paused meanwhile) may have no lease left.
  if (s.ok()) s = lease_->CheckValid("taking the lock");
  return s;
}

// Waits until the server that granted has been up long enough for its
// grants to be used (MasterTerm::GrantUsableAt). The wait of a lease counts
// against the timeout: if it would end after it, this fails at once, saying
// why. The short grace of a server that only this host reaches (at most
// kRestartGrace) is part of taking the grant, like a command, and counts
// against connect_timeout: a timeout=0 open of `h5redislock run`'s
// just-started server still gets its lock.
Status Acquisition::AwaitServerAge(const Grant& grant) {
  const Clock::time_point usable = grant.term->GrantUsableAt(lease_->lease(), lease_->margin());
  const Clock::time_point now = Clock::now();
  if (usable <= now) return Status::OK();
  const bool this_host_only = grant.term->OnlyThisHostReaches();
  if (usable > (this_host_only ? hard_end_ : give_up_)) {
    const Clock::duration age = grant.term->ServerAge();
    const std::string why = "Redis at " + grant.server + " started " + Seconds(InSeconds(age)) +
                            " ago, and a server that young has its grants used only once it has been up for " +
                            Seconds(InSeconds(age + (usable - now))) +
                            (this_host_only ? " (time for the watches of holders from before a restart to see it)"
                                            : " (the lease: holders from before a restart that lost its data, "
                                              "which may not see it, must have stopped first)");
    if (request_.timeout_s == 0) return Status::Busy(why + ", and timeout=0 forbids waiting");
    return Status::Timeout(why + ", which is past the timeout");
  }
  Log(LogLevel::kDebug, "Redis at " + grant.server + " started just now: waiting before using its grant of the " +
                            what_);
  std::this_thread::sleep_until(usable);
  return Status::OK();
}

// After a failure that may pass (Redis unreachable or failing over, the lock
// moving, a grant not usable yet): true, after a tick, for a waiter whose
// entry is in Redis and whose time is not up. Not after kUnsatisfiable (a
// master with fewer replicas than asked for): no asking mends that.
bool Acquisition::MayTryAgain(const Status& failure) {
  const auto now = Clock::now();
  if (failure.code() != Status::Code::kUnavailable || !lease_->active() || now >= give_up_) return false;
  std::this_thread::sleep_for(std::min<Clock::duration>(kLivenessTick, give_up_ - now));
  return true;
}

// timeout=0, and the lock is not free: ACQUIRE made no entry.
Status Acquisition::Busy() const {
  return Status::Busy("the " + what_ + " is not free and timeout=0 forbids waiting; " +
                      DescribeHolders(ahead_, now_ms_));
}

// The timeout ran out while the lock was held by others.
Status Acquisition::TimedOut() {
  std::vector<LockEntry> holders;
  const std::string left = Leave(&holders);
  return Status::Timeout("timed out after " + Seconds(InSeconds(Clock::now() - request_.started)) +
                         " waiting for the " + what_ + "; " +
                         DescribeHolders(holders.empty() ? ahead_ : holders, now_ms_) + left);
}

// Any other ending: `error` says why.
Status Acquisition::Failed(const Status& error) {
  std::vector<LockEntry> holders;
  const std::string left = Leave(&holders);
  return Status::Error(error.code(), "cannot take the " + what_ + left + ": " + error.message());
}

// Takes our entry out of Redis, whatever state it reached (releasing the
// lock if the grant came just now, unused: its session mark goes too), and
// notes the holders after, for the message. Returns what the message must
// add when that failed, or was not tried for want of time: the entry then
// stays until its lease runs out.
std::string Acquisition::Leave(std::vector<LockEntry>* holders) {
  Reply reply;
  Status s = router_.Run(keys_.slot(), [&](RedisConnection& conn) {
    return RunScript(conn, Script::kLeave, keys_, {std::to_string(lease_->retain_ms()), "dc", lease_->token()},
                     &reply);
  });
  if (s.ok() && !ParseEntries(ReplyElement(reply.get(), 1), holders)) s = UnexpectedReply(keys_, "LEAVE");
  if (s.ok()) {
    now_ms_ = ReplyInteger(ReplyElement(reply.get(), 2));
    return "";
  }
  if (!lease_->active()) return "";  // no entry of ours that we know of
  return " (its entry stays in Redis until its lease runs out: " + s.message() + ")";
}

}  // namespace

const char* ModeName(LockMode mode) { return mode == LockMode::kWrite ? "write" : "read"; }

std::string SessionMark::Describe() const {
  return "the write session of pid " + std::to_string(pid) + " on " + host;
}

std::string LockEntry::Describe(long long now_ms) const {
  std::string text = "pid " + std::to_string(pid) + " on " + host + " (" + ModeName(mode);
  long long since = granted_ms ? granted_ms : since_ms;
  if (since > 0 && now_ms >= since) {
    text += granted_ms ? ", held for " : ", waiting for ";
    text += Seconds((now_ms - since) / 1000.0);
  }
  if (broken) text += ", broken";
  return text + ")";
}

std::string ThisProcessRecord(const std::string& session_dev) {
  ProcessIdentity id = ThisProcess();
  auto quote = [](const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      if (static_cast<unsigned char>(c) < 0x20) continue;
      out += c;
    }
    return out + "\"";
  };
  return "{\"host\":" + quote(id.host) + ",\"hostkey\":" + quote(id.host_key) +
         ",\"pid\":" + std::to_string(id.pid) + ",\"start\":" + std::to_string(id.start) +
         (session_dev.empty() ? "" : ",\"session\":" + quote(session_dev)) + "}";
}

Status AcquireLock(const AcquireRequest& request, const std::string& record_json, LockLease* lease,
                   long long* fence, SessionMark* mark) {
  return Acquisition(request, record_json, lease).Run(fence, mark);
}

// ============================================================================
// 5. Releasing, renewing, reading
// ============================================================================

Status ReleaseLock(const LockLease& lease, bool clean, bool* was_held) {
  Reply reply;
  Status s = lease.router().Run(lease.keys().slot(), [&](RedisConnection& conn) {
    return RunScript(conn, Script::kLeave, lease.keys(),
                     {std::to_string(lease.retain_ms()), clean ? "c" : "0", lease.token()}, &reply);
  });
  if (!s.ok())
    return s.WithContext("cannot release the lock on '" + lease.file() + "' (it expires within the lease)");
  *was_held = ReplyString(ReplyElement(reply.get(), 0)) == "held";
  return Status::OK();
}

Argv RenewArgs(const LockLease& lease) {
  return {lease.token(), std::to_string(lease.lease_ms()), std::to_string(lease.retain_ms())};
}

Argv RenewCommand(const LockLease& lease) {
  const std::string digest = Digests().Of(Script::kRenew);
  return digest.empty() ? ScriptCommand("EVAL", Source(Script::kRenew), lease.keys(), RenewArgs(lease))
                        : ScriptCommand("EVALSHA", digest, lease.keys(), RenewArgs(lease));
}

Status ParseRenewReply(const LockLease& lease, const redisReply* reply, bool* alive) {
  if (IsErrorReply(reply)) return ScriptError(lease.keys(), ReplyString(reply));
  *alive = ReplyInteger(reply) == 1;
  return Status::OK();
}

Status BreakEntries(RedisConnection& conn, const LockKeys& keys, const std::vector<std::string>& tokens,
                    long long* marked) {
  Reply reply;
  Status s = RunScript(conn, Script::kBreak, keys, tokens, &reply);
  if (s.ok()) *marked = ReplyInteger(reply.get());
  return s;
}

Status SettleSession(RedisConnection& conn, const LockKeys& keys, const std::string& holder,
                     const std::string& seen, long long retain_ms, bool* settled) {
  Reply reply;
  Status s = RunScript(conn, Script::kSettle, keys, {holder, seen, std::to_string(retain_ms)}, &reply);
  if (s.ok()) *settled = ReplyInteger(reply.get()) == 1;
  return s;
}

Status RemoveEntries(RedisConnection& conn, const LockKeys& keys, const std::vector<std::string>& tokens,
                     double retain_s) {
  Argv args = {std::to_string(static_cast<long long>(retain_s * 1000)), "0"};
  args.insert(args.end(), tokens.begin(), tokens.end());
  Reply reply;
  return RunScript(conn, Script::kLeave, keys, args, &reply);
}

Status ReadLockSnapshot(RedisConnection& conn, const LockKeys& keys, LockSnapshot* out) {
  Reply reply;
  Status s = RunScript(conn, Script::kSnapshot, keys, {}, &reply);
  if (!s.ok()) return s;
  LockSnapshot snap;
  snap.lock_name = keys.lock_name();
  snap.now_ms = ReplyInteger(ReplyElement(reply.get(), 0));
  const redisReply* state = ReplyElement(reply.get(), 1);
  for (size_t i = 0; i + 1 < ReplyArraySize(state); i += 2) {
    std::string field = ReplyString(ReplyElement(state, i));
    long long value = ReplyInteger(ReplyElement(state, i + 1));
    if (field == "session") ParseSessionMark(ReplyString(ReplyElement(state, i + 1)), &snap.session);
    else if (field == "acquired") snap.acquisitions = value;
    else if (field == "wait_ms") snap.wait_total_ms = value;
    else if (field == "wait_max_ms") snap.wait_max_ms = value;
    else if (field == "fence") snap.fence = value;
  }
  if (!ParseEntries(ReplyElement(reply.get(), 2), &snap.holders) ||
      !ParseEntries(ReplyElement(reply.get(), 3), &snap.waiters))
    return UnexpectedReply(keys, "SNAPSHOT");
  *out = std::move(snap);
  return Status::OK();
}

}  // namespace h5redislock
