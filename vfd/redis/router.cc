#include "redis/router.h"

#include <cstdio>
#include <thread>

#include "redis/cluster_router.h"
#include "redis/master_term.h"
#include "redis/sentinel_router.h"

namespace h5redislock {
namespace {

// Redirections chase a moving target (a failover, a slot migration); a few
// hops settle any real change, more mean a misconfigured cluster.
constexpr int kMaxMoves = 5;
// Between tries while a slot migrates or the cluster fails a node over.
constexpr auto kTryAgainPause = std::chrono::milliseconds(50);

HostPort NodeOf(const RedisConnection& conn) { return {conn.endpoint().host, conn.endpoint().port}; }

class SingleRouter : public Router {
 public:
  SingleRouter(const RedisEndpoint& endpoint, double timeout_s, ReplicaPolicy policy)
      : Router(timeout_s, policy), pool_(std::make_shared<ConnectionPool>(endpoint, timeout_s)) {}

  Status Get(int, ConnectionPool::Lease* out) override { return pool_->Get(out); }
  ConnectionPool* PoolFor(int) override { return pool_.get(); }

 protected:
  // One server has nowhere else to send a command: its errors are answers.
  bool Learn(const HostPort&, const Redirection&) override { return false; }

 private:
  const std::shared_ptr<ConnectionPool> pool_;
};

}  // namespace

Status Router::GetNode(const HostPort& address, ConnectionPool::Lease*) {
  return Status::Unavailable("Redis redirected a command to " + address.Describe() +
                             " (ASK), which only a cluster does");
}

Status Router::Run(int slot, const Op& op) {
  const auto patience = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(timeout_s_));
  HostPort ask;
  Status s;
  for (int moves = 0;;) {
    ConnectionPool::Lease conn;
    const bool asking = !ask.host.empty();
    s = asking ? GetNode(ask, &conn) : Get(slot, &conn);
    if (!s.ok()) return s;
    conn->TakeRedirection();
    if (asking) {
      Reply ok;
      s = conn->Command({"ASKING"}, &ok);
      if (!s.ok()) return s;
    }
    s = op(*conn);
    // ASK and TRYAGAIN last as long as a migration; the others are hops.
    const Redirection::Kind kind = conn->redirection().kind;
    const bool transient = kind == Redirection::Kind::kAsk || kind == Redirection::Kind::kTryAgain;
    ask = HostPort();
    if (!Reroute(conn, &ask)) return s;
    if (transient ? Clock::now() >= patience : ++moves >= kMaxMoves) return s;
    if (kind == Redirection::Kind::kTryAgain) std::this_thread::sleep_for(kTryAgainPause);
  }
}

bool Router::Reroute(const ConnectionPool::Lease& conn, HostPort* ask) {
  Redirection r = conn->TakeRedirection();
  if (r.kind == Redirection::Kind::kAsk) {
    *ask = r.address;
    return true;
  }
  if (r.kind == Redirection::Kind::kTryAgain) return true;
  if (r) return Learn(NodeOf(*conn), r);
  if (!conn->broken()) return false;  // an answer, perhaps an error one: not ours to retry
  const bool changed = Learn(NodeOf(*conn), r);
  if (!conn.reused()) return changed;
  // It may have died while idle, with the server (a restart): so did the
  // other idle ones.
  conn.pool()->DropIdle();
  return true;
}

bool Router::Redirected(const RedisConnection& conn, const redisReply* reply) {
  Redirection r = ParseRedirection(reply);
  if (!r) return false;
  if (r.kind != Redirection::Kind::kAsk && r.kind != Redirection::Kind::kTryAgain) Learn(NodeOf(conn), r);
  return true;
}

Argv Router::WaitCommand() const {
  if (policy_.replicas <= 0) return {};
  return {"WAIT", std::to_string(policy_.replicas), std::to_string(policy_.wait_ms)};
}

Status Router::CheckWaitReply(RedisConnection& conn, const redisReply* reply, const std::string& what) {
  const std::string where = "Redis at " + conn.endpoint().Describe();
  if (IsErrorReply(reply)) return Status::Unavailable(where + " refused WAIT: " + ReplyString(reply));
  const long long acked = ReplyInteger(reply);
  if (acked >= policy_.replicas) return Status::OK();
  const std::string asked = std::to_string(policy_.replicas);
  // A master whose replicas went to another (a failover) is looked for
  // anew; one that has fewer replicas than asked cannot confirm anything,
  // however often asked: that fails at once. One that has them but is slow
  // to confirm (a replica resyncing, or stopped and not yet dropped) may
  // confirm when asked again.
  int connected = 0;
  if (!Learn(NodeOf(conn), Redirection()) && ReadConnectedReplicas(conn, &connected).ok() &&
      connected < policy_.replicas) {
    const std::string fewer = std::to_string(connected);
    return Status::Unsatisfiable(where + " has " + fewer + " of the " + asked + " replicas asked for (replicas=" +
                                 asked + ") connected, so it cannot confirm " + what + ": set replicas=" + fewer +
                                 " (see Failover in the README for what a failover may then lose) or give that "
                                 "master more replicas");
  }
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%g", policy_.wait_ms / 1000.0);
  return Status::Unavailable(where + ": " + std::to_string(acked) + " of the " + asked +
                             " replicas asked for (replicas=) confirmed " + what + " within " + seconds +
                             " s, so a failover could lose it (is a replica down or slow? see replicas= and "
                             "replica_timeout=)");
}

Status Router::ConfirmReplicated(RedisConnection& conn, const std::string& what) {
  Argv wait = WaitCommand();
  if (wait.empty()) return Status::OK();
  Reply reply;
  Status s = conn.Command(wait, &reply);
  return s.ok() ? CheckWaitReply(conn, reply.get(), what) : s;
}

std::shared_ptr<Router> MakeRouter(const RedisEndpoint& endpoint, double timeout_s, ReplicaPolicy policy) {
  switch (endpoint.topology) {
    case RedisEndpoint::Topology::kCluster: return std::make_shared<ClusterRouter>(endpoint, timeout_s, policy);
    case RedisEndpoint::Topology::kSentinel: return std::make_shared<SentinelRouter>(endpoint, timeout_s, policy);
    case RedisEndpoint::Topology::kSingle: break;
  }
  return std::make_shared<SingleRouter>(endpoint, timeout_s, policy);
}

}  // namespace h5redislock
