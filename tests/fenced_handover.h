// fenced_handover.h: what every failover test checks, whatever failed over.
//
// A holder writes a file under the lock while a waiter queues for it; then
// `fail_over` fails over the Redis master that holds the lock. The holder
// must be refused (fenced) within `fence_within` seconds, the waiter must get
// the lock within `grant_within` seconds, and the holder's last successful
// write must have finished before the waiter's open returned: two writers
// never overlap. `reason`, if not empty, must appear in the holder's refusal.
#ifndef H5REDISLOCK_TESTS_FENCED_HANDOVER_H_
#define H5REDISLOCK_TESTS_FENCED_HANDOVER_H_

#include <functional>
#include <string>

namespace h5redislock {
namespace testing {

struct HandOver {
  std::string path;            // an existing HDF5 file with the dataset "x" (4 ints)
  std::string holder_config;
  std::string waiter_config;
  double fence_within = 10;
  double grant_within = 20;
  std::string reason;
};

void CheckFencedHandOver(const HandOver& h, const std::function<void()>& fail_over);

}  // namespace testing
}  // namespace h5redislock

#endif  // H5REDISLOCK_TESTS_FENCED_HANDOVER_H_
