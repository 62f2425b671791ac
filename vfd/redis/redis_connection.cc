#include "redis/redis_connection.h"

#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "base/log.h"
#include "redis/master_term.h"
#include "redis/server_watch.h"
#include "redis/tls_library.h"

namespace h5redislock {
namespace {

constexpr size_t kMaxIdleConnections = 4;
// Less than this left before the thread's deadline is nothing left: a socket
// timeout of zero would mean none at all.
constexpr double kLeastWait = 0.001;

// The plugin is dlopened, so a thread_local of the default (global-dynamic)
// model lives in dynamic TLS, which LeakSanitizer's stop-the-world scan of
// glibc 2.36 mis-reads and crashes on at exit. Eight bytes of the static TLS
// surplus that glibc keeps for dlopened modules avoid that.
[[gnu::tls_model("initial-exec")]] thread_local Clock::time_point t_deadline = Clock::time_point::max();

// How long the calling thread may wait for one step that the connection
// bounds by `timeout_s`: less if its deadline comes sooner; under kLeastWait
// if that has come.
double Allowance(double timeout_s) {
  if (t_deadline == Clock::time_point::max()) return timeout_s;
  return std::min(timeout_s, std::chrono::duration<double>(t_deadline - Clock::now()).count());
}

Status NoTimeLeft(const RedisEndpoint& endpoint) {
  return Status::Unavailable("Redis at " + endpoint.Describe() +
                             ": not tried, the time for it (timeout + connect_timeout) has run out");
}

timeval ToTimeval(double seconds) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(seconds);
  tv.tv_usec = static_cast<suseconds_t>((seconds - std::floor(seconds)) * 1e6);
  return tv;
}

// Each argument goes over the wire as its own bulk string, so values never
// need quoting and may hold any byte.
void ToArgv(const Argv& argv, std::vector<const char*>* ptrs, std::vector<size_t>* lens) {
  ptrs->clear();
  lens->clear();
  for (const std::string& a : argv) {
    ptrs->push_back(a.data());
    lens->push_back(a.size());
  }
}

// Writing to a connection the server has closed raises SIGPIPE, whose default
// action kills the program we were loaded into. A plain socket is written
// with send(MSG_NOSIGNAL), which raises none (WriteWithoutSigpipe). A TLS
// connection is written by OpenSSL, which we cannot tell so: like libpq,
// block SIGPIPE in the calling thread for the duration of its socket I/O and
// swallow one that our own write caused (one that was pending before is left
// alone). `active` false: nothing to guard (a plain socket).
class SigpipeGuard {
 public:
  explicit SigpipeGuard(bool active = true) : active_(active) {
    if (!active_) return;
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE);
  }
  ~SigpipeGuard() {
    if (!active_) return;
    if (!was_pending_) {
      timespec zero{0, 0};
      while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  const bool active_;
  sigset_t pipe_, old_;
  bool was_pending_ = false;
};

// hiredis's write for plain sockets, but with MSG_NOSIGNAL (see SigpipeGuard).
// Its contract (hiredis.h, redisContextFuncs): the bytes written, 0 to try
// again, < 0 with the context's error set.
ssize_t WriteNoSignal(redisContext* c) {
  const ssize_t n = send(c->fd, c->obuf, sdslen(c->obuf), MSG_NOSIGNAL);
  if (n >= 0) return n;
  if (errno == EINTR || ((errno == EAGAIN || errno == EWOULDBLOCK) && !(c->flags & REDIS_BLOCK))) return 0;
  c->err = REDIS_ERR_IO;
  std::snprintf(c->errstr, sizeof c->errstr, "%s", std::strerror(errno));
  return -1;
}

// Makes `ctx`, a plain (TCP or unix) connection, write with WriteNoSignal:
// a copy of its function table with that one entry changed (the copy of the
// first plain context's table: they all share hiredis's default one).
void WriteWithoutSigpipe(redisContext* ctx) {
  static const redisContextFuncs funcs = [ctx] {
    redisContextFuncs f = *ctx->funcs;
    f.write = WriteNoSignal;
    return f;
  }();
  ctx->funcs = &funcs;
}

}  // namespace

ScopedDeadline::ScopedDeadline(Clock::time_point deadline) : previous_(t_deadline) {
  t_deadline = std::min(t_deadline, deadline);
}

ScopedDeadline::~ScopedDeadline() { t_deadline = previous_; }

Clock::time_point ScopedDeadline::Current() { return t_deadline; }

bool ScopedDeadline::Cuts(double timeout_s) { return Allowance(timeout_s) < timeout_s; }

void ReplyDeleter::operator()(redisReply* reply) const { freeReplyObject(reply); }

bool IsErrorReply(const redisReply* r) { return r && r->type == REDIS_REPLY_ERROR; }

std::string ReplyString(const redisReply* r) {
  if (!r) return {};
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
    case REDIS_REPLY_VERB:
      return std::string(r->str, r->len);
    default:
      return {};
  }
}

long long ReplyInteger(const redisReply* r) {
  if (!r) return 0;
  if (r->type == REDIS_REPLY_INTEGER) return r->integer;
  if (r->type == REDIS_REPLY_STRING) return std::strtoll(r->str, nullptr, 10);
  return 0;
}

size_t ReplyArraySize(const redisReply* r) {
  return r && r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
}

const redisReply* ReplyElement(const redisReply* r, size_t i) {
  return i < ReplyArraySize(r) ? r->element[i] : nullptr;
}

void ContextDeleter::operator()(redisContext* ctx) const { redisFree(ctx); }
void TlsDeleter::operator()(void* tls) const { FreeTls(tls); }

RedisConnection::RedisConnection(const RedisEndpoint& endpoint, double timeout_s, double socket_timeout_s,
                                 ContextPtr ctx, TlsPtr tls)
    : endpoint_(endpoint),
      timeout_s_(timeout_s),
      socket_timeout_s_(socket_timeout_s),
      tls_(std::move(tls)),
      ctx_(std::move(ctx)) {}

int RedisConnection::fd() const { return ctx_->fd; }

RedisConnection::~RedisConnection() = default;

Status RedisConnection::Open(const RedisEndpoint& endpoint, double timeout_s,
                             std::unique_ptr<RedisConnection>* out) {
  SigpipeGuard no_sigpipe(endpoint.transport == RedisEndpoint::Transport::kTls);
  const std::string where = "Redis at " + endpoint.Describe();
  // The connect, and the TLS handshake, which the socket's timeout bounds.
  const double allowed = Allowance(timeout_s);
  if (allowed < kLeastWait) return NoTimeLeft(endpoint);
  timeval tv = ToTimeval(allowed);
  redisOptions options{};
  if (endpoint.transport == RedisEndpoint::Transport::kUnix) {
    REDIS_OPTIONS_SET_UNIX(&options, endpoint.socket_path.c_str());
  } else {
    REDIS_OPTIONS_SET_TCP(&options, endpoint.host.c_str(), endpoint.port);
  }
  options.connect_timeout = &tv;
  options.command_timeout = &tv;
  ContextPtr ctx(redisConnectWithOptions(&options));
  if (!ctx) return Status::Unavailable(where + ": out of memory creating a connection");
  if (ctx->err) return Status::Unavailable(where + " is unreachable: " + ctx->errstr);
  // Programs that a child execs must not inherit our sockets.
  if (ctx->fd >= 0) {
    int flags = fcntl(ctx->fd, F_GETFD);
    if (flags >= 0) fcntl(ctx->fd, F_SETFD, flags | FD_CLOEXEC);
  }

  TlsPtr tls;
  if (endpoint.transport == RedisEndpoint::Transport::kTls) {
    void* started = nullptr;
    Status s = StartTls(ctx.get(), endpoint, &started);
    if (!s.ok()) return s;
    tls.reset(started);
  } else {
    WriteWithoutSigpipe(ctx.get());
  }

  std::unique_ptr<RedisConnection> conn(
      new RedisConnection(endpoint, timeout_s, allowed, std::move(ctx), std::move(tls)));
  Status s = conn->Authenticate();
  if (!s.ok()) return s;
  *out = std::move(conn);
  return Status::OK();
}

Status RedisConnection::Authenticate() {
  const std::string where = "Redis at " + endpoint_.Describe();
  Reply reply;
  if (!endpoint_.password.empty()) {
    Argv auth = {"AUTH"};
    if (!endpoint_.user.empty()) auth.push_back(endpoint_.user);
    auth.push_back(endpoint_.password);
    Status s = Command(auth, &reply);
    if (!s.ok()) return s;
    // Redis's own message (WRONGPASS ...) never repeats the password.
    if (IsErrorReply(reply.get()))
      return Status::Auth(where + " refused the credentials" +
                          (endpoint_.user.empty() ? "" : " of user '" + endpoint_.user + "'") + ": " +
                          ReplyString(reply.get()));
  }
  if (endpoint_.db != 0) {
    Status s = Command({"SELECT", std::to_string(endpoint_.db)}, &reply);
    if (!s.ok()) return s;
    if (IsErrorReply(reply.get()))
      return Status::Auth(where + ": SELECT " + std::to_string(endpoint_.db) + " failed: " +
                          ReplyString(reply.get()));
  }
  return Status::OK();
}

Status RedisConnection::TransportError(const char* what) {
  broken_ = true;
  std::string detail = ctx_->err ? ctx_->errstr : "connection lost";
  if (ctx_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == ETIMEDOUT)) detail = "timed out";
  if (ctx_->err == REDIS_ERR_EOF) detail = "the server closed the connection";
  return Status::Unavailable("Redis at " + endpoint_.Describe() + ": " + what + ": " + detail);
}

Status RedisConnection::Command(const Argv& argv, Reply* reply) {
  std::vector<Argv> one = {argv};
  std::vector<Reply> replies;
  Status s = Pipeline(one, &replies);
  if (s.ok()) *reply = std::move(replies[0]);
  return s;
}

Status RedisConnection::Pipeline(const std::vector<Argv>& commands, std::vector<Reply>* replies) {
  SigpipeGuard no_sigpipe(tls_ != nullptr);
  Status s = Drain();
  if (s.ok()) s = Send(commands);
  if (!s.ok()) return s;
  replies->clear();
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_.get(), &raw) != REDIS_OK || !raw) return TransportError("no reply");
    replies->emplace_back(static_cast<redisReply*>(raw));
    Note(replies->back().get());
  }
  return Status::OK();
}

Status RedisConnection::PipelineUntil(const std::vector<Argv>& commands, Clock::time_point deadline,
                                      std::vector<Reply>* replies) {
  SigpipeGuard no_sigpipe(tls_ != nullptr);
  Status s = Drain();
  if (s.ok()) s = Send(commands);
  replies->clear();
  for (size_t i = 0; s.ok() && i < commands.size(); ++i) {
    replies->emplace_back();
    s = AwaitReply(deadline, Clock::duration::max(), nullptr, &replies->back());
  }
  return s;
}

Status RedisConnection::BlockingCommand(const Argv& argv, Clock::time_point deadline, Clock::duration tick,
                                        const std::function<void()>& on_tick, Reply* reply) {
  SigpipeGuard no_sigpipe(tls_ != nullptr);
  Status s = Drain();
  if (s.ok()) s = Send({argv});
  return s.ok() ? AwaitReply(deadline, tick, on_tick, reply) : s;
}

Status RedisConnection::Post(const Argv& argv, std::string what) {
  SigpipeGuard no_sigpipe(tls_ != nullptr);
  Status s = Send({argv});
  if (s.ok()) posted_.push_back(std::move(what));
  return s;
}

Status RedisConnection::SendOnly(const Argv& argv) {
  SigpipeGuard no_sigpipe(tls_ != nullptr);
  return Send({argv});
}

Status RedisConnection::ReadArrived(std::vector<Reply>* replies) {
  replies->clear();
  pollfd pfd{ctx_->fd, POLLIN, 0};
  const int n = poll(&pfd, 1, 0);
  if (n < 0 && errno != EINTR) return TransportError("waiting for a reply failed");
  if (n > 0 && redisBufferRead(ctx_.get()) != REDIS_OK) return TransportError("reading a reply failed");
  for (;;) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(ctx_.get(), &raw) != REDIS_OK) return TransportError("bad reply");
    if (!raw) return Status::OK();
    replies->emplace_back(static_cast<redisReply*>(raw));
  }
}

Status RedisConnection::Drain() {
  while (!posted_.empty()) {
    Reply reply;
    Status s = AwaitReply(Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(timeout_s_)),
                          Clock::duration::max(), nullptr, &reply);
    if (!s.ok()) return s;
    if (IsErrorReply(reply.get()))
      Log(LogLevel::kInfo, posted_.front() + " failed: Redis at " + endpoint_.Describe() + " answered: " +
                               ReplyString(reply.get()));
    posted_.erase(posted_.begin());
  }
  return Status::OK();
}

Status RedisConnection::Bound() {
  const double allowed = Allowance(timeout_s_);
  if (allowed < kLeastWait) return NoTimeLeft(endpoint_);
  if (allowed != socket_timeout_s_) {
    if (redisSetTimeout(ctx_.get(), ToTimeval(allowed)) != REDIS_OK) return TransportError("setting a timeout failed");
    socket_timeout_s_ = allowed;
  }
  return Status::OK();
}

Status RedisConnection::Send(const std::vector<Argv>& commands) {
  if (broken_) return Status::Unavailable("Redis at " + endpoint_.Describe() + ": connection is broken");
  Status bounded = Bound();
  if (!bounded.ok()) return bounded;
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (const Argv& argv : commands) {
    ToArgv(argv, &ptrs, &lens);
    if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(argv.size()), ptrs.data(), lens.data()) != REDIS_OK)
      return TransportError("sending a command failed");
  }
  int done = 0;
  while (!done) {
    if (redisBufferWrite(ctx_.get(), &done) != REDIS_OK) return TransportError("sending a command failed");
  }
  return Status::OK();
}

Status RedisConnection::AwaitReply(Clock::time_point deadline, Clock::duration tick,
                                   const std::function<void()>& on_tick, Reply* reply) {
  deadline = std::min(deadline, t_deadline);
  for (;;) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(ctx_.get(), &raw) != REDIS_OK) return TransportError("bad reply");
    if (raw) {
      reply->reset(static_cast<redisReply*>(raw));
      Note(reply->get());
      return Status::OK();
    }
    auto now = Clock::now();
    if (now >= deadline) {
      broken_ = true;
      return Status::Unavailable("Redis at " + endpoint_.Describe() + ": no reply in time");
    }
    auto wait = std::min<Clock::duration>(tick, deadline - now);
    pollfd pfd{ctx_->fd, POLLIN, 0};
    int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()) + 1;
    int n = poll(&pfd, 1, ms);
    if (n < 0 && errno != EINTR) return TransportError("waiting for a reply failed");
    if (n > 0) {
      if (redisBufferRead(ctx_.get()) != REDIS_OK) return TransportError("reading a reply failed");
    } else if (on_tick) {
      on_tick();
    }
  }
}

void RedisConnection::Note(const redisReply* reply) {
  if (!redirection_) redirection_ = ParseRedirection(reply);
}

Redirection RedisConnection::TakeRedirection() {
  Redirection r = std::move(redirection_);
  redirection_ = Redirection();
  return r;
}

ConnectionPool::ConnectionPool(RedisEndpoint endpoint, double timeout_s)
    : endpoint_(std::move(endpoint)),
      timeout_s_(timeout_s),
      watch_(std::make_unique<ServerWatch>(this)),
      term_(std::make_shared<MasterTerm>(watch_.get())) {}

ConnectionPool::~ConnectionPool() = default;

ConnectionPool::Lease& ConnectionPool::Lease::operator=(Lease&& other) {
  if (this != &other) {
    if (pool_ && conn_) pool_->Put(std::move(conn_));
    pool_ = other.pool_;
    conn_ = std::move(other.conn_);
    reused_ = other.reused_;
  }
  return *this;
}

ConnectionPool::Lease::~Lease() {
  if (pool_ && conn_) pool_->Put(std::move(conn_));
}

Status ConnectionPool::Get(Lease* out) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      *out = Lease(this, std::move(idle_.back()), true);
      idle_.pop_back();
      return Status::OK();
    }
  }
  std::unique_ptr<RedisConnection> conn;
  Status s = RedisConnection::Open(endpoint_, timeout_s_, &conn);
  if (s.ok()) s = Admit(conn.get());
  if (!s.ok()) return s;
  *out = Lease(this, std::move(conn), false);
  return Status::OK();
}

Status ConnectionPool::Admit(RedisConnection* conn) {
  ServerIdentity id;
  Status s = ReadServerIdentity(*conn, &id);
  if (!s.ok()) return s;
  const std::string& role = id.role;
  if (role != "master") {
    // Whatever reign we knew on this server has certainly ended.
    EndTerm("Redis at " + endpoint_.Describe() + " was failed over: it is a " +
            (role.empty() ? "non-master" : role) + " now");
    return Status::Unavailable("Redis at " + endpoint_.Describe() + " is not a master (role: " + role +
                               "): it was failed over, or the cluster or Sentinel has not caught up yet");
  }
  std::shared_ptr<MasterTerm> ended;
  std::vector<std::unique_ptr<RedisConnection>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!identity_.empty() && identity_ != id.reign) {
      ended = term_;
      term_ = std::make_shared<MasterTerm>(watch_.get());
      dropped.swap(idle_);
    }
    identity_ = id.reign;
    term_->NoteServerStart(id.started);
    conn->set_term(term_);
  }
  // Another process, or the same one in a later reign: whatever it holds,
  // grants made before may be missing.
  if (ended)
    ended->End("Redis at " + endpoint_.Describe() +
               " restarted or was failed over (it has another run or replication id now)");
  return Status::OK();
}


bool ConnectionPool::HasGrants() {
  std::shared_ptr<MasterTerm> term;
  {
    std::lock_guard<std::mutex> lock(mu_);
    term = term_;
  }
  return term->HasGrants();
}

void ConnectionPool::EndTerm(const std::string& why) {
  std::shared_ptr<MasterTerm> ended;
  std::vector<std::unique_ptr<RedisConnection>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ended = term_;
    term_ = std::make_shared<MasterTerm>(watch_.get());
    identity_.clear();
    dropped.swap(idle_);
  }
  ended->End(why);
}

void ConnectionPool::DropIdle() {
  std::vector<std::unique_ptr<RedisConnection>> dropped;
  std::lock_guard<std::mutex> lock(mu_);
  dropped.swap(idle_);
}

void ConnectionPool::Put(std::unique_ptr<RedisConnection> conn) {
  if (conn->broken()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (conn->term() != term_) return;  // opened in a reign that has ended
  if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(conn));
}

}  // namespace h5redislock
