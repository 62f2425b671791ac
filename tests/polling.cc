#include "polling.h"

#include <chrono>
#include <thread>

#include "test_support.h"

namespace h5redislock {
namespace testing {

void SleepSeconds(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

bool WaitFor(const std::function<bool()>& done, double seconds) {
  const double until = MonotonicSeconds() + seconds;
  while (!done()) {
    if (MonotonicSeconds() > until) return done();
    SleepSeconds(0.01);
  }
  return true;
}

}  // namespace testing
}  // namespace h5redislock
