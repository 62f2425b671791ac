// lock_protocol.h: the readers-writers lock in Redis, one lock at a time.
//
// The protocol itself (keys, states, transitions, scripts) is described at
// the top of lock_protocol.cc, next to the Lua that implements it. This header
// is its client side: take a lock (waiting as long as allowed), leave it,
// renew entries, and read a lock's state for people and tools.
//
// Thread-safety: the functions are thread-safe; each borrows its own
// connections from the pool.
#ifndef H5REDISLOCK_LOCK_PROTOCOL_H_
#define H5REDISLOCK_LOCK_PROTOCOL_H_

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "lock/lock_keys.h"
#include "lock/lock_lease.h"
#include "redis/redis_connection.h"

namespace h5redislock {

enum class LockMode { kRead, kWrite };
const char* ModeName(LockMode mode);  // "read" / "write"

// One entry of a lock, as Redis has it.
struct LockEntry {
  std::string token;
  LockMode mode = LockMode::kRead;
  std::string host;
  std::string host_key;
  long pid = 0;
  unsigned long long start = 0;
  long long since_ms = 0;      // Redis time the entry was made (queued or granted at once)
  long long granted_ms = 0;    // Redis time it was granted; 0 while waiting
  long long lease_left_ms = 0; // until Redis expires it unless renewed
  bool broken = false;         // `h5redislock break` refused it further renewals
  bool cached = false;         // its process keeps it after the last close (lock_table.h)
  bool releasing = false;      // cached, and asked to let it go: it is being released

  // "pid 1234 on node7 (write, held for 2.1 s)"
  std::string Describe(long long now_ms) const;
};

// The session mark: a write session that keeps an undo journal, and is not
// known to have finished (see "Write sessions" in lock_protocol.cc).
struct SessionMark {
  std::string token;     // of the session's entry
  std::string host;
  std::string host_key;  // see process_identity.h
  long pid = 0;
  std::string dev;       // st_dev of the file's directory, as that process saw it
  long long since_ms = 0;  // Redis time the mark was set

  bool set() const { return !token.empty(); }
  // "the write session of pid 1234 on node7"
  std::string Describe() const;
};

// A lock as a whole, read atomically.
struct LockSnapshot {
  std::string lock_name;
  long long now_ms = 0;                  // Redis time of the snapshot
  std::vector<LockEntry> holders;
  std::vector<LockEntry> waiters;        // in the order they will be served
  long long acquisitions = 0;            // since the lock was last forgotten (see `retain`)
  long long wait_total_ms = 0;
  long long wait_max_ms = 0;
  long long fence = 0;                   // the last fencing number handed out
  SessionMark session;                   // unset if none
};

struct AcquireRequest {
  LockMode mode = LockMode::kRead;
  double timeout_s = 60;   // 0: never wait; < 0: wait forever
  std::string file;        // for messages
  Clock::time_point started = Clock::now();  // when the open began: the timeout runs from then
};

// Takes the lock described by `lease` (its keys, token and lease length) in
// `request.mode`, waiting up to the timeout. On success the lease is active,
// *fence holds the fencing number of this grant and *mark the lock's session
// mark as the grant found it. On failure nothing of this attempt is left in
// Redis (the waiter entry is removed, or, if Redis cannot be reached in the
// time left, expires with its lease), and the error names the file, the mode
// and the holders or the cause. It returns by started + timeout + the
// router's connect timeout (unless it waits forever), give or take the
// scheduling of the thread.
//
// While waiting, the lease keeper must renew the entry: `lease` is expected to
// be registered with it (it ignores the lease until Activate()).
Status AcquireLock(const AcquireRequest& request, const std::string& record, LockLease* lease,
                   long long* fence, SessionMark* mark);

// Removes the entry of `lease` and hands the lock on. `clean`: the holder
// leaves no unfinished write session (its session committed, or was rolled
// back), so its session mark goes too. The release is sent without waiting
// for its reply (RedisConnection::Post): an error fails only if it cannot be
// sent; one in its reply is logged when the connection is next used, and the
// entry then expires with its lease.
Status ReleaseLock(const LockLease& lease, bool clean);

// SETTLE: the session mark naming `seen` (a token) is resolved, by the holder
// `holder` (which keeps its own session's mark instead, if it keeps a
// journal) or by `h5redislock break` (holder ""). *settled is false if the
// holder no longer holds the lock, or the mark names another session now.
Status SettleSession(RedisConnection& conn, const LockKeys& keys, const std::string& holder,
                     const std::string& seen, long long retain_ms, bool* settled);

// Marks the entry of `lease` cached in Redis (flag c: kept after its last
// close, let go on demand), sent without waiting for its reply (as
// ReleaseLock). Best effort: it informs `h5redislock status` and timeout=0
// openers; a failure changes nothing else.
void PostCached(const LockLease& lease);

// The RENEW command for one entry, for the keeper's pipeline on `conn`; whether
// its reply says it ran nothing (the server lacked the function or script:
// renew through RunScript then); and the meaning of its reply: OK and
// *alive=true if the entry was extended.
Argv RenewCommand(const RedisConnection& conn, const LockLease& lease);
bool RenewRanNothing(const redisReply* reply);
Argv RenewArgs(const LockLease& lease);  // its arguments, for RunScript
// *wanted: someone else waits for the lock, or asked this process to let it
// go (see "Lock caching" in lock_protocol.cc).
Status ParseRenewReply(const LockLease& lease, const redisReply* reply, bool* alive, bool* wanted);

// Reads a lock's whole state in one round trip.
Status ReadLockSnapshot(RedisConnection& conn, const LockKeys& keys, LockSnapshot* out);

// Marks entries broken: their renewals fail, so they end with their current
// lease and their processes are fenced (see BREAK in lock_protocol.cc).
Status BreakEntries(RedisConnection& conn, const LockKeys& keys, const std::vector<std::string>& tokens,
                    long long* marked);

// Removes entries at once and hands the lock on: only for entries whose
// processes are known to be dead.
Status RemoveEntries(RedisConnection& conn, const LockKeys& keys, const std::vector<std::string>& tokens,
                     double retain_s);

// The words that describe this process in its entries (see section 1 of
// lock_protocol.cc: pid, start, host key, dev, channel, host); a write
// session that keeps a journal gives `session_dev`, the st_dev of the file's
// directory as this process sees it, and so sets the session mark.
std::string ThisProcessRecord(const std::string& session_dev = "", const std::string& channel = "");

// Calls one of the protocol's functions (FCALL, or a script where the server
// runs no functions: redis/script_library.h) and turns error replies into
// Status (see lock_protocol.cc).
enum class Script { kAcquire, kLeave, kRenew, kBreak, kSettle, kSnapshot, kCached };
Status RunScript(RedisConnection& conn, Script script, const LockKeys& keys, const Argv& args,
                 Reply* reply);

}  // namespace h5redislock

#endif  // H5REDISLOCK_LOCK_PROTOCOL_H_
