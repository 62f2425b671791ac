// server_watch.h: noticing at once that a lock server restarted.
//
// A Redis restarted without its data has forgotten every lock and grants
// them again at once, while their holders go on trusting their leases until
// they next renew (lease_keeper.h): without more, two writers could hold one
// file for up to lease/3. So each connection pool (one per server, or per
// master of a cluster or Sentinel set-up: redis_connection.h) keeps, while a
// lock granted through it is in use, one idle connection to its server and
// waits for that connection to close. When it does, the watch connects again and compares
// the server's run id: a different run id (a restart), or no server at all
// (a killed master, before any failover), ends the pool's term, which loses
// every lease granted there at once (master_term.h), before a restarted
// server can have granted anything new. The same run id (an idle connection
// closed by the server's `timeout`) changes nothing.
//
// What remains: a restart that the watch cannot see close its connection (a
// network cut between the holder and the server during the restart) is only
// caught by the lease, as any cut is.
//
// Thread-safety: Watch may be called from any thread; `on_lost` runs on the
// watch's own thread.
#ifndef H5REDISLOCK_SERVER_WATCH_H_
#define H5REDISLOCK_SERVER_WATCH_H_

#include <functional>
#include <memory>
#include <string>

#include "redis_connection.h"

namespace h5redislock {

// Starts a thread (for the process's lifetime) that watches `pool`'s server
// while `wanted()` (while the process has leases there; otherwise it keeps
// no connection and makes no calls) and calls `on_lost(reason)` whenever that
// server restarted or went away.
void WatchServer(std::shared_ptr<ConnectionPool> pool, std::function<bool()> wanted,
                 std::function<void(const std::string&)> on_lost);

}  // namespace h5redislock

#endif  // H5REDISLOCK_SERVER_WATCH_H_
