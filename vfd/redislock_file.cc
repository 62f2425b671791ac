#include "redislock_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "hdf5_errors.h"
#include "lock_name.h"

namespace h5redislock {
namespace {

LockMode ModeFor(unsigned flags) {
  return flags & (H5F_ACC_RDWR | H5F_ACC_CREAT | H5F_ACC_TRUNC | H5F_ACC_EXCL) ? LockMode::kWrite
                                                                                : LockMode::kRead;
}

// A file access property list for the inner driver: the caller's list with
// the driver replaced. The inner driver is always set explicitly, never left
// to the default, which HDF5_DRIVER=redislock would make this very driver.
class InnerFapl {
 public:
  InnerFapl() : id_(H5Pcreate(H5P_FILE_ACCESS)) {}
  ~InnerFapl() {
    if (id_ >= 0) H5Pclose(id_);
  }
  InnerFapl(const InnerFapl&) = delete;
  InnerFapl& operator=(const InnerFapl&) = delete;

  Status SetDriver(const std::string& inner) {
    if (id_ < 0) return Status::Internal("cannot create a file access property list");
    herr_t rc = inner == "sec2" ? H5Pset_fapl_sec2(id_) : H5Pset_driver_by_name(id_, inner.c_str(), nullptr);
    if (rc < 0) return Status::InvalidArgument("inner='" + inner + "': HDF5 does not know this driver");
    return Status::OK();
  }
  hid_t id() const { return id_; }

 private:
  hid_t id_;
};

}  // namespace

Status RedisLockFile::Open(const char* name, unsigned flags, const Config& config, const std::string& config_text,
                           haddr_t maxaddr, std::unique_ptr<RedisLockFile>* out) {
  const std::string file = name ? name : "";
  // A file that is not there cannot be opened without CREAT: say so without
  // taking a lock (H5Fcreate probes every new file this way).
  struct stat st;
  if (!(flags & H5F_ACC_CREAT) && stat(file.c_str(), &st) != 0)
    return Status::IoError("unable to open '" + file + "': " + std::strerror(errno));

  std::string lock_name = config.key;
  if (lock_name.empty()) {
    Status s = CanonicalPath(file, &lock_name);
    if (!s.ok()) return s;
  }
  LockTable& table = LockTable::ForThisProcess();
  std::shared_ptr<HeldLock> lock;
  Status s = table.Acquire(config, lock_name, ModeFor(flags), file, &lock);
  if (!s.ok()) return s;

  InnerFapl fapl;
  s = fapl.SetDriver(config.inner);
  H5FD_t* inner = nullptr;
  if (s.ok()) {
    ErrorStackGuard keep_errors;
    inner = H5FDopen(name, flags, fapl.id(), maxaddr);
    if (!inner)
      s = Status::IoError("unable to open '" + file + "' with the inner driver '" + config.inner +
                          "' (see the errors below)");
  }
  if (!s.ok()) {
    table.Release(lock);  // a failed open leaves no lock behind
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
    inner->cls->lock(inner, ModeFor(flags) == LockMode::kWrite);
  }
  out->reset(new RedisLockFile(file, config_text, std::move(lock), inner));
  return Status::OK();
}

RedisLockFile::~RedisLockFile() {
  if (inner_) Close();
}

Status RedisLockFile::Close() {
  Status closed;
  if (inner_) {
    ErrorStackGuard keep_errors;
    if (H5FDclose(inner_) < 0) closed = Status::IoError("the inner driver failed to close '" + name_ + "'");
    inner_ = nullptr;
  }
  // In a child of the process that opened the file, the lock is the parent's.
  Status released = lock_->lease().owned_by_this_process() ? LockTable::ForThisProcess().Release(lock_)
                                                            : Status::OK();
  return closed.ok() ? released : closed;
}

}  // namespace h5redislock
