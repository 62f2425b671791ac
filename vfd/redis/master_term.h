// master_term.h: one reign of one Redis master, as this process knows it.
//
// A lock is only as good as the data of the master that granted it. When that
// master fails over (Sentinel or the cluster promotes a replica, or it
// restarts), the new master may lack the grant, or a renewal, and give the
// lock to someone else at once. So every lock granted in the old reign is
// fenced (its lease marked lost) as soon as this process sees the reign end,
// whatever the new master holds.
//
// A reign is recognised by the master's identity: its run id (new at every
// start) and its replication id (new whenever a replica is promoted), read
// from INFO on every new connection, with its role, which must be master.
// Connections carry the term they were opened in; a grant enlists its lease
// in the term of the connection that received it.
// Whoever sees the reign end ends the term: the server's watch sees a restart
// (server_watch.h), a new connection meets another identity, a reply says the
// server is a replica, the cluster or Sentinel names another master.
//
// *Young servers.* A Redis restarted without its data has forgotten every
// grant, and grants again at once. The holders from before are fenced when
// their watch sees the restart; but a holder whose path to the server went
// silent during the restart (no FIN, no RST) sees nothing, and writes on
// until its lease's local deadline: 0.8 lease after it sent its last renewal,
// which the old server ran before it died, so before the new one started.
// So a grant of a server that has been up for less than a lease is used only
// once it has been up for a lease (GrantUsableAt): every such holder has
// stopped 0.2 lease before. This needs a start that is never estimated too
// early (ReadServerIdentity rounds the uptime down), and holders whose leases
// are no longer than the lease of the lock being granted. A server that only
// this host can reach (ReadServerReach) has no holder on a silent path: its
// restart closes every client's connection, and each holder's watch sees it
// at once. Its grants wait kRestartGrace.
//
// Thread-safety: all methods are thread-safe.
#ifndef H5REDISLOCK_MASTER_TERM_H_
#define H5REDISLOCK_MASTER_TERM_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "redis/redis_connection.h"

namespace h5redislock {

class ServerWatch;

// Something granted in a master's term that must stop being trusted when the
// term ends: a lock's lease (lock/lock_lease.h). The transport layer knows
// it only as this.
//
// Thread-safety: MarkLost must be thread-safe; terms call it from any thread.
class Fenceable {
 public:
  virtual ~Fenceable() = default;
  // From now on the grant is not to be used, for `reason`.
  virtual void MarkLost(const std::string& reason) = 0;
};

class MasterTerm {
 public:
  // How long a server that only this host can reach must have been up before
  // its grants are used: the time the holders from before a restart have to
  // be fenced by their watch (or the lock's safety margin, if smaller). Long
  // against a thread's wake-up on a loaded machine, short enough that a
  // server started just now (a test's, or `h5redislock run`'s) delays its
  // first grants little. As Redis tells its uptime to the second, it delays
  // grants of a server's first 0.5 to 1.5 s.
  static constexpr std::chrono::milliseconds kRestartGrace{500};

  // `watch` watches the master's server (server_watch.h); it outlives the term.
  explicit MasterTerm(ServerWatch* watch) : watch_(watch) {}
  MasterTerm(const MasterTerm&) = delete;
  MasterTerm& operator=(const MasterTerm&) = delete;

  // Fences `grant` when the term ends. False, and nothing enlisted, if it has
  // ended already: a grant received in an ended term cannot be trusted.
  bool Enlist(const std::shared_ptr<Fenceable>& grant);

  // Ends the term: every enlisted grant is marked lost, with `why` ("Redis at
  // ... was failed over: ...") as the reason.
  void End(const std::string& why);
  bool ended() const;
  // Whether a grant of this term is still in use.
  bool HasGrants() const;
  // Returns once the server's watch would see the term end; an error (and
  // the term ended) if it cannot tell. A grant is used only after this.
  Status Watch() const;

  // The latest moment the master can have started (a connection of the term
  // saw its uptime); unknown until then.
  void NoteServerStart(Clock::time_point started);
  // Whether a grant of a lock with `lease` needs to know who can reach the
  // server (it started less than a lease ago), and the term does not know
  // yet: ask with ReadServerReach on a connection of the term, and note it.
  bool NeedsReach(std::chrono::milliseconds lease) const;
  void NoteReach(bool this_host_only);
  bool OnlyThisHostReaches() const;
  // When a grant of a lock with `lease` and safety `margin` may be used:
  // once the master has been up for a lease, or kRestartGrace (at most the
  // margin) if only this host can reach it (see above); at once if its start
  // was never seen.
  Clock::time_point GrantUsableAt(std::chrono::milliseconds lease, std::chrono::milliseconds margin) const;
  // How long the master has been up, at least (for messages).
  Clock::duration ServerAge() const;

 private:
  enum class Reach { kUnknown, kThisHostOnly, kNetwork };

  ServerWatch* const watch_;
  mutable std::mutex mu_;
  bool ended_ = false;                            // guarded by mu_
  std::vector<std::weak_ptr<Fenceable>> grants_;  // guarded by mu_
  Clock::time_point server_started_ = Clock::time_point::max();  // guarded by mu_; max: never seen
  Reach reach_ = Reach::kUnknown;                                // guarded by mu_
};

// What INFO says of a server: its role ("master", "slave"), the identity of
// its reign ("<run id>/<replication id>"), and the latest moment it can have
// started.
struct ServerIdentity {
  std::string role;
  std::string reign;
  Clock::time_point started;
};

// Reads the identity of the server behind `conn`, in one round trip.
Status ReadServerIdentity(RedisConnection& conn, ServerIdentity* out);

// Whether the server behind `conn` accepts connections from this host only:
// no TCP port (plain or TLS), or bound to loopback addresses only (CONFIG
// GET port, tls-port, bind; one round trip). A server that does not say (its
// user may not run CONFIG) is taken to accept others. An error only if the
// connection failed.
Status ReadServerReach(RedisConnection& conn, bool* this_host_only);

// Reads how many replicas are connected to the master behind `conn` now
// (INFO replication's connected_slaves), in one round trip.
Status ReadConnectedReplicas(RedisConnection& conn, int* out);

}  // namespace h5redislock

#endif  // H5REDISLOCK_MASTER_TERM_H_
