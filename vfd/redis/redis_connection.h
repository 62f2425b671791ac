// redis_connection.h: one connection to Redis, and a pool of them per server.
//
// A thin RAII layer over hiredis's synchronous API. Transport failures (the
// server went away, a timeout) become Status::Unavailable and mark the
// connection broken; a broken connection is never reused (hiredis's rule: once
// ctx->err is set, reconnect). An error *reply* from Redis (WRONGTYPE,
// NOSCRIPT, NOPERM) is not a transport failure: it comes back as a reply and
// the connection stays usable. Replies that redirect (MOVED, ASK, READONLY;
// redirection.h) are also noted on the connection, for the router that chose
// it (router.h) to learn from, whoever parsed the reply.
//
// Every connect and command waits at most the connection's timeout
// (connect_timeout), and never past the calling thread's deadline, if it set
// one (ScopedDeadline below).
//
// A pool keeps the term of its server's current reign (master_term.h), in
// which connections are opened and locks granted, and ends it when the
// server restarts or is failed over. Every new connection is identified (run
// id, replication id, role: one INFO round trip per connection, not per
// lock): it must reach a master, and another identity than the term's ends
// the term. The pool's watch (server_watch.h) sees a restart at once.
//
// Thread-safety: a RedisConnection belongs to one thread at a time. A
// ConnectionPool is thread-safe; it lends connections out and takes them back.
#ifndef H5REDISLOCK_REDIS_CONNECTION_H_
#define H5REDISLOCK_REDIS_CONNECTION_H_

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "redis/redirection.h"
#include "redis/redis_endpoint.h"

struct redisContext;
struct redisReply;

namespace h5redislock {

class MasterTerm;
class ServerWatch;

// A time by which every Redis call of the calling thread must end, for as
// long as this object lives (nested ones: the earliest counts). An open
// promises to return within timeout + connect_timeout (README,
// "Guarantees"). Its acquisition connects and sends commands through layers
// that the whole process shares and that know nothing of opens (routers,
// pools, the topology queries of a cluster or Sentinel, the server's watch),
// so rather than pass the bound through each, the acquisition sets it for
// its thread. A connect, a command or a blocking wait of RedisConnection then
// waits no longer than what is left of it, nor than the connection's own
// timeout; once nothing is left, it fails at once and sends nothing.
// Threads that set none (the lease keeper, the watch's thread) are bounded
// by the connection's timeout alone.
class ScopedDeadline {
 public:
  explicit ScopedDeadline(Clock::time_point deadline);
  ~ScopedDeadline();
  ScopedDeadline(const ScopedDeadline&) = delete;
  ScopedDeadline& operator=(const ScopedDeadline&) = delete;

  // The calling thread's deadline; Clock::time_point::max() when it set none.
  static Clock::time_point Current();
  // Whether it comes within `timeout_s` from now: a step that then times out
  // was cut short by it, and proves nothing about the server.
  static bool Cuts(double timeout_s);

 private:
  const Clock::time_point previous_;
};

struct ReplyDeleter {
  void operator()(redisReply* reply) const;
};
struct ContextDeleter {
  void operator()(redisContext* ctx) const;  // redisFree
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
struct TlsDeleter {
  void operator()(void* tls) const;  // FreeTls (tls_library.h)
};
using TlsPtr = std::unique_ptr<void, TlsDeleter>;
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
using Argv = std::vector<std::string>;

// Typed views of a reply. They never throw and never keep pointers into it.
bool IsErrorReply(const redisReply* r);
std::string ReplyString(const redisReply* r);      // string, status or error text; "" otherwise
long long ReplyInteger(const redisReply* r);       // integer, or a string holding one; 0 otherwise
size_t ReplyArraySize(const redisReply* r);
const redisReply* ReplyElement(const redisReply* r, size_t i);  // nullptr when out of range

class RedisConnection {
 public:
  // Connects, authenticates and selects the database, each step bounded by
  // `timeout_s` (and the thread's deadline), as is every later command on
  // the connection. Errors name the endpoint (never the password).
  static Status Open(const RedisEndpoint& endpoint, double timeout_s,
                     std::unique_ptr<RedisConnection>* out);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sends one command and reads its reply: one round trip.
  Status Command(const Argv& argv, Reply* reply);

  // Sends every command, then reads every reply: one round trip for all.
  Status Pipeline(const std::vector<Argv>& commands, std::vector<Reply>* replies);

  // The same, but the replies must all have come by `deadline` (sooner than
  // the command timeout: a schedule's, lease_keeper.h). A reply that has not
  // come by then breaks the connection (it would arrive later and be taken
  // for the answer to the next command).
  Status PipelineUntil(const std::vector<Argv>& commands, Clock::time_point deadline, std::vector<Reply>* replies);

  // Sends one (blocking) command and waits for its reply until `deadline`
  // (or the thread's, if sooner),
  // calling `on_tick` every `tick` while the reply has not come. A reply that
  // has not come by the deadline breaks the connection, as above.
  Status BlockingCommand(const Argv& argv, Clock::time_point deadline, Clock::duration tick,
                         const std::function<void()>& on_tick, Reply* reply);

  // Sends `argv` without waiting for its reply: a release, off the critical
  // path of the close that sends it. Its reply is read before the
  // connection's next command, and logged with `what` if it is an error; a
  // reply that does not come in time breaks the connection then, as any
  // would (the command may or may not have run).
  Status Post(const Argv& argv, std::string what);

  // For a connection that receives what the server pushes (the watch's, in
  // subscribe mode: server_watch.h). Sends `argv`, whose replies come later
  // among the pushed ones...
  Status SendOnly(const Argv& argv);
  // ...and reads every complete reply that has arrived, without waiting for
  // more. An error (and the connection broken) if the server closed it.
  Status ReadArrived(std::vector<Reply>* replies);

  bool broken() const { return broken_; }
  const RedisEndpoint& endpoint() const { return endpoint_; }
  int fd() const;  // the socket, for waiting on it (server_watch.h)

  // The first redirection among the replies read since the last call.
  Redirection TakeRedirection();
  const Redirection& redirection() const { return redirection_; }

  // The master's reign this connection was opened in (set by its pool).
  const std::shared_ptr<MasterTerm>& term() const { return term_; }
  void set_term(std::shared_ptr<MasterTerm> term) { term_ = std::move(term); }

 private:
  RedisConnection(const RedisEndpoint& endpoint, double timeout_s, double socket_timeout_s, ContextPtr ctx,
                  TlsPtr tls);
  Status TransportError(const char* what);
  // Sets the socket's timeout for the next command: the connection's, or
  // what is left before the thread's deadline if less. An error, the
  // connection intact, if nothing is left.
  Status Bound();
  // Writes `commands` out, bounded as above; their replies are read by
  // AwaitReply.
  Status Send(const std::vector<Argv>& commands);
  // The next reply, by `deadline`, calling `on_tick` every `tick` meanwhile.
  Status AwaitReply(Clock::time_point deadline, Clock::duration tick, const std::function<void()>& on_tick,
                    Reply* reply);
  Status Authenticate();
  void Note(const redisReply* reply);
  // Reads the replies of the posted commands (Post).
  Status Drain();

  RedisEndpoint endpoint_;
  const double timeout_s_;
  double socket_timeout_s_;  // the timeout the socket has now (Bound)
  // The context is freed before the TLS session state it uses (members go
  // in reverse order).
  TlsPtr tls_;      // TLS session state (tls_library.h), or null
  ContextPtr ctx_;
  bool broken_ = false;
  Redirection redirection_;
  std::shared_ptr<MasterTerm> term_;
  std::vector<std::string> posted_;  // what each command posted is, oldest first
};

// Connections to one server, kept open between opens of HDF5 files so that an
// uncontended open+close costs two round trips and no connect.
class ConnectionPool : public std::enable_shared_from_this<ConnectionPool> {
 public:
  // Pools are made with make_shared (their watch keeps them).
  ConnectionPool(RedisEndpoint endpoint, double timeout_s);
  ~ConnectionPool();

  // A connection lent out by the pool; it goes back when this is destroyed,
  // unless it broke.
  class Lease {
   public:
    Lease() = default;
    Lease(ConnectionPool* pool, std::unique_ptr<RedisConnection> conn, bool reused)
        : pool_(pool), conn_(std::move(conn)), reused_(reused) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&& other);
    ~Lease();
    RedisConnection* operator->() const { return conn_.get(); }
    RedisConnection& operator*() const { return *conn_; }
    ConnectionPool* pool() const { return pool_; }
    // Taken from the idle list rather than freshly connected: it may have
    // died while idle (a Redis restart), without anyone noticing yet.
    bool reused() const { return reused_; }

   private:
    ConnectionPool* pool_ = nullptr;
    std::unique_ptr<RedisConnection> conn_;
    bool reused_ = false;
  };

  Status Get(Lease* out);

  // Closes the idle connections.
  void DropIdle();
  // The server is known not to be the master of the current term any more
  // (restarted, failed over): ends the term, fencing its locks with `why`;
  // the next connection starts a new one.
  void EndTerm(const std::string& why);
  // Whether a lock granted in the current term is in use (what the watch protects).
  bool HasGrants();
  // Checks that a connection to this pool's server, opened outside it (the
  // watch's), reaches the master of the current term; a new identity ends
  // the term and starts another, as for the pool's own connections.
  Status Admit(RedisConnection* conn);
  const RedisEndpoint& endpoint() const { return endpoint_; }
  double timeout_s() const { return timeout_s_; }
  // The server's watch (server_watch.h), which also carries its messages.
  ServerWatch& watch() { return *watch_; }

 private:
  void Put(std::unique_ptr<RedisConnection> conn);

  const RedisEndpoint endpoint_;
  const double timeout_s_;
  const std::unique_ptr<ServerWatch> watch_;
  std::mutex mu_;
  std::vector<std::unique_ptr<RedisConnection>> idle_;  // guarded by mu_
  std::shared_ptr<MasterTerm> term_;                    // guarded by mu_
  std::string identity_;  // guarded by mu_; the term's master, "" until a connection identified it
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_REDIS_CONNECTION_H_
