// test_seams.h: the hooks the crash tests need, compiled to nothing unless
// the build defines H5REDISLOCK_TEST_SEAMS (CMake option of the same name,
// off in Release builds), so that a release build pays nothing for them.
//
//   H5REDISLOCK_TEST_KILL_AFTER_WRITES=k   the process SIGKILLs itself right
//                                          after its k-th write through the driver
#ifndef H5REDISLOCK_TEST_SEAMS_H_
#define H5REDISLOCK_TEST_SEAMS_H_

#ifdef H5REDISLOCK_TEST_SEAMS
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#endif

namespace h5redislock {
namespace TestSeams {

#ifdef H5REDISLOCK_TEST_SEAMS
// Counts writes; kills the process when the count reaches the limit. Called
// *before* the write is made, so "after the k-th write" means the k-th write
// made it to the file and the (k+1)-th did not.
inline void CountWrite() {
  static std::atomic<long> writes{0};
  const char* limit = std::getenv("H5REDISLOCK_TEST_KILL_AFTER_WRITES");
  if (limit && writes.fetch_add(1) + 1 > std::atol(limit)) kill(getpid(), SIGKILL);
}
#else
inline void CountWrite() {}
#endif

}  // namespace TestSeams
}  // namespace h5redislock

#endif  // H5REDISLOCK_TEST_SEAMS_H_
