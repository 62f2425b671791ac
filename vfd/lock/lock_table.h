// lock_table.h: the locks this process holds, shared by all its open files.
//
// What Redis alone cannot give us. HDF5 opens one file several times in one
// process: H5Fcreate probes the file before truncating it, and H5Fopen of a
// file that is already open opens it again, compares, and closes the new
// handle. If each open took its own lock in Redis, the second open of a file
// held for writing would wait for the first, which waits for nothing: a
// self-deadlock; and the probe's close would release the lock the real open
// still needs. So, like SQLite's unixInodeInfo, the table keeps one entry per
// lock per process with a reference count: the first open takes the lock in
// Redis, later opens share it, the last close releases it. A process that
// holds a lock for writing may open the file for reading (the write lock
// covers it); a process that holds it for reading and asks to write fails at
// once: waiting would deadlock against itself.
//
// After fork() the child starts with an empty table, pools and keeper of its
// own (ForThisProcess): the parent's entries, sockets and mutexes are not the
// child's. The parent's state is left alone in the child, deliberately leaked:
// its mutexes may be held by parent threads that do not exist in the child.
//
// Locking: mu_ guards entries_ and routers_; it is never held during a Redis
// round trip. A thread that finds an entry being acquired by another thread
// waits on acquired_ for the outcome, within its own timeout (which runs from
// its call, through its own acquisition if the other thread's failed).
#ifndef H5REDISLOCK_LOCK_TABLE_H_
#define H5REDISLOCK_LOCK_TABLE_H_

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/status.h"
#include "lock/config.h"
#include "lock/lease_keeper.h"
#include "lock/lock_lease.h"
#include "lock/lock_protocol.h"

namespace h5redislock {

// The write session of an exclusive hold (undo_journal.h): the table carries
// it for the driver, between the opens of a file, without using it.
class UndoJournal;

// One lock held by this process; shared by the handles of every open of it.
class HeldLock {
 public:
  HeldLock(std::string table_key, LockMode mode, std::shared_ptr<LockLease> lease, long long fence,
           SessionMark session_mark)
      : table_key_(std::move(table_key)),
        mode_(mode),
        lease_(std::move(lease)),
        fence_(fence),
        session_mark_(std::move(session_mark)) {}

  LockMode mode() const { return mode_; }
  long long fence() const { return fence_; }
  // The session mark the grant reported, if it names another session than
  // this hold's: one that may have left a journal (see "Write sessions" in
  // lock_protocol.cc).
  const SessionMark& session_mark() const { return session_mark_; }
  const LockLease& lease() const { return *lease_; }
  const std::string& table_key() const { return table_key_; }

  // For the I/O path: OK while the lock is certainly held (see LockLease).
  Status CheckValid(const char* operation) const { return lease_->CheckValid(operation); }

  // The write session of an exclusive hold (undo_journal.h), shared by the
  // process's opens of the file; null for read holds and journal=off.
  std::shared_ptr<UndoJournal> journal() const {
    std::lock_guard<std::mutex> lock(mu_);
    return journal_;
  }
  void set_journal(std::shared_ptr<UndoJournal> journal) {
    std::lock_guard<std::mutex> lock(mu_);
    journal_ = std::move(journal);
  }

 private:
  const std::string table_key_;
  const LockMode mode_;
  const std::shared_ptr<LockLease> lease_;
  const long long fence_;
  const SessionMark session_mark_;
  mutable std::mutex mu_;
  std::shared_ptr<UndoJournal> journal_;  // guarded by mu_
};

class LockTable {
 public:
  // The table of the calling process (a fresh one in a forked child).
  static LockTable& ForThisProcess();

  // Takes `lock_name` in `mode` as `config` says, or shares this process's
  // hold of it. `file` is for messages. *fresh (if given) tells whether this
  // call took the lock in Redis rather than sharing the process's hold. A
  // write session that keeps a journal gives `session_dev` (see
  // ThisProcessRecord), which marks it in Redis.
  Status Acquire(const Config& config, const std::string& lock_name, LockMode mode, const std::string& file,
                 std::shared_ptr<HeldLock>* out, bool* fresh = nullptr, const std::string& session_dev = "");

  // Runs before the last reference is released; sets *clean (false before)
  // if the holder leaves no unfinished write session of its own: then its
  // session mark goes with the release (ReleaseLock).
  using BeforeRelease = std::function<Status(bool* clean)>;
  // Drops one reference; the last runs `before_release` (if given), then
  // releases the lock in Redis. Fails if the lock had been lost before,
  // `before_release` failed, or Redis could not be told.
  Status Release(const std::shared_ptr<HeldLock>& held, const BeforeRelease& before_release = nullptr);

  // The router to the servers of `config` (its url, connect timeout and
  // replica policy), shared by all locks on them.
  std::shared_ptr<Router> RouterFor(const Config& config);

  LockTable() = default;
  LockTable(const LockTable&) = delete;
  LockTable& operator=(const LockTable&) = delete;

 private:
  struct Entry {
    LockMode mode = LockMode::kRead;
    bool acquiring = true;
    int refs = 0;
    std::shared_ptr<HeldLock> held;
  };

  std::mutex mu_;
  std::condition_variable acquired_;
  std::map<std::string, Entry> entries_;                          // guarded by mu_
  std::map<std::string, std::shared_ptr<Router>> routers_;  // guarded by mu_
  LeaseKeeper keeper_;
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_LOCK_TABLE_H_
