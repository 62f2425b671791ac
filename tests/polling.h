// polling.h: waiting in tests for what another process does, when it has no
// way to say so: sleep, and poll a condition with a bound.
#ifndef H5REDISLOCK_TESTS_POLLING_H_
#define H5REDISLOCK_TESTS_POLLING_H_

#include <functional>

namespace h5redislock {
namespace testing {

void SleepSeconds(double s);

// Waits up to `seconds` for `done`, asking every 10 ms; its last value.
bool WaitFor(const std::function<bool()>& done, double seconds);

}  // namespace testing
}  // namespace h5redislock

#endif  // H5REDISLOCK_TESTS_POLLING_H_
