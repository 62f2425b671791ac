// server_watch.h: noticing at once that a lock server restarted.
//
// A Redis restarted without its data has forgotten every lock and grants
// them again at once, while their holders go on trusting their leases until
// they next renew (lease_keeper.h): without more, two writers could hold one
// file for up to lease/3. So each pool (one server) has a watch: while the
// process holds locks granted in the pool's current term (master_term.h),
// the watch keeps one idle connection to the server and waits for it to
// close. When it does, the watch connects again at once and admits the new
// connection like any other (ConnectionPool::Admit): another run id or
// replication id than the term's (a restart, a failover), or no server at
// all, ends the term and fences every lock granted in it, before a restarted
// server can have granted anything new. The same identity (an idle
// connection closed by the server's `timeout`) changes nothing.
//
// A grant is used only once the watch holds a connection (Ensure, called by
// whoever received the grant): opened before the grant, it is the server
// that granted; opened after it, its identity is checked against the term's,
// which was read when the granting connection was opened. Either way a
// restart after the grant is seen, also one that comes before the watch's
// thread would have connected by itself.
//
// What the watch cannot see: a restart while the path between the holder
// and the server is silent (a network cut, no FIN, no RST). The holder then
// writes on until its lease's local deadline, and the restarted server has
// no entry of it to wait for: it is the restarted server's grants that wait,
// until it has been up for a lease (MasterTerm::GrantUsableAt).
//
// The watch keeps its connection while the process has held a lock there in
// the last 30 s: a process that opens a file, closes it and opens it again a
// few seconds later (as h5pyswmr does on every access) must not pay a
// connect and an INFO before each grant can be used. After that the watch
// holds no connection, and makes no calls: a process done with its files
// leaves the server alone.
//
// Thread-safety: Ensure may be called from any thread. The watch's thread,
// started by the first Ensure, lives as long as the process, and keeps its
// pool alive.
#ifndef H5REDISLOCK_SERVER_WATCH_H_
#define H5REDISLOCK_SERVER_WATCH_H_

#include <memory>
#include <mutex>

#include "base/status.h"

namespace h5redislock {

class ConnectionPool;
class RedisConnection;

class ServerWatch {
 public:
  // `pool` owns the watch.
  explicit ServerWatch(ConnectionPool* pool);
  ~ServerWatch();
  ServerWatch(const ServerWatch&) = delete;
  ServerWatch& operator=(const ServerWatch&) = delete;

  // Returns once the watch holds a connection to the pool's server, opening
  // (and admitting) one now if it has none. An error means the server could
  // not be reached or identified; the pool's term has then ended, unless the
  // caller's deadline (ScopedDeadline) cut the attempt short.
  Status Ensure();

 private:
  void Run();
  // Opens a connection and admits it to the pool; ends the term if either fails.
  Status Connect(std::unique_ptr<RedisConnection>* out);

  ConnectionPool* const pool_;
  std::once_flag started_;
  std::mutex mu_;
  // guarded by mu_; set by Ensure or the thread when null, reset only by the
  // thread (which waits on its socket without holding mu_)
  std::unique_ptr<RedisConnection> conn_;
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_SERVER_WATCH_H_
