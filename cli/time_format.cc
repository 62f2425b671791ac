#include "time_format.h"

#include <sys/time.h>

#include <cmath>
#include <cstdio>
#include <ctime>

namespace h5redislock {
namespace cli {
namespace {

tm LocalTime(long long epoch_ms) {
  time_t seconds = static_cast<time_t>(epoch_ms / 1000);
  tm local{};
  localtime_r(&seconds, &local);
  return local;
}

}  // namespace

std::string FormatSeconds(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, std::fabs(seconds) < 100 ? "%.2f s" : "%.0f s", seconds);
  return buf;
}

std::string FormatClockTime(long long epoch_ms, long long now_ms) {
  const tm when = LocalTime(epoch_ms), now = LocalTime(now_ms);
  const bool same_day = when.tm_year == now.tm_year && when.tm_yday == now.tm_yday;
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, same_day ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &when);
  std::snprintf(buf + n, sizeof buf - n, ".%03lld", epoch_ms % 1000);
  return buf;
}

std::string UtcStamp() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm utc{};
  gmtime_r(&tv.tv_sec, &utc);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof buf - n, ".%03ldZ", static_cast<long>(tv.tv_usec / 1000));
  return buf;
}

}  // namespace cli
}  // namespace h5redislock
