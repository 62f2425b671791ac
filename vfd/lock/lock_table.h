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
// Lock caching. Programs that open and close a file on every access (the
// seed's h5pyswmr does, by design) would pay a round trip to Redis for each.
// So after the last close the table keeps the lock for `linger` seconds (a
// *cached* entry: still a holder in Redis, leased and renewed like any), and
// an open in a compatible mode within that time takes it back without a
// word to Redis. A cached entry is let go (LEAVE) when:
//   - its linger ends;
//   - someone else wants the lock: a waiter's ACQUIRE publishes on this
//     process's revocation channel, which the server's watch carries here
//     (server_watch.h), and the watch's thread lets the entry go at once; a
//     renewal's reply says someone waits (that covers a lost message within
//     lease/3); the watch's connection went away (a message may have been
//     lost);
//   - its lease is in doubt, the process exits (atexit), or an open needs
//     another mode (a cached read lock and a write open: let go, then taken
//     for writing) or other terms (Terms: a durable open, say).
// An entry wanted while in use is not cached at its last close, so a process
// that keeps reopening a file does not keep a waiter out. Safety never
// depends on the messages: a cached entry is a leased holder as any other,
// fenced as any other. A write session still commits at the HDF5 close; the
// journal stays, emptied, for the next session (UndoJournal::Restart), so the
// lock's session mark never names a missing journal. See "Lock caching" in
// lock_protocol.cc for the protocol's side.
//
// After fork() the child starts with an empty table, pools and keeper of its
// own (ForThisProcess): the parent's entries, sockets and mutexes are not the
// child's. The parent's state is left alone in the child, deliberately leaked:
// its mutexes may be held by parent threads that do not exist in the child.
//
// Locking: mu_ guards the entries and the table's other state; it is never
// held during a Redis round trip or a journal's file work. A thread that
// finds an entry being acquired or closed by another thread waits on
// settled_ for the outcome, within its own timeout (which runs from its
// call, through its own acquisition if the other thread's failed). The
// sweeper thread lets cached entries go; it starts with the first one.
#ifndef H5REDISLOCK_LOCK_TABLE_H_
#define H5REDISLOCK_LOCK_TABLE_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/fork_gate.h"
#include "base/status.h"
#include "lock/config.h"
#include "lock/lease_keeper.h"
#include "lock/lock_lease.h"
#include "lock/lock_protocol.h"
#include "redis/server_watch.h"

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
        session_mark_(std::move(session_mark)),
        id_(next_id_.fetch_add(1, std::memory_order_relaxed)) {}

  LockMode mode() const { return mode_; }
  // This process's number for the hold: no two holds of the process share
  // one (a fence may repeat after a Redis that lost its data).
  unsigned long long id() const { return id_; }
  long long fence() const { return fence_; }
  // The session mark the grant reported, if it names another session than
  // this hold's: one that may have left a journal (see "Write sessions" in
  // lock_protocol.cc).
  const SessionMark& session_mark() const { return session_mark_; }
  const LockLease& lease() const { return *lease_; }
  LockLease& mutable_lease() const { return *lease_; }
  const std::string& table_key() const { return table_key_; }

  // For the I/O path: OK while the lock is certainly held (see LockLease).
  Status CheckValid(const char* operation) const { return lease_->CheckValid(operation); }
  // Nobody else wants the lock and it is certainly held: the hold may serve
  // another open, be cached, or vouch that no other process wrote the file.
  bool undisputed() const { return !lease_->wanted() && CheckValid("keeping the lock").ok(); }

  // Whether an open under this hold found no other session's journal to
  // deal with. While the hold lasts no other session can begin, so later
  // opens under it (a cached lock's, above all) need not look again.
  bool checked() const { return checked_.load(std::memory_order_acquire); }
  void set_checked() { checked_.store(true, std::memory_order_release); }

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

  // What the driver does when a cached lock is finally let go: it kept a
  // write session's journal for the next open (BeforeRelease's `keep`), and
  // removes it now; *clean as for BeforeRelease. Set by the driver.
  using Finisher = std::function<Status(bool* clean)>;
  void set_finisher(Finisher finisher) {
    std::lock_guard<std::mutex> lock(mu_);
    finisher_ = std::move(finisher);
  }
  // Runs and forgets the finisher, if any (OK, *clean untouched, if none).
  Status Finish(bool* clean) {
    Finisher finisher;
    {
      std::lock_guard<std::mutex> lock(mu_);
      finisher.swap(finisher_);
    }
    return finisher ? finisher(clean) : Status::OK();
  }

 private:
  const std::string table_key_;
  const LockMode mode_;
  const std::shared_ptr<LockLease> lease_;
  const long long fence_;
  const SessionMark session_mark_;
  static inline std::atomic<unsigned long long> next_id_{1};
  const unsigned long long id_;
  std::atomic<bool> checked_{false};
  mutable std::mutex mu_;
  std::shared_ptr<UndoJournal> journal_;  // guarded by mu_
  Finisher finisher_;                     // guarded by mu_
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

  // Runs when the last reference goes. Sets *clean (false before) if the
  // holder leaves no unfinished write session of its own: then its session
  // mark goes with the release (ReleaseLock). `keep` says the lock is to be
  // cached: the driver then keeps its write session's journal for the next
  // open, sets the HeldLock's finisher, and leaves *clean false; if it
  // cannot keep it, it commits the session as without `keep` (*clean true),
  // and the lock is not cached.
  using BeforeRelease = std::function<Status(bool keep, bool* clean)>;
  // Drops one reference; the last runs `before_release` (if given), then
  // caches the lock (see the essay; only if `may_cache`) or releases it in
  // Redis. Fails if the lock had been lost before, `before_release` failed,
  // or Redis could not be told.
  Status Release(const std::shared_ptr<HeldLock>& held, const BeforeRelease& before_release = nullptr,
                 bool may_cache = true);

  // Lets every cached lock go now: HDF5 shuts the driver down (H5close, its
  // terminate callback), or the process exits (`for_good`: nothing is cached
  // from then on).
  void ReleaseCached(bool for_good);

  // Whether another process wants a lock named `lock_name` (lock_name.h)
  // that this process holds, open or cached (see LockLease::WantedFd).
  bool Wanted(const std::string& lock_name);
  // The id of this process's hold of the lock named `lock_name`, open or
  // cached, while nobody else wants it and its lease is sure; else 0. While
  // it stays the same, no other process has written the file: what this
  // process learnt of it still holds, but for its own changes
  // (H5FD_redislock_hold).
  unsigned long long HoldOf(const std::string& lock_name);
  // Marks this process's lock named `lock_name`, which a program keeps open
  // between accesses and closes when it is wanted (H5FD_redislock_idle), as
  // cached in Redis: a timeout=0 opener then revokes it rather than fail.
  // Sent once per hold, without waiting.
  void MarkIdle(const std::string& lock_name);

  // The router to the servers of `config` (its url, connect timeout and
  // replica policy), shared by all locks on them.
  std::shared_ptr<Router> RouterFor(const Config& config);

  LockTable();
  LockTable(const LockTable&) = delete;
  LockTable& operator=(const LockTable&) = delete;

 private:
  // What an open asks of a hold beyond its lock and mode. A cached hold
  // serves a later open only on the same terms; one that asks for more
  // replicas, another lease or linger, or a journal the hold's grant did not
  // announce (or a durable one where it is not) takes the lock anew.
  struct Terms {
    int replicas = 0;
    double replica_timeout_s = 0, lease_s = 0, linger_s = 0;
    bool journal = false, durable = false;

    static Terms Of(const Config& config);
    bool operator==(const Terms& other) const;
  };
  struct Entry {
    LockMode mode = LockMode::kRead;
    bool acquiring = true;  // the first open is taking it in Redis
    bool closing = false;   // the last close is finishing its session
    int refs = 0;           // open handles; 0 (and not closing): cached
    std::shared_ptr<HeldLock> held;
    std::shared_ptr<LockLease> taking;  // while acquiring a hold that may be cached: its lease
    Terms terms;            // those of the open that took it
    ConnectionPool* pool = nullptr;  // its master's, where its channel is heard
    Clock::time_point linger_until;  // cached until then
    bool marked_cached = false;      // the entry in Redis says so (sent once)
    bool heard = false;  // its process was subscribed before it asked: no revocation can have been missed

    // No handle uses it, and no thread is taking or closing it.
    bool cached() const { return !acquiring && !closing && refs == 0; }
  };
  using Entries = std::map<std::string, Entry>;

  // The server's watch tells the table of messages on the process's
  // revocation channel, one listener per pool.
  class Revocations : public ServerWatch::Listener {
   public:
    Revocations(LockTable* table, ConnectionPool* pool) : table_(table), pool_(pool) {}
    void OnMessage(const std::string& lock_base) override { table_->Wanted(pool_, &lock_base); }
    void OnLost() override { table_->Wanted(pool_, nullptr); }

   private:
    LockTable* const table_;
    ConnectionPool* const pool_;
  };

  // The entries holding a lock named `lock_name` (lock_name.h), of any
  // server and prefix (REQUIRES mu_).
  std::vector<Entry*> HeldNamed(const std::string& lock_name);
  // Whether a cached entry can serve an open in `mode` on `terms` (REQUIRES mu_).
  static bool Reusable(const Entry& entry, LockMode mode, const Terms& terms);
  // Whether an entry whose last handle closes may be cached (REQUIRES mu_).
  bool Cacheable(const Entry& entry);
  // The revocation channel of this process, for locks under `prefix`.
  std::string ChannelFor(const std::string& prefix) const;
  // Has `pool`'s watch carry this process's channel for `prefix` here.
  void Listen(ConnectionPool* pool, const std::string& prefix);
  // The locks of `pool` whose keys are `*lock_base` (all of them: null) are
  // wanted by someone else.
  void Wanted(ConnectionPool* pool, const std::string* lock_base);
  // Lets a lock go that no handle uses: the driver's finisher, then LEAVE.
  Status LetGo(const std::shared_ptr<HeldLock>& held, bool clean);
  // The sweeper: lets cached entries go when their time comes.
  void Sweep(ForkGate::Busy& busy);
  void StartSweeper();  // REQUIRES mu_

  const std::string process_token_;  // names this process's revocation channels
  std::mutex mu_;
  std::condition_variable settled_;  // an entry stopped acquiring or closing
  std::condition_variable sweep_;    // the sweeper has something to do, sooner
  Entries entries_;                                          // guarded by mu_
  std::map<std::string, std::shared_ptr<Router>> routers_;  // guarded by mu_
  // guarded by mu_; never freed: the watch keeps pointers to them
  std::map<ConnectionPool*, std::unique_ptr<Revocations>> revocations_;
  std::map<ConnectionPool*, std::set<std::string>> listened_;  // guarded by mu_; prefixes by pool
  bool sweeper_started_ = false;  // guarded by mu_
  // When the sweeper looks next, if it waits (guarded by mu_): a close that
  // caches a lock wakes it only for a linger that ends sooner, so that a
  // program that reopens in a loop does not wake a thread at every close.
  Clock::time_point sweep_at_ = Clock::time_point::min();
  bool exiting_ = false;          // guarded by mu_; nothing is cached from now on
  LeaseKeeper keeper_;
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_LOCK_TABLE_H_
