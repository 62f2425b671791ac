// fd.h: a file descriptor that is closed when its owner goes.
//
// An error return between open(2) and close(2) must not leak the
// descriptor: a long-lived process (the plugin lives as long as its host
// program) opens the same files again and again. Fd owns one descriptor, or
// none (-1), and closes it when destroyed or reset. close(2)'s own error is
// not reported: where a failed close would matter (data to be synced), the
// caller syncs first and checks that.
//
// Thread-safety: none; an Fd belongs to its owner.
#ifndef H5REDISLOCK_FD_H_
#define H5REDISLOCK_FD_H_

#include <unistd.h>

namespace h5redislock {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }

  int get() const { return fd_; }
  // Closes the descriptor held (errno is left alone if there is none), then
  // holds `fd`.
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }
  // Gives up the descriptor held, unclosed.
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_FD_H_
