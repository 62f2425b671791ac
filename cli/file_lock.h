// file_lock.h: an flock(2) lock on a file, held while the object lives.
//
// flock locks belong to the open file description, not the process: a
// descriptor inherited across fork and exec keeps the lock, and the lock goes
// when the last process holding the descriptor closes it or dies. The
// embedded server relies on both: `run` hands its session lock to the program
// it execs, and a crashed program never leaves a lock behind.
#ifndef H5REDISLOCK_CLI_FILE_LOCK_H_
#define H5REDISLOCK_CLI_FILE_LOCK_H_

#include <memory>
#include <string>

#include "base/status.h"

namespace h5redislock {
namespace cli {

class FileLock {
 public:
  enum class Mode { kShared, kExclusive };

  // Opens `path` (creating it, mode 0600) and locks it, waiting as long as it
  // takes.
  static Status Wait(const std::string& path, Mode mode, std::unique_ptr<FileLock>* out);
  // Like Wait, but does not wait: *out stays empty when someone else holds a
  // conflicting lock.
  static Status Try(const std::string& path, Mode mode, std::unique_ptr<FileLock>* out);

  ~FileLock();  // closes the descriptor, which releases the lock
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // Lets the descriptor, and so the lock, pass into a program this process
  // execs (descriptors are opened close-on-exec).
  Status KeepAcrossExec();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  static Status Lock(const std::string& path, Mode mode, bool wait, std::unique_ptr<FileLock>* out);

  int fd_;
};

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_FILE_LOCK_H_
