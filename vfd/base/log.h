// log.h: lock events on stderr, when H5REDISLOCK_LOG asks for them.
//
// H5REDISLOCK_LOG=info prints waits, grants (with the time waited), releases,
// renewal failures and fencing; =debug adds every renewal round. Each line
// carries a UTC timestamp, "h5redislock", the pid and the message. Messages
// are built from Status texts and file names, which never hold a secret.
//
// Thread-safety: thread-safe; a line is written with one write(2).
#ifndef H5REDISLOCK_LOG_H_
#define H5REDISLOCK_LOG_H_

#include <string>

namespace h5redislock {

enum class LogLevel { kOff = 0, kInfo = 1, kDebug = 2 };

// The level from H5REDISLOCK_LOG, read once.
LogLevel CurrentLogLevel();

inline bool LogEnabled(LogLevel level) { return CurrentLogLevel() >= level; }

// Writes one line if `level` is enabled.
void Log(LogLevel level, const std::string& message);

}  // namespace h5redislock

#endif  // H5REDISLOCK_LOG_H_
