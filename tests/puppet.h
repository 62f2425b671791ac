// puppet.h: a child process that holds an HDF5 file open through the driver
// and does what the test tells it, one command at a time, so that a test can
// stop, kill or fail over things around a holder and see what it may still do.
//
// The child opens the file at once (waiting for the lock as the config says),
// then reads commands from a pipe and answers 'y' or 'n':
//   'w'  write the dataset "x" (4 ints) with the next value (100, 101, ...), flush
//   'c'  close the file
//   'o'  open it again, as at first
//   'h'  end HDF5 (H5close), as a program's exit does
//   'q'  exit
// It notes, in memory shared with the test, when its open returned and when
// its last successful write finished (CLOCK_MONOTONIC, see MonotonicSeconds),
// so a test can check that two writers never overlapped, and the HDF5 error
// stack of its last refused command.
#ifndef H5REDISLOCK_TESTS_PUPPET_H_
#define H5REDISLOCK_TESTS_PUPPET_H_

#include <sys/types.h>

#include <string>

#include "test_support.h"

namespace h5redislock {
namespace testing {

class Puppet {
 public:
  Puppet(const std::string& path, const std::string& config, bool for_writing);
  ~Puppet();  // SIGKILLs the child if it still runs
  Puppet(const Puppet&) = delete;
  Puppet& operator=(const Puppet&) = delete;

  // Sends a command; true if the child answered 'y'.
  bool Ask(char command);
  bool Opened();  // the first answer: whether the open succeeded (waits for it)
  pid_t pid() const { return pid_; }
  int Wait();     // the child's exit status (see WaitChild)

  double opened_at() { return times_[0]; }        // 0 until the open succeeded
  double last_write_done() { return times_[1]; }  // 0 until a write succeeded
  std::string last_error() { return &error_[0]; }

 private:
  static constexpr size_t kErrorSize = 8192;
  static int Serve(const std::string& path, const std::string& config, bool for_writing, int in, int out,
                   double* times, char* error);

  SharedArray<double> times_{2};
  SharedArray<char> error_{kErrorSize};
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
};

}  // namespace testing
}  // namespace h5redislock

#endif  // H5REDISLOCK_TESTS_PUPPET_H_
