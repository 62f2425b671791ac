// lock_view.h: one lock's state, as ReadLockSnapshot reads it, for people (a
// summary line and a table of holders and waiters) and for scripts (JSON).
// `status` shows locks this way, and `break` shows the lock it breaks.
#ifndef H5REDISLOCK_CLI_LOCK_VIEW_H_
#define H5REDISLOCK_CLI_LOCK_VIEW_H_

#include <string>

#include "lock/lock_protocol.h"

namespace h5redislock {
namespace cli {

// What this host can tell of an entry's process: "alive", "dead", or
// "other host" (then only its lease running out tells).
const char* ProcessState(const LockEntry& entry);

std::string LockText(const LockSnapshot& lock);
std::string LockJson(const LockSnapshot& lock);

}  // namespace cli
}  // namespace h5redislock

#endif  // H5REDISLOCK_CLI_LOCK_VIEW_H_
