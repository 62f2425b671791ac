#include "file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace h5redislock {
namespace cli {

Status FileLock::Wait(const std::string& path, Mode mode, std::unique_ptr<FileLock>* out) {
  return Lock(path, mode, true, out);
}

Status FileLock::Try(const std::string& path, Mode mode, std::unique_ptr<FileLock>* out) {
  return Lock(path, mode, false, out);
}

Status FileLock::Lock(const std::string& path, Mode mode, bool wait, std::unique_ptr<FileLock>* out) {
  out->reset();
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::IoError("cannot open '" + path + "': " + std::strerror(errno));
  std::unique_ptr<FileLock> lock(new FileLock(fd));
  const int operation = (mode == Mode::kShared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB);
  int rc;
  do {
    rc = flock(fd, operation);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno == EWOULDBLOCK) return Status::OK();
    return Status::IoError("cannot lock '" + path + "': " + std::strerror(errno));
  }
  *out = std::move(lock);
  return Status::OK();
}

FileLock::~FileLock() { close(fd_); }

Status FileLock::KeepAcrossExec() {
  int flags = fcntl(fd_, F_GETFD);
  if (flags < 0 || fcntl(fd_, F_SETFD, flags & ~FD_CLOEXEC) != 0)
    return Status::IoError(std::string("cannot pass a lock to the program: ") + std::strerror(errno));
  return Status::OK();
}

}  // namespace cli
}  // namespace h5redislock
