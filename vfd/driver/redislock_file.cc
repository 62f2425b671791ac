#include "driver/redislock_file.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/log.h"
#include "base/process_identity.h"
#include "driver/hdf5_errors.h"
#include "driver/inner_fapl.h"
#include "driver/test_seams.h"
#include "lock/lock_name.h"

namespace h5redislock {
namespace {

LockMode ModeFor(unsigned flags) {
  return flags & (H5F_ACC_RDWR | H5F_ACC_CREAT | H5F_ACC_TRUNC | H5F_ACC_EXCL) ? LockMode::kWrite
                                                                                : LockMode::kRead;
}

// `config` with what is left of its timeout since `started`: the
// acquisitions of one open share its one timeout. (A spent timeout still
// asks once; 0 and forever stay as they are.)
Config WithTimeLeft(const Config& config, Clock::time_point started) {
  Config left = config;
  if (config.timeout_s > 0) {
    const double spent = std::chrono::duration<double>(Clock::now() - started).count();
    left.timeout_s = std::max(config.timeout_s - spent, 0.001);
  }
  return left;
}

// Whether this process sees the directory of `path` as the marked session's
// process did: the same host key (process_identity.h) and the same st_dev.
// Then a journal that session made is visible here, if it exists.
bool SeesAsMarked(const SessionMark& mark, const std::string& path) {
  return mark.host_key == ThisProcess().host_key && mark.dev == UndoJournal::DirectoryDevice(path);
}

// The mark names a session that may have left a journal nobody here can see.
Status Hidden(const SessionMark& mark, const std::string& path, const std::string& file) {
  return Status::IoError("cannot open '" + file + "': " + mark.Describe() +
                         ", which died or lost its lock, may have left an unfinished journal ('" +
                         UndoJournal::PathFor(path) +
                         "') that is not visible from this host: a file system that caches names (NFS) can "
                         "hide a file made on another host for a minute or so. Retry later; if '" + file +
                         "' is known to be whole, `h5redislock break --clear-session " + file +
                         "` clears the mark");
}

// The mark is resolved (the journal rolled back, or known absent): `hold`
// marks its own session instead, if it keeps a journal, or clears it.
Status Settle(const HeldLock& hold, const SessionMark& mark, const std::string& file) {
  const LockLease& lease = hold.lease();
  bool settled = false;
  Status s = lease.router().Run(lease.keys().slot(), [&](RedisConnection& conn) {
    return SettleSession(conn, lease.keys(), lease.token(), mark.token, lease.retain_ms(), &settled);
  });
  if (s.ok() && !settled) s = Status::LockLost("the lock on '" + file + "' was lost as it was taken");
  return s.WithContext("cannot settle the mark of " + mark.Describe() + " on '" + file + "'");
}

// Rolls back the journal beside `path`, if any, under `hold` (exclusive).
Status Recover(const HeldLock& hold, const std::string& path, const std::string& file) {
  bool rolled_back = false;
  Status s = UndoJournal::Recover(path, [&] { return hold.CheckValid("rolling back an unfinished session"); },
                                  &rolled_back);
  if (rolled_back) Log(LogLevel::kInfo, "rolled back an unfinished write session on '" + file + "'");
  return s;
}

}  // namespace

// Before a session's first write, and before anyone reads: a journal left by
// a session that is not live must be rolled back, under the exclusive lock,
// whatever this open's own journal= and inner= say (they decide only whether
// its own session keeps a journal). A writer that just took the lock holds
// it; a reader that finds a journal trades its shared lock for the exclusive
// one to roll back, then takes the shared lock again (a writer may come in
// between, hence the loop). All of it within the one timeout. A grant that
// reports another session's mark (lock_protocol.cc, "Write sessions") makes
// the absence of a journal a question: answered only from that session's own
// view of the directory; elsewhere the open is refused.
Status RedisLockFile::TakeLock(const Config& config, const std::string& lock_name, const std::string& path,
                               LockMode mode, const std::string& session_dev, const std::string& file,
                               std::shared_ptr<HeldLock>* out) {
  LockTable& table = LockTable::ForThisProcess();
  const auto started = Clock::now();
  // Each acquisition ends its Redis calls connect_timeout after its timeout;
  // those of one open end connect_timeout after the open's (ScopedDeadline).
  const ScopedDeadline bound(config.timeout_s < 0 ? Clock::time_point::max()
                                                  : started + std::chrono::duration_cast<Clock::duration>(
                                                                  std::chrono::duration<double>(
                                                                      config.timeout_s + config.connect_timeout_s)));
  const SessionMark no_mark;
  for (int attempt = 0;; ++attempt) {
    bool fresh = false;
    Status s = table.Acquire(WithTimeLeft(config, started), lock_name, mode, file, out, &fresh, session_dev);
    if (!s.ok()) return s;
    const std::shared_ptr<HeldLock> hold = *out;
    const bool exclusive = hold->mode() == LockMode::kWrite;
    if (exclusive && !fresh) return Status::OK();  // our own session is live
    if (hold->checked()) return Status::OK();      // (a cached lock's reopen, as a rule)
    const SessionMark& mark = fresh ? hold->session_mark() : no_mark;
    const bool journal = UndoJournal::Visible(path, mark.set());
    if (exclusive || !journal) {
      if (journal) s = Recover(*hold, path, file);
      else if (mark.set() && !SeesAsMarked(mark, path)) s = Hidden(mark, path, file);
      if (s.ok() && mark.set()) s = Settle(*hold, mark, file);
      if (!s.ok()) {
        table.Release(hold);
        out->reset();
        return s;
      }
      hold->set_checked();
      return s;
    }
    table.Release(hold);
    out->reset();
    if (attempt == 3)
      return Status::Busy("'" + file + "' keeps getting unfinished write sessions; gave up rolling them back");
    std::shared_ptr<HeldLock> exclusive_hold;
    s = TakeLock(WithTimeLeft(config, started), lock_name, path, LockMode::kWrite, "", file, &exclusive_hold);
    if (!s.ok()) return s.WithContext("'" + file + "' has an unfinished write session to roll back first");
    s = table.Release(exclusive_hold);
    if (!s.ok()) return s;
  }
}

Status RedisLockFile::Open(const char* name, unsigned flags, const Config& config, const std::string& config_text,
                           haddr_t maxaddr, std::unique_ptr<RedisLockFile>* out) {
  const std::string file = name ? name : "";
  std::string path;
  bool exists = false;
  Status s = CanonicalPath(file, &path, &exists);
  // A file that is not there cannot be opened without CREAT: say so without
  // taking a lock (H5Fcreate probes every new file this way).
  if (!(flags & H5F_ACC_CREAT) && !exists)
    return Status::IoError("unable to open '" + file + "': " + std::strerror(ENOENT));
  if (!s.ok()) return s;
  const LockMode mode = ModeFor(flags);
  // A session that will keep a journal says so with its grant: the session mark.
  const std::string session_dev =
      config.journal && mode == LockMode::kWrite ? UndoJournal::DirectoryDevice(path) : "";
  std::shared_ptr<HeldLock> lock;
  s = TakeLock(config, config.key.empty() ? path : config.key, path, mode, session_dev, file, &lock);
  if (!s.ok()) return s;
  LockTable& table = LockTable::ForThisProcess();

  // A fresh exclusive hold starts a write session; a cached one has its next
  // session begun already (LockTable's "Lock caching").
  if (config.journal && mode == LockMode::kWrite) {
    std::shared_ptr<UndoJournal> journal = lock->journal();
    if (!journal) {
      journal = std::make_shared<UndoJournal>(path, lock->lease().token(), lock->fence(), config.durable);
      s = journal->Begin();
      if (s.ok()) lock->set_journal(journal);
    }
    if (s.ok() && (flags & H5F_ACC_TRUNC)) s = journal->BeforeReplace();
    if (!s.ok()) {
      table.Release(lock);
      return s.WithContext("cannot start the write session on '" + file + "'");
    }
  }

  hid_t fapl = H5I_INVALID_HID;
  s = InnerFapl(config.inner, &fapl);
  H5FD_t* inner = nullptr;
  if (s.ok()) {
    ErrorStackGuard keep_errors;
    inner = H5FDopen(name, flags, fapl, maxaddr);
    if (!inner)
      s = Status::IoError("unable to open '" + file + "' with the inner driver '" + config.inner +
                          "' (see the errors below)");
  }
  if (!s.ok()) {
    table.Release(lock);  // a failed open leaves no lock behind (the journal rolls back what TRUNC did not do)
    return s;
  }
  // Defence in depth: also take the inner driver's own (flock) lock, shared
  // or exclusive as ours, without telling HDF5 (which would then mark v3
  // superblocks). HDF5's tools fall back to sec2 when our open fails, and
  // programs that do not use this driver open with sec2: with file locking
  // on, their open now fails while a writer of ours holds the file on this
  // host. Best effort: a file system without flock, or a tool already
  // reading unlocked, must not stop us.
  if (inner->cls->lock) {
    QuietErrors best_effort;
    inner->cls->lock(inner, mode == LockMode::kWrite);
  }
  out->reset(new RedisLockFile(file, config_text, std::move(lock), inner));
  return Status::OK();
}

Status RedisLockFile::Delete(const char* name, const Config& config, const std::string& config_text) {
  std::unique_ptr<RedisLockFile> file;
  Status s = Open(name, H5F_ACC_RDWR, config, config_text, HADDR_UNDEF, &file);
  if (!s.ok()) return s;
  // H5FDdelete needs a fapl of the inner driver; remove the file while the
  // lock is held, before closing (on POSIX the open descriptor stays valid).
  hid_t fapl = H5I_INVALID_HID;
  herr_t rc = -1;
  if (InnerFapl(config.inner, &fapl).ok() && file->inner_->cls->del) {
    ErrorStackGuard keep_errors;
    rc = H5FDdelete(name, fapl);
  }
  Status closed = file->Close(/*may_cache=*/false);
  if (rc < 0) return Status::IoError(std::string("cannot delete '") + name + "' with the inner driver");
  return closed;
}

RedisLockFile::~RedisLockFile() {
  if (inner_) Close();
}

UndoJournal::Transfer RedisLockFile::InnerWrite(H5FD_mem_t type, hid_t dxpl) const {
  return [this, type, dxpl](uint64_t offset, uint64_t size, void* buf) {
    return inner_->cls->write(inner_, type, dxpl, offset, size, buf) < 0 ? InnerFailed("write") : Status::OK();
  };
}

Status RedisLockFile::InnerFailed(const char* what) const {
  const std::string cause = LastPushedCause();
  return Status::IoError(std::string(what) + " failed on '" + name_ + "' in the inner driver" +
                         (cause.empty() ? "" : ": " + cause));
}

Status RedisLockFile::Fail(const Status& s) const {
  if (!s.ok() && journal_) journal_->Poison(s);
  return s;
}

Status RedisLockFile::Read(H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void* buf) const {
  Status s = CheckLock("read");
  if (!s.ok()) return s;
  auto read = [&](uint64_t offset, uint64_t length, void* into) {
    return inner_->cls->read(inner_, type, dxpl, offset, length, into) < 0 ? InnerFailed("read") : Status::OK();
  };
  if (journal_) return journal_->Read(addr, size, buf, read);
  return read(addr, size, buf);
}

Status RedisLockFile::Write(H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void* buf) {
  Status s = CheckLock("write");
  if (!s.ok()) return s;
  TestSeams::CountWrite();
  if (journal_) return Fail(journal_->Write(addr, size, buf, InnerWrite(type, dxpl)));
  return InnerWrite(type, dxpl)(addr, size, const_cast<void*>(buf));
}

Status RedisLockFile::Flush(hid_t dxpl, bool closing) {
  Status s = CheckLock("flush");
  if (!s.ok()) return s;
  if (journal_) s = journal_->Flush(InnerWrite(H5FD_MEM_DEFAULT, dxpl));
  if (!s.ok() || !inner_->cls->flush) return Fail(s);
  return Fail(inner_->cls->flush(inner_, dxpl, closing) < 0 ? InnerFailed("flush") : Status::OK());
}

Status RedisLockFile::Truncate(hid_t dxpl, bool closing) {
  if (!inner_->cls->truncate) return Status::OK();
  Status s = CheckLock("truncate");
  if (!s.ok()) return s;
  // The inner driver truncates to its end of allocated space.
  if (journal_) s = journal_->BeforeTruncate(inner_->cls->get_eoa(inner_, H5FD_MEM_DEFAULT));
  if (!s.ok()) return Fail(s);
  return Fail(inner_->cls->truncate(inner_, dxpl, closing) < 0 ? InnerFailed("truncate") : Status::OK());
}

// The last close of a session: commits it if the lock is still ours and
// every write made it. A poisoned session (or one whose commit fails before
// its commit point) is rolled back now, under the lock, and the close fails
// saying so; if even that fails, the journal stays for the next holder.
Status RedisLockFile::Finish(const std::shared_ptr<UndoJournal>& journal, bool keep, bool* clean) const {
  // A cached lock's finisher, set by the close of the session before this
  // one, would remove this session's journal a second time: this close
  // decides anew (a new finisher if it keeps the lock, none if it commits).
  lock_->set_finisher(nullptr);
  if (!journal) return Status::OK();
  Status valid = CheckLock("commit");
  if (!valid.ok()) return valid;  // not ours to commit nor to roll back
  if (journal->poisoned().ok()) {
    const UndoJournal::Transfer no_more_writes = [](uint64_t, uint64_t, void*) {
      return Status::Internal("write after the file was closed");  // flushed at close
    };
    // Kept for the next open of a cached lock: the journal begins the next
    // session now, so that the session mark never names a missing journal.
    if (keep && (!journal->touched() || journal->Restart(no_more_writes).ok())) {
      lock_->set_finisher([journal](bool* finished_clean) {
        Status discarded = journal->Discard();
        *finished_clean = discarded.ok();
        return discarded;
      });
      return Status::OK();
    }
    Status committed = journal->Commit(no_more_writes);
    *clean = committed.ok();
    if (committed.ok() || committed.code() == Status::Code::kLockLost) return committed;
    journal->Poison(committed);
  }
  const std::string failed = "the write session on '" + name_ + "' failed (" + journal->poisoned().message() + ")";
  Status undone = journal->RollBack([this] { return CheckLock("rolling back a failed session"); });
  if (!undone.ok())
    return Status::IoError(failed + ", and rolling it back failed too (" + undone.message() +
                           "): its journal stays, for the next holder of the lock to roll back");
  Log(LogLevel::kInfo, "rolled back the failed write session on '" + name_ + "'");
  *clean = true;
  return Status::Error(journal->poisoned().code(),
                       failed + ": it was rolled back, and '" + name_ + "' is as it was before the session");
}

Status RedisLockFile::Close(bool may_cache) {
  Status closed;
  if (inner_) {
    // Overwrites held back for durability go out before the file closes.
    if (journal_ && lock_->lease().owned_by_this_process())
      closed = Fail(journal_->Flush(InnerWrite(H5FD_MEM_DEFAULT, H5P_DEFAULT)));
    ErrorStackGuard keep_errors;
    if (H5FDclose(inner_) < 0 && closed.ok()) closed = Fail(InnerFailed("close"));
    inner_ = nullptr;
  }
  // In a child of the process that opened the file, the lock is the parent's.
  if (!lock_->lease().owned_by_this_process()) return closed;
  std::shared_ptr<UndoJournal> journal = journal_;
  Status released =
      LockTable::ForThisProcess().Release(
          lock_, [&](bool keep, bool* clean) { return Finish(journal, keep, clean); }, may_cache);
  // What became of a failed session is the news, and names its cause. HDF5's
  // error stack keeps 32 entries and drops later ones, and the flush before
  // this close filled it with refusals that each repeat that cause: they go,
  // so that this one is kept.
  if (journal && !journal->poisoned().ok() && !released.ok()) {
    H5Eclear2(H5E_DEFAULT);
    return released;
  }
  return closed.ok() ? released : closed;
}

}  // namespace h5redislock
