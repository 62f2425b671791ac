// lock_protocol.cc: the readers-writers lock kept in Redis.
//
// This file is the one place where the lock protocol lives. Its divisions:
//   1. The protocol in prose: keys, entries, states and transitions, and a
//      glossary of the words the code uses.
//   2. The Lua functions that make every transition atomic.
//   3. Running them (redis/script_library.h), and what their errors mean.
//   4. Taking a lock: the client's side of waiting.
//   5. Releasing, renewing, and reading a lock.
//
// ============================================================================
// 1. The protocol
// ============================================================================
//
// A lock is named by a string (the file's canonical path, or key=). Its keys
// all share the hash tag {name} (see lock_keys.h), so one function sees them
// all, also on Redis Cluster:
//
//   <base>:lock        HASH  the lock: one field per entry, and a few of its own
//   <base>:q           ZSET  token -> ticket: the waiters in order of service;
//                            there only while someone waits
//   <base>:w:<token>   LIST  a waiter's wake list: its grant, pushed for it to
//                            pop; there only between the grant and the pop
//
// The hash's own fields: `m` the holders' mode and number in one ("r3",
// "w1"; absent when free, so that the last holder's release is one HDEL), `n`
// the number of waiters (absent when none), `f` the last fencing number, `s`
// the last ticket, `x` a lower bound on the soonest entry expiry, `a`, `t`,
// `tm` the counters of `h5redislock status` (acquisitions, total and longest
// wait in ms), `j` the session mark (see "Write sessions"). Each entry is one
// field `e:<token>`, a line of words:
//
//   mode lease expiry fence since granted flags pid start hostkey dev chan host
//
// mode r|w; lease its length (ms); expiry the Redis time (ms) it runs out;
// fence its fencing number (0 while waiting); since when it was made; granted
// when it was granted (0 while waiting); flags "-" or letters: b broken
// (`h5redislock break`), j its write session keeps a journal, c cached, r
// being released (see "Lock caching"); then who holds it: pid, start time,
// host key (process_identity.h), the st_dev of the file's directory ("-" but
// for a write session that keeps a journal), the process's revocation channel
// ("-" if it caches no locks), and the host's name.
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
// *Leases.* Every entry expires (its expiry, on Redis's own clock) unless its
// process renews it: each process's keeper renews all its entries every
// lease/3, in one pipelined round trip per master, each master on a schedule
// of its own (lease_keeper.h). Expired entries are *pruned* before a function
// acts on the lock, so a holder that vanished (host down, network cut) frees
// the lock at most one lease after its last renewal. Its process, if it still
// runs, stops all I/O before that moment: see lock_lease.h for the local
// deadline and its safety margin (fencing). Pruning reads the whole hash, so
// it runs only once Redis's clock passes `x`, a lower bound on the soonest
// expiry that grants and queueing lower and a prune sets again: the
// uncontended paths read a few fields, not the lock.
//
// That holds only if a client never counts on more of a lease than Redis
// has: it counts from when it sent the command that told it how much was
// left (every grant and queued reply says), and an ACQUIRE that finds its
// entry (a retry whose first reply was lost, a waiter asking again) renews it
// first, as its owner's renewal. Without that, a grant found most of a lease
// late would be used with the lease of its first grant, and Redis would give
// the lock to another before the holder stopped.
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
// *Keys vanish.* The hash lives as long as its last entry's lease, and
// `retain` longer (with the counters); while it holds a session mark, for
// good (a lost mark is lost protection). The queue and the wake lists live
// as long as their waiters' leases.
//
// Each state change is one function call: there is no check-then-act across
// round trips. An uncontended open+close is one round trip (ACQUIRE) and a
// release sent without waiting for its reply (LEAVE), 8 commands in Redis
// (2 FCALL, TIME, 2 HMGET, HSET, PEXPIRE, HDEL).
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
// *An older layout.* h5redislock before this protocol kept a lock in five
// keys (<base>:state, :lease, :queue, :held, :info). A lock that such a
// process holds must not look free: ACQUIRE of a lock whose hash does not
// exist checks for <base>:lease and refuses, naming it. (The other way round
// cannot be helped: an older process does not know this layout. Upgrade all
// processes that share a file together.)
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
// dead session's writes. So the lock's hash keeps a *session mark* (`j`): the token,
// host, host key, pid and directory st_dev (as its process saw it) of a
// write session that keeps a journal and is not known to have finished:
//
//                grant of the write lock to a session that keeps a
//                journal, when no mark is set
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
//
// Glossary, for the words the code uses:
//   entry      one process's attempt to hold a lock (a token, a field e:<token>)
//   grant      an entry becoming a holder; its fencing number with it
//   holder, waiter   an entry granted, an entry queued
//   lease      how long an entry lives in Redis unheard (lease=); and the
//              process's local view of it, with its deadline (lock_lease.h)
//   deadline   the moment a holder stops its I/O: the lease minus a margin,
//              from the sending of the last renewal Redis confirmed
//   fence      (noun) a fencing number; (verb) to stop a holder's I/O for
//              good, when its lease is lost or its master's term ended
//   prune      remove expired entries, then promote
//   promote    grant the head of the queue while it is compatible
//   reap       remove the entry of a dead process of this host (LEAVE)
//   term, reign   a master's time as the master, by its identity (run id and
//              replication id); a term ends at a restart or failover, and
//              its grants are fenced (master_term.h)
//   enlist     put a grant under its master's term, to be fenced with it
//   admit      check a new connection's server against the term's identity
//   watch      the idle connection that sees a server restart (server_watch.h)
//   vanished   a renewal found its entry gone: the lease is lost
//   session, mark, settle   a write session, the lock's record that one may
//              have left a journal, and its resolution (above)
//   linger, cached, revoke   see "Lock caching"

#include "lock/lock_protocol.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "base/log.h"
#include "base/no_destructor.h"
#include "base/process_identity.h"
#include "redis/master_term.h"
#include "redis/reply_error.h"
#include "redis/script_library.h"

namespace h5redislock {

// ============================================================================
// 2. The functions
// ============================================================================
// Every function takes the lock's hash and queue as KEYS (LockKeys::ScriptKeys)
// and reads Redis's own clock (TIME): no client's clock is trusted.
namespace {

const char kLibrary[] = R"lua(
-- The lock's state: KEYS[1] the hash, KEYS[2] the queue (a waiter's wake list is <base>:w:<token>).
local lock, queue, base
local now

local function corrupt(what)
  error({err = 'H5REDISLOCK_CORRUPT ' .. what .. ' under ' .. base})
end

local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function bind(keys)
  lock, queue = keys[1], keys[2]
  base = string.sub(lock, 1, -6)  -- without ':lock'
end

local function wake_key(token) return base .. ':w:' .. token end

-- An entry, field e:<token>:
--   mode lease expiry fence since granted flags pid start hostkey dev chan host
-- flags: '-', or letters: b broken, j keeps a journal, c cached, r being released.
local function decode(token, v)
  local m, l, e, f, s, g, fl, who = string.match(v, '^([rw]) (%d+) (%d+) (%d+) (%d+) (%d+) (%S+) (.+)$')
  if not m then corrupt('malformed entry ' .. token) end
  return {token = token, mode = m, lease = tonumber(l), expiry = tonumber(e), fence = f, since = tonumber(s),
          granted = tonumber(g), flags = fl, who = who}
end

local function encode(r)
  return string.format('%s %d %d %s %d %d %s %s', r.mode, r.lease, r.expiry, r.fence, r.since, r.granted,
                       r.flags, r.who)
end

local function has(r, flag) return string.find(r.flags, flag, 1, true) ~= nil end

local function with(r, flag)
  if has(r, flag) then return end
  r.flags = (r.flags == '-' and '' or r.flags) .. flag
end

local function without(r, flag)
  local f = string.gsub(r.flags, flag, '')
  r.flags = f == '' and '-' or f
end

-- who: pid start hostkey dev chan host
local function who_fields(r)
  local pid, start, hostkey, dev, chan, host = string.match(r.who, '^(%S+) (%S+) (%S+) (%S+) (%S+) (.*)$')
  if not pid then corrupt('malformed entry ' .. r.token) end
  return pid, start, hostkey, dev, chan, host
end

-- The session mark of r's write session: token, host, host key, pid, dev, since; a line each.
local function mark_of(r)
  local pid, _, hostkey, dev, _, host = who_fields(r)
  return table.concat({r.token, host, hostkey, pid, dev, now}, '\n')
end

local function mark_token(mark) return mark and string.match(mark, '^([^\n]*)') end

-- What status and a waiter's liveness checks see of an entry.
local function view(r)
  local pid, start, hostkey, _, _, host = who_fields(r)
  return {r.token, r.mode, host, hostkey, tonumber(pid), tonumber(start), r.since, r.granted, r.expiry - now,
          has(r, 'b') and 1 or 0, r.flags}
end

-- Keeps `key` at least `ttl` ms more, never less than it had (PEXPIRE GT; a server before 7.0 has no
-- GT: PTTL, then PEXPIRE). A key without a TTL keeps none.
local function extend(key, ttl)
  local done = redis.pcall('PEXPIRE', key, ttl, 'GT')
  if type(done) == 'table' and done.err then
    local left = redis.call('PTTL', key)
    if left >= 0 and left < ttl then redis.call('PEXPIRE', key, ttl) end
  end
end

-- The hash's TTL after a change: none while a session mark is set (a lost mark is lost protection),
-- else at least `ttl`; a hash just made has none yet.
local function keep(ttl, fresh, marked)
  if marked then return end
  if fresh then
    redis.call('PEXPIRE', lock, ttl)
  else
    extend(lock, ttl)
  end
end

-- ==================================================================
-- The whole state, for everything but the uncontended fast paths.
-- ==================================================================
local S

local function load()
  S = {fields = {}, entries = {}, order = redis.call('ZRANGE', queue, 0, -1), dirty = {}, gone = {}, fresh = false}
  local flat = redis.call('HGETALL', lock)
  S.fresh = #flat == 0
  for i = 1, #flat, 2 do
    local k, v = flat[i], flat[i + 1]
    if string.sub(k, 1, 2) == 'e:' then
      local t = string.sub(k, 3)
      S.entries[t] = decode(t, v)
    else
      S.fields[k] = v
    end
  end
end

local function put(r)
  S.entries[r.token] = r
  S.dirty['e:' .. r.token] = encode(r)
  S.gone['e:' .. r.token] = nil
end

local function queued(r) return r.granted == 0 end

local function remove(t)
  local r = S.entries[t]
  if not r then return nil end
  S.entries[t] = nil
  S.dirty['e:' .. t] = nil
  S.gone['e:' .. t] = true
  if queued(r) then
    redis.call('ZREM', queue, t)
    redis.call('DEL', wake_key(t))
  end
  return r
end

local function holders()
  local list, mode = {}, nil
  for _, r in pairs(S.entries) do
    if not queued(r) then
      list[#list + 1] = r
      mode = r.mode
    end
  end
  table.sort(list, function(a, b) return a.granted < b.granted or (a.granted == b.granted and a.token < b.token) end)
  return list, mode
end

-- The queue in order of service, without the entries that left it.
local function waiters()
  local list = {}
  for _, t in ipairs(S.order) do
    local r = S.entries[t]
    if r and queued(r) then list[#list + 1] = r end
  end
  return list
end

local function grant(r)
  local fence = math.max((tonumber(S.fields.f) or 0) + 1, now * 1000)
  S.fields.f = string.format('%.0f', fence)
  r.fence = S.fields.f
  r.granted = now
  r.expiry = now + r.lease
  S.fields.a = (tonumber(S.fields.a) or 0) + 1
  local waited = now - r.since
  if waited > 0 then
    S.fields.t = (tonumber(S.fields.t) or 0) + waited
    if waited > (tonumber(S.fields.tm) or 0) then S.fields.tm = waited end
  end
  if r.mode == 'w' and has(r, 'j') and not S.fields.j then S.fields.j = mark_of(r) end
  put(r)
end

-- Grants the head of the queue while it is compatible with the holders.
local function promote()
  local _, mode = holders()
  for _, r in ipairs(waiters()) do
    if mode and (mode == 'w' or r.mode == 'w') then break end
    redis.call('ZREM', queue, r.token)
    grant(r)
    local wake = wake_key(r.token)
    redis.call('LPUSH', wake, r.fence .. (S.fields.j and '\n' .. S.fields.j or ''))
    redis.call('PEXPIRE', wake, r.lease)
    mode = r.mode
  end
end

local function prune()
  local expired = false
  for t, r in pairs(S.entries) do
    if r.expiry <= now then
      remove(t)
      expired = true
    end
  end
  if expired then promote() end
end

-- Writes the state back: the entries changed, and m, n, x, the counters, the mark.
local function store(retain)
  local list, mode = holders()
  local n = #waiters()
  S.fields.m = mode and (mode .. #list) or nil
  S.fields.n = n > 0 and n or nil
  local soonest, last = nil, nil
  for _, r in pairs(S.entries) do
    if not soonest or r.expiry < soonest then soonest = r.expiry end
    if not last or r.expiry > last then last = r.expiry end
  end
  S.fields.x = soonest
  if not last and not S.fields.j and (retain == 0 or not S.fields.f) then
    redis.call('DEL', lock)  -- no entry, no mark, and no counters to keep
    return
  end
  local set, del = {}, {}
  for _, k in ipairs({'m', 'n', 'f', 's', 'x', 'a', 't', 'tm', 'j'}) do
    local v = S.fields[k]
    if v then
      set[#set + 1] = k
      set[#set + 1] = v
    elseif not S.fresh then
      del[#del + 1] = k
    end
  end
  for k, v in pairs(S.dirty) do
    set[#set + 1] = k
    set[#set + 1] = v
  end
  for k in pairs(S.gone) do del[#del + 1] = k end
  if #del > 0 then redis.call('HDEL', lock, unpack(del)) end
  redis.call('HSET', lock, unpack(set))
  if S.fields.j then
    redis.call('PERSIST', lock)
  else
    redis.call('PEXPIRE', lock, math.max((last or now) - now, 1) + retain)
  end
  if n > 0 then redis.call('PEXPIRE', queue, math.max(last - now, 1)) end
end

-- The entries ahead of `token` (the holders, and the waiters before it; all waiters if it does not wait),
-- and the soonest expiry among them.
local function ahead_of(token)
  local list, soonest = {}, -1
  local function add(r)
    list[#list + 1] = view(r)
    local left = r.expiry - now
    if soonest < 0 or left < soonest then soonest = left end
  end
  for _, r in ipairs((holders())) do add(r) end
  for _, r in ipairs(waiters()) do
    if r.token == token then break end
    add(r)
  end
  return list, soonest
end

-- Tells the holders of caching processes that someone waits (see "Lock caching"), once: an idle
-- (cached) one releases at once, one in use at its last close. They show as being released.
local function revoke()
  for _, r in pairs(S.entries) do
    if not queued(r) and not has(r, 'r') then
      local _, _, _, _, chan = who_fields(r)
      if chan ~= '-' then
        redis.call('PUBLISH', chan, base)
        with(r, 'r')
        put(r)
      end
    end
  end
end

-- ==================================================================
-- ACQUIRE token mode lease_ms who flags retain_ms
--   who: pid start hostkey dev chan host (dev '-' unless a write session that keeps a journal);
--   flags: w may wait, v with timeout=0, revoke cached holders that are all that is in the way
--   -> {'granted', fence, ms left of the entry's lease, {}, session mark or ''}
--    | {'queued' | 'busy', 0, soonest lease ahead (ms, -1: none), {views ahead}, now,
--       ms left of the entry's lease (-1 for 'busy': there is none)}
-- Idempotent: a retry with the same token reports the entry's state, having renewed its lease (not a
-- broken one's): its owner measures its deadline from the retry's sending (section 1, "Leases").
-- ==================================================================
local function acquire(keys, args)
  bind(keys)
  local token, mode, lease_ms, who, flags, retain = args[1], args[2], tonumber(args[3]), args[4], args[5],
      tonumber(args[6])
  local journal = string.match(who, '^%S+ %S+ %S+ (%S+)') ~= '-'
  now = clock()
  local h = redis.call('HMGET', lock, 'm', 'n', 'f', 'x', 'a', 'j', 'e:' .. token)
  local fresh = not h[3] and not h[1] and not h[7]
  if fresh and redis.call('EXISTS', keys[3]) == 1 then
    return redis.error_reply('H5REDISLOCK_OLD_LAYOUT ' .. base)
  end
  -- Fast path: a new entry, nobody waits, nothing expired, compatible with the holders.
  local x = tonumber(h[4])
  if not h[7] and not h[2] and (not x or now < x) then
    local held = h[1] and string.sub(h[1], 1, 1)
    if not held or (held == 'r' and mode == 'r') then
      local count = h[1] and tonumber(string.sub(h[1], 2)) or 0
      local fence = string.format('%.0f', math.max((tonumber(h[3]) or 0) + 1, now * 1000))
      local r = {token = token, mode = mode, lease = lease_ms, expiry = now + lease_ms, fence = fence, since = now,
                 granted = now, flags = journal and 'j' or '-', who = who}
      local set = {'e:' .. token, encode(r), 'm', mode .. (count + 1), 'f', fence, 'a', (tonumber(h[5]) or 0) + 1}
      if not x or r.expiry < x then
        set[#set + 1] = 'x'
        set[#set + 1] = r.expiry
      end
      local mark = h[6]
      if mode == 'w' and journal and not mark then
        mark = mark_of(r)
        set[#set + 1] = 'j'
        set[#set + 1] = mark
      end
      redis.call('HSET', lock, unpack(set))
      keep(lease_ms + retain, fresh, mark)
      return {'granted', fence, lease_ms, {}, mark or ''}
    end
  end
  load()
  prune()
  local r = S.entries[token]
  if r and not has(r, 'b') then
    r.expiry = now + r.lease  -- its owner's renewal (see above)
    put(r)
  end
  if r and not queued(r) then
    redis.call('DEL', wake_key(token))
    store(retain)
    return {'granted', r.fence, r.expiry - now, {}, S.fields.j or ''}
  end
  if not r then
    r = {token = token, mode = mode, lease = lease_ms, expiry = now + lease_ms, fence = '0', since = now, granted = 0,
         flags = journal and 'j' or '-', who = who}
    local _, held = holders()
    if #waiters() == 0 and (not held or (held == 'r' and mode == 'r')) then
      grant(r)
      store(retain)
      return {'granted', r.fence, r.expiry - now, {}, S.fields.j or ''}
    end
    local may_wait = string.find(flags, 'w', 1, true) ~= nil
    if not may_wait then
      -- timeout=0: fail, unless only cached entries (idle holders) are in the way and the caller revokes them.
      local only_cached = string.find(flags, 'v', 1, true) ~= nil and #waiters() == 0
      for _, h2 in ipairs((holders())) do
        if not has(h2, 'c') then only_cached = false end
      end
      if not only_cached then
        local list, soonest = ahead_of(token)
        return {'busy', 0, soonest, list, now, -1}
      end
    end
    local seq = (tonumber(S.fields.s) or 0) + 1
    S.fields.s = seq
    redis.call('ZADD', queue, seq, token)
    S.order[#S.order + 1] = token
    put(r)
  end
  -- Queued (now or before): the head may be granted now that expired entries went.
  promote()
  revoke()
  store(retain)
  r = S.entries[token]
  if not queued(r) then
    redis.call('DEL', wake_key(token))
    return {'granted', r.fence, r.expiry - now, {}, S.fields.j or ''}
  end
  local list, soonest = ahead_of(token)
  return {'queued', 0, soonest, list, now, r.expiry - now}
end

-- ==================================================================
-- LEAVE retain_ms how token [token ...]
--   how: flags: d describe the holders after; c the first token, a holder, leaves no unfinished write
--   session (it committed, rolled back, or never used its grant): its session mark goes.
--   -> {'held' | 'queued' | 'none' (what the first token was), {views of holders after}, now}
-- Releases, gives up waiting, and reaps entries of dead processes.
-- ==================================================================
local function leave(keys, args)
  bind(keys)
  local retain, how = tonumber(args[1]), args[2]
  local clean = string.find(how, 'c', 1, true) ~= nil
  local describe = string.find(how, 'd', 1, true) ~= nil
  -- Fast path: the sole holder leaves and nobody waits.
  if #args == 3 and not describe then
    local token = args[3]
    local h = redis.call('HMGET', lock, 'm', 'n', 'j', 'e:' .. token)
    if h[4] and not h[2] and (h[1] == 'r1' or h[1] == 'w1') and not string.match(h[4], '^%a %d+ %d+ %d+ %d+ 0 ') then
      local unmark = clean and mark_token(h[3]) == token
      if retain == 0 and (unmark or not h[3]) then
        redis.call('DEL', lock)  -- no entry, no mark, no counters to keep
      elseif unmark then
        redis.call('HDEL', lock, 'e:' .. token, 'm', 'x', 'j')
        redis.call('PEXPIRE', lock, retain)  -- the mark kept it for good
      else
        redis.call('HDEL', lock, 'e:' .. token, 'm', 'x')
      end
      return {'held', {}, 0}
    end
  end
  now = clock()
  load()
  prune()
  local first = 'none'
  for i = 3, #args do
    local r = remove(args[i])
    local was = r and (queued(r) and 'queued' or 'held') or 'none'
    if i == 3 then first = was end
  end
  if first == 'held' and clean and mark_token(S.fields.j) == args[3] then S.fields.j = nil end
  promote()
  local list = {}
  if describe then
    for _, r in ipairs((holders())) do list[#list + 1] = view(r) end
  end
  store(retain)
  return {first, list, now}
end

-- ==================================================================
-- RENEW token retain_ms -> {1 extended | 0 gone (expired, broken, or Redis lost it), waiters, revoked}
-- An expired entry is pruned first, so it can never be revived. `waiters` and `revoked` tell a caching
-- holder that someone wants the lock (a revocation whose message was lost).
-- ==================================================================
local function renew(keys, args)
  bind(keys)
  local token, retain = args[1], tonumber(args[2])
  now = clock()
  local h = redis.call('HMGET', lock, 'e:' .. token, 'n', 'j')
  if not h[1] then return {0, tonumber(h[2]) or 0, 0} end
  local r = decode(token, h[1])
  if r.expiry <= now then
    load()
    prune()
    store(retain)
    return {0, #waiters(), 0}
  end
  if has(r, 'b') then return {0, tonumber(h[2]) or 0, 0} end
  r.expiry = now + r.lease
  redis.call('HSET', lock, 'e:' .. token, encode(r))
  keep(r.lease + retain, false, h[3])
  if queued(r) then extend(queue, r.lease) end
  return {1, queued(r) and 0 or (tonumber(h[2]) or 0), has(r, 'r') and 1 or 0}
end

-- ==================================================================
-- CACHED token on -> 1 | 0 (no such entry)
-- A holder's entry is cached (kept after its last close, released on demand: flag c) or in use again.
-- ==================================================================
local function cached(keys, args)
  bind(keys)
  local token, on = args[1], args[2] == '1'
  local v = redis.call('HGET', lock, 'e:' .. token)
  if not v then return 0 end
  local r = decode(token, v)
  if on then with(r, 'c') else without(r, 'c') end
  redis.call('HSET', lock, 'e:' .. token, encode(r))
  return 1
end

-- ==================================================================
-- SETTLE holder seen retain_ms -> 1 | 0 (the holder does not hold the lock, or the mark names
-- another session than `seen` now)
-- The session mark of `seen` is resolved: its journal was rolled back, or is known not to exist. A
-- holder whose own session keeps a journal is marked instead; any other holder, and
-- `h5redislock break --clear-session` (holder ''), clear it.
-- ==================================================================
local function settle(keys, args)
  bind(keys)
  local holder, seen, retain = args[1], args[2], tonumber(args[3])
  now = clock()
  load()
  prune()
  local r
  if holder ~= '' then
    r = S.entries[holder]
    if not r or queued(r) then return 0 end
  end
  if S.fields.j and mark_token(S.fields.j) ~= seen then return 0 end
  if r and r.mode == 'w' and has(r, 'j') then S.fields.j = mark_of(r) else S.fields.j = nil end
  store(retain)
  return 1
end

-- ==================================================================
-- BREAK token [token ...] -> number of entries marked broken
-- `h5redislock break`: a broken entry's renewals are refused, so it expires at the end of its current
-- lease; its process, if alive, is fenced by then, and only then does promote hand the lock on.
-- ==================================================================
local function break_entries(keys, args)
  bind(keys)
  local marked = 0
  for _, t in ipairs(args) do
    local v = redis.call('HGET', lock, 'e:' .. t)
    if v then
      local r = decode(t, v)
      with(r, 'b')
      redis.call('HSET', lock, 'e:' .. t, encode(r))
      marked = marked + 1
    end
  end
  return marked
end

-- ==================================================================
-- SNAPSHOT -> {now, {fields, flat}, {holder views}, {waiter views in order}}
-- Read-only: expired entries show a negative lease_left.
-- ==================================================================
local function snapshot(keys, args)
  bind(keys)
  now = clock()
  load()
  if S.fresh and redis.call('EXISTS', keys[3]) == 1 then
    return redis.error_reply('H5REDISLOCK_OLD_LAYOUT ' .. base)
  end
  local fields = {}
  for k, v in pairs(S.fields) do
    fields[#fields + 1] = k
    fields[#fields + 1] = tostring(v)
  end
  local hs, ws = {}, {}
  for _, r in ipairs((holders())) do hs[#hs + 1] = view(r) end
  for _, r in ipairs(waiters()) do ws[#ws + 1] = view(r) end
  return {now, fields, hs, ws}
end
)lua";

// ============================================================================
// 3. Running them
// ============================================================================

// The library, in the order of Script. Its name carries the protocol's
// version: a process of another version calls its own library. Never
// destroyed: HDF5 closes files, and so releases locks, from an atexit handler
// that may run after static destructors.
ScriptLibrary& Library() {
  static NoDestructor<ScriptLibrary> library("h5redislock2", kLibrary,
                                             std::vector<std::string>{"acquire", "leave", "renew", "break_entries",
                                                                      "settle", "snapshot", "cached"});
  return *library;
}

// What an error reply from a function means, as a Status naming the lock.
Status ScriptError(const LockKeys& keys, const std::string& error) {
  const std::string where = "lock '" + keys.lock_name() + "' (keys " + keys.base() + ":*)";
  switch (ClassifyError(error)) {
    case ReplyError::kForeignData:
      return Status::Corrupt("Redis holds data under " + where +
                             " that h5redislock did not write (a foreign or damaged key; "
                             "delete it or choose another prefix=): " + error);
    case ReplyError::kOldLayout:
      return Status::Corrupt("the " + where + " is kept by an older h5redislock (keys " + keys.base() +
                             ":state, :lease, ...), which may hold it now: upgrade every process that uses the "
                             "file, or wait until that lock is released and its keys expire: " + error);
    case ReplyError::kNoAuth:
      return PasswordRequired("Redis, for " + where + ",", error);
    case ReplyError::kNoPermission:
      return Status::Auth("the Redis user may not run the lock scripts on " + where +
                          " (see ACL in the README for what it needs): " + error);
    case ReplyError::kMoved:
    case ReplyError::kAsk:
    case ReplyError::kTryAgain:
    case ReplyError::kNotMaster:
    case ReplyError::kUnavailable:
      return Status::Unavailable("Redis cannot serve " + where + " now: " + error);
    default:
      return Status::Internal("Redis refused a lock function on " + where + ": " + error);
  }
}

}  // namespace

Status RunScript(RedisConnection& conn, Script script, const LockKeys& keys, const Argv& args, Reply* reply) {
  Status s = Library().Call(conn, static_cast<size_t>(script), keys.ScriptKeys(), args, reply);
  if (!s.ok()) return s;
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
// How long an open with timeout=0 waits for processes that keep the lock
// cached to let it go (see "Lock caching"): a cached entry is no file in
// use, so it must not make such an open fail; one whose process uses the
// file again after all does, after this long.
constexpr auto kRevocationWait = std::chrono::seconds(1);

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
  const std::string flags = ReplyString(ReplyElement(r, 10));
  e->cached = flags.find('c') != std::string::npos;
  e->releasing = flags.find('r') != std::string::npos;
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

// A session mark as the functions write it (mark_of): a line per field; an
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
  Acquisition(const AcquireRequest& request, const std::string& record, LockLease* lease);
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
  Status NotLetGo();
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

Acquisition::Acquisition(const AcquireRequest& request, const std::string& record, LockLease* lease)
    : request_(request),
      lease_(lease),
      router_(lease->router()),
      keys_(lease->keys()),
      args_({lease->token(), ModeArg(request.mode), std::to_string(lease->lease_ms()), record,
             request.timeout_s == 0 ? "v" : "w", std::to_string(lease->retain_ms())}),
      what_(std::string(ModeName(request.mode)) + " lock on '" + request.file + "'"),
      give_up_(request.timeout_s < 0   ? Clock::time_point::max()
               : request.timeout_s == 0 ? Later(request.started, InSeconds(kRevocationWait))
                                        : Later(request.started, request.timeout_s)),
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
      if (Clock::now() >= give_up_) return request_.timeout_s == 0 ? NotLetGo() : TimedOut();
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

// timeout=0, and only cached entries were in the way: their processes were
// asked to let them go (ACQUIRE queued us and told them), and did not in
// time, because they use the file after all.
Status Acquisition::NotLetGo() {
  std::vector<LockEntry> holders;
  const std::string left = Leave(&holders);
  return Status::Busy("the " + what_ + " is not free and timeout=0 forbids waiting: its holders, which kept it " +
                      "cached, were asked to let it go and did not within " + Seconds(InSeconds(kRevocationWait)) +
                      "; " + DescribeHolders(holders.empty() ? ahead_ : holders, now_ms_) + left);
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

std::string ThisProcessRecord(const std::string& session_dev, const std::string& channel) {
  ProcessIdentity id = ThisProcess();
  // Words of an entry's line (section 1): none may hold a space or be empty.
  auto word = [](const std::string& s) {
    std::string out;
    for (char c : s) out += static_cast<unsigned char>(c) <= ' ' ? '_' : c;
    return out.empty() ? std::string("-") : out;
  };
  return std::to_string(id.pid) + " " + std::to_string(id.start) + " " + word(id.host_key) + " " +
         word(session_dev) + " " + word(channel) + " " + word(id.host);
}

Status AcquireLock(const AcquireRequest& request, const std::string& record, LockLease* lease,
                   long long* fence, SessionMark* mark) {
  return Acquisition(request, record, lease).Run(fence, mark);
}

// ============================================================================
// 5. Releasing, renewing, reading
// ============================================================================

Status ReleaseLock(const LockLease& lease, bool clean) {
  const Argv args = {std::to_string(lease.retain_ms()), clean ? "c" : "0", lease.token()};
  Status s = lease.router().Run(lease.keys().slot(), [&](RedisConnection& conn) {
    return conn.Post(Library().Command(conn, static_cast<size_t>(Script::kLeave), lease.keys().ScriptKeys(), args),
                     "the release of the lock on '" + lease.file() + "' (it expires within its lease)");
  });
  if (!s.ok())
    return s.WithContext("cannot release the lock on '" + lease.file() + "' (it expires within the lease)");
  return Status::OK();
}

void PostCached(const LockLease& lease) {
  Status s = lease.router().Run(lease.keys().slot(), [&](RedisConnection& conn) {
    return conn.Post(Library().Command(conn, static_cast<size_t>(Script::kCached), lease.keys().ScriptKeys(),
                                       {lease.token(), "1"}),
                     "marking the lock on '" + lease.file() + "' cached");
  });
  if (!s.ok()) Log(LogLevel::kDebug, "cannot mark the lock on '" + lease.file() + "' cached: " + s.message());
}

Argv RenewArgs(const LockLease& lease) { return {lease.token(), std::to_string(lease.retain_ms())}; }

Argv RenewCommand(const RedisConnection& conn, const LockLease& lease) {
  return Library().Command(conn, static_cast<size_t>(Script::kRenew), lease.keys().ScriptKeys(), RenewArgs(lease));
}

bool RenewRanNothing(const redisReply* reply) { return ScriptLibrary::RanNothing(reply); }

Status ParseRenewReply(const LockLease& lease, const redisReply* reply, bool* alive, bool* wanted) {
  if (IsErrorReply(reply)) return ScriptError(lease.keys(), ReplyString(reply));
  *alive = ReplyInteger(ReplyElement(reply, 0)) == 1;
  *wanted = ReplyInteger(ReplyElement(reply, 1)) > 0 || ReplyInteger(ReplyElement(reply, 2)) == 1;
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
    if (field == "j") ParseSessionMark(ReplyString(ReplyElement(state, i + 1)), &snap.session);
    else if (field == "a") snap.acquisitions = value;
    else if (field == "t") snap.wait_total_ms = value;
    else if (field == "tm") snap.wait_max_ms = value;
    else if (field == "f") snap.fence = value;
  }
  if (!ParseEntries(ReplyElement(reply.get(), 2), &snap.holders) ||
      !ParseEntries(ReplyElement(reply.get(), 3), &snap.waiters))
    return UnexpectedReply(keys, "SNAPSHOT");
  *out = std::move(snap);
  return Status::OK();
}

}  // namespace h5redislock
