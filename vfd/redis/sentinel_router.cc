#include "redis/sentinel_router.h"

#include "redis/reply_error.h"

#include "base/log.h"

namespace h5redislock {

SentinelRouter::SentinelRouter(const RedisEndpoint& endpoint, double timeout_s, ReplicaPolicy policy)
    : Router(timeout_s, policy), endpoint_(endpoint) {}

ConnectionPool* SentinelRouter::master() {
  std::lock_guard<std::mutex> lock(mu_);
  return master_;
}

ConnectionPool* SentinelRouter::PoolFor(int) { return master(); }

Status SentinelRouter::Get(int, ConnectionPool::Lease* out) {
  ConnectionPool* pool = master();
  if (!pool) {
    Status s = Resolve();
    pool = master();
    if (!pool) return s.ok() ? Status::Unavailable("no Sentinel of " + endpoint_.Describe() + " named the master") : s;
  }
  Status s = pool->Get(out);
  if (s.ok()) return s;
  // Unreachable, or not a master any more: Sentinel may have failed it over.
  Resolve();
  ConnectionPool* now = master();
  return now != pool ? now->Get(out) : s;
}

bool SentinelRouter::Learn(const HostPort& node, const Redirection& r) {
  if (r && r.kind != Redirection::Kind::kNotMaster) return false;  // MOVED or ASK: not from a Sentinel set-up
  ConnectionPool* pool;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = nodes_.find(node);
    if (it == nodes_.end()) return false;
    pool = it->second.get();
  }
  if (r) pool->EndTerm("Redis at " + pool->endpoint().Describe() + " was failed over: it answers as a replica");
  Resolve();
  return master() != pool;
}

Status SentinelRouter::Resolve() {
  const auto arrived = Clock::now();
  std::lock_guard<std::mutex> one_at_a_time(resolve_mu_);
  // A resolution that started after we arrived has seen what we saw.
  if (last_resolve_ > arrived) return Status::OK();
  last_resolve_ = Clock::now();
  Status s;
  for (const HostPort& sentinel : endpoint_.seeds) {
    HostPort address;
    s = AskSentinel(sentinel, &address);
    if (!s.ok()) {
      Log(LogLevel::kInfo, "cannot ask Sentinel: " + s.message());
      continue;
    }
    ConnectionPool* replaced = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto& pool = nodes_[address];
      if (!pool) pool = std::make_shared<ConnectionPool>(endpoint_.Node(address), timeout_s());
      if (master_ != pool.get()) replaced = master_;
      master_ = pool.get();
    }
    if (replaced) {
      Log(LogLevel::kInfo, "Sentinel names a new master for '" + endpoint_.master_name + "': " + address.Describe());
      replaced->EndTerm("Redis at " + replaced->endpoint().Describe() + " was failed over: Sentinel names " +
                        address.Describe() + " as the master of '" + endpoint_.master_name +
                        "' now");
    }
    return s;
  }
  return s.WithContext("no Sentinel of " + endpoint_.Describe() + " named the master");
}

Status SentinelRouter::AskSentinel(const HostPort& sentinel, HostPort* master) const {
  RedisEndpoint anonymous = endpoint_.Node(sentinel);
  anonymous.user.clear();
  anonymous.password.clear();
  const Argv ask = {"SENTINEL", "get-master-addr-by-name", endpoint_.master_name};
  Reply reply;
  std::unique_ptr<RedisConnection> conn;
  Status s = RedisConnection::Open(anonymous, timeout_s(), &conn);
  if (s.ok()) s = conn->Command(ask, &reply);
  if (s.ok() && IsErrorReply(reply.get()) && ClassifyError(ReplyString(reply.get())) == ReplyError::kNoAuth) {
    s = RedisConnection::Open(endpoint_.Node(sentinel), timeout_s(), &conn);
    if (s.ok()) s = conn->Command(ask, &reply);
  }
  if (!s.ok()) return s;
  const std::string where = "Sentinel at " + sentinel.Describe();
  if (IsErrorReply(reply.get()))
    return Status::Unavailable(where + " refused SENTINEL get-master-addr-by-name: " + ReplyString(reply.get()));
  if (ReplyArraySize(reply.get()) != 2)
    return Status::Unavailable(where + " knows no master named '" + endpoint_.master_name + "'");
  master->host = ReplyString(ReplyElement(reply.get(), 0));
  master->port = static_cast<int>(ReplyInteger(ReplyElement(reply.get(), 1)));
  if (master->host.empty() || master->port <= 0)
    return Status::Unavailable(where + " sent a malformed master address");
  return Status::OK();
}

}  // namespace h5redislock
