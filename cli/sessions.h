// sessions.h: who is using the embedded Redis server through `run`.
//
// Each `h5redislock run` takes a shared flock on the runtime directory's
// `sessions` file and execs the program with the descriptor, so the lock lives
// exactly as long as the program (and any child that inherits it). Whoever
// wants to stop the server tries an exclusive lock: it is free only when no
// program is left. A program that crashes, or is SIGKILLed, drops its lock
// with its last descriptor, so it never keeps the server up.
#ifndef H5REDISLOCK_CLI_SESSIONS_H_
#define H5REDISLOCK_CLI_SESSIONS_H_

#include <memory>
#include <vector>

#include "base/status.h"
#include "file_lock.h"
#include "runtime_dir.h"

namespace h5redislock {
namespace cli {

// Takes a session (a shared lock on the sessions file).
Status JoinSession(const ServerFiles& files, std::unique_ptr<FileLock>* session);

// True when no session is held (or none was ever taken). On an error, false:
// the caller then does not stop a server that may still be used.
bool SessionsIdle(const ServerFiles& files);

// The pids that took the session locks still held, from /proc/locks (for
// people: a program that forked and exited shows its own, gone pid).
std::vector<long> SessionPids(const ServerFiles& files);

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_SESSIONS_H_
