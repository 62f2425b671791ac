// redislock_file.h: one open HDF5 file behind the redislock driver.
//
// A RedisLockFile owns two things: this process's hold of the file's lock
// (shared with other opens of the same file, see lock_table.h) and the inner
// driver's file, which does the I/O. The order is the point of the driver:
//
//   Open:  parse config -> take the lock -> roll back an unfinished session
//          (or refuse, if a session mark says one may be hidden) -> start our
//          session (undo_journal.h) -> open (create, truncate) inner
//   Close: close inner (HDF5 flushed it before) -> commit (or, for a session
//          whose writes failed, roll back) -> release the lock
//
// so nobody opens, truncates or reads the file without the lock, and the lock
// outlives every byte written under it. I/O calls the inner driver's callbacks
// directly (no public-API round, no copy); the only work added is the lease
// check (lock_lease.h): after the lease's local deadline every read, write,
// flush and truncate fails, since another process may hold the lock by then.
//
// Thread-safety: like every HDF5 driver file, used by one thread at a time
// (HDF5 serialises its API); the lock state it shares is thread-safe.
#ifndef H5REDISLOCK_REDISLOCK_FILE_H_
#define H5REDISLOCK_REDISLOCK_FILE_H_

#include <hdf5.h>
#include <H5FDdevelop.h>

#include <memory>
#include <string>

#include "base/status.h"
#include "journal/undo_journal.h"
#include "lock/config.h"
#include "lock/lock_table.h"

namespace h5redislock {

class RedisLockFile {
 public:
  // Opens `name` as HDF5's open callback asks (`flags` are H5F_ACC_*).
  // `config_text` is kept for fapl_get.
  static Status Open(const char* name, unsigned flags, const Config& config, const std::string& config_text,
                     haddr_t maxaddr, std::unique_ptr<RedisLockFile>* out);
  // Deletes `name` with the inner driver, under the exclusive lock (deleting
  // is writing: no reader has the file open meanwhile).
  static Status Delete(const char* name, const Config& config, const std::string& config_text);
  ~RedisLockFile();
  RedisLockFile(const RedisLockFile&) = delete;
  RedisLockFile& operator=(const RedisLockFile&) = delete;

  // Closes the inner file, then releases the lock (or keeps it cached, if
  // `may_cache` and the table caches it); attempts both and reports the
  // first failure. A deleted file's lock is not cached: the next session's
  // journal, begun at the close, would outlive the file.
  Status Close(bool may_cache = true);

  // OK while I/O is allowed: the lock is still certainly ours.
  Status CheckLock(const char* operation) const { return lock_->CheckValid(operation); }

  // The I/O callbacks: the lease check, the write session's journal, then
  // the inner driver.
  Status Read(H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void* buf) const;
  Status Write(H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void* buf);
  Status Flush(hid_t dxpl, bool closing);
  Status Truncate(hid_t dxpl, bool closing);

  H5FD_t* inner() const { return inner_; }
  const std::string& name() const { return name_; }
  const std::string& config_text() const { return config_text_; }
  LockMode mode() const { return lock_->mode(); }
  long long fence() const { return lock_->fence(); }

 private:
  RedisLockFile(std::string name, std::string config_text, std::shared_ptr<HeldLock> lock, H5FD_t* inner)
      : name_(std::move(name)),
        config_text_(std::move(config_text)),
        lock_(std::move(lock)),
        journal_(lock_->journal()),
        inner_(inner) {}

  static Status TakeLock(const Config& config, const std::string& lock_name, const std::string& path,
                         LockMode mode, const std::string& session_dev, const std::string& file,
                         std::shared_ptr<HeldLock>* out);
  UndoJournal::Transfer InnerWrite(H5FD_mem_t type, hid_t dxpl) const;
  Status InnerFailed(const char* what) const;
  // Returns `s`; a failure poisons the write session (undo_journal.h).
  Status Fail(const Status& s) const;
  Status Finish(const std::shared_ptr<UndoJournal>& journal, bool keep, bool* clean) const;

  const std::string name_;
  const std::string config_text_;
  std::shared_ptr<HeldLock> lock_;
  const std::shared_ptr<UndoJournal> journal_;  // the write session; null when reading or journal=off
  H5FD_t* inner_;  // owned; nullptr once closed
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_REDISLOCK_FILE_H_
