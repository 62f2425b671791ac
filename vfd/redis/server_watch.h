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
// The watch's connection also carries messages to this process: it is
// subscribed (SUBSCRIBE) to the channels given to Subscribe, and a message
// on one goes to its listener, in the watch's thread. A lock's waiter tells
// a process that caches the lock to let it go that way (lock_protocol.cc,
// "Lock caching"). Redis keeps no message for a client that is not
// connected: a listener hears that messages may have been missed (OnLost)
// whenever a subscribed connection goes away, and a new connection is
// subscribed again before it is used.
//
// Thread-safety: Ensure, Subscribe and Subscribed may be called from any
// thread. The watch's thread, started by the first Ensure, lives as long as
// the process, and keeps its pool alive. Listeners are called in it, with no
// lock of the watch held.
#ifndef H5REDISLOCK_SERVER_WATCH_H_
#define H5REDISLOCK_SERVER_WATCH_H_

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/fork_gate.h"
#include "base/status.h"

namespace h5redislock {

class ConnectionPool;
class RedisConnection;

class ServerWatch {
 public:
  // What a subscriber is told (see above). Implementations must not call
  // back into the watch from these.
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void OnMessage(const std::string& message) = 0;
    virtual void OnLost() = 0;
  };

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

  // Messages on `channel` go to `listener` (which must outlive the watch)
  // from now on, once the connection is subscribed: at once if the watch
  // has none yet (the next one is subscribed when it is made), else within
  // a round trip of the watch's thread.
  void Subscribe(const std::string& channel, Listener* listener);
  // Whether the watch's connection is subscribed to `channel` now: then a
  // message published from now on reaches its listener, or the listener
  // hears OnLost.
  bool Subscribed(const std::string& channel);

 private:
  void Run(ForkGate::Busy& busy);
  // Opens a connection and admits it to the pool; ends the term if either
  // fails.
  Status Connect(std::unique_ptr<RedisConnection>* out);
  std::set<std::string> SubscribeNew(RedisConnection* conn);
  // What the watch's connection sent: messages for the listeners, and the
  // confirmations of subscriptions. False if it was closed. REQUIRES mu_.
  bool ReadArrived(std::vector<std::pair<Listener*, std::string>>* messages);
  void Wake();

  ConnectionPool* const pool_;
  std::once_flag started_;
  const int wake_fd_;  // an eventfd: Subscribe wakes the thread's poll
  std::mutex mu_;
  // guarded by mu_; set by Ensure or the thread when null, reset only by the
  // thread (which waits on its socket without holding mu_, and reads it
  // holding it)
  std::unique_ptr<RedisConnection> conn_;
  std::map<std::string, Listener*> listeners_;  // guarded by mu_; by channel
  std::set<std::string> subscribed_;            // guarded by mu_; conn_'s confirmed channels
  std::set<std::string> asked_;                 // guarded by mu_; conn_'s channels asked for
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_SERVER_WATCH_H_
