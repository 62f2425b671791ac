// time_format.h: times for people. Durations ("2.35 s"), points in time of
// Redis's clock shown in local time ("14:03:07.125"), and UTC stamps for log
// lines.
#ifndef H5REDISLOCK_CLI_TIME_FORMAT_H_
#define H5REDISLOCK_CLI_TIME_FORMAT_H_

#include <string>

namespace h5redislock {
namespace cli {

// "0.35 s", "12.40 s", "314 s"; negative durations keep their sign.
std::string FormatSeconds(double seconds);
inline std::string FormatMs(long long ms) { return FormatSeconds(ms / 1000.0); }

// `epoch_ms` in local time, with the date only if it is not the day of `now_ms`.
std::string FormatClockTime(long long epoch_ms, long long now_ms);

// The current time, "2024-05-01T12:00:01.123Z".
std::string UtcStamp();

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_TIME_FORMAT_H_
