#include "redis/cluster_router.h"

#include <algorithm>
#include <iterator>

#include "base/log.h"
#include "redis/hash_slot.h"

namespace h5redislock {

ClusterRouter::ClusterRouter(const RedisEndpoint& endpoint, double timeout_s, ReplicaPolicy policy)
    : Router(timeout_s, policy), endpoint_(endpoint), slots_(kHashSlots, nullptr) {}

ConnectionPool* ClusterRouter::NodeLocked(const HostPort& address) {
  auto& pool = nodes_[address];
  if (!pool) pool = std::make_shared<ConnectionPool>(endpoint_.Node(address), timeout_s());
  return pool.get();
}

ConnectionPool* ClusterRouter::PoolFor(int slot) {
  std::lock_guard<std::mutex> lock(mu_);
  return slots_[slot];
}

Status ClusterRouter::Get(int slot, ConnectionPool::Lease* out) {
  ConnectionPool* pool = PoolFor(slot);
  Status refreshed;
  if (!pool) {
    refreshed = Refresh(nullptr, nullptr);
    pool = PoolFor(slot);
  }
  if (!pool)
    return Status::Unavailable("no master of the cluster " + endpoint_.Describe() + " serves hash slot " +
                               std::to_string(slot) +
                               (refreshed.ok() ? " (is the cluster down?)" : ": " + refreshed.message()));
  Status s = pool->Get(out);
  if (s.ok()) return s;
  // Unreachable, or not a master any more: the cluster may have failed it over.
  const HostPort node{pool->endpoint().host, pool->endpoint().port};
  Refresh(nullptr, &node);
  ConnectionPool* now = PoolFor(slot);
  return now && now != pool ? now->Get(out) : s;
}

Status ClusterRouter::GetNode(const HostPort& address, ConnectionPool::Lease* out) {
  ConnectionPool* pool;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pool = NodeLocked(address);
  }
  return pool->Get(out);
}

bool ClusterRouter::Learn(const HostPort& node, const Redirection& r) {
  if (r.kind == Redirection::Kind::kMoved) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (r.slot >= 0 && r.slot < kHashSlots) slots_[r.slot] = NodeLocked(r.address);
    }
    // The node it names knows best which slots it serves now: ask it first.
    Refresh(&r.address, nullptr);
    return true;
  }
  std::vector<ConnectionPool*> before;
  ConnectionPool* pool;
  {
    std::lock_guard<std::mutex> lock(mu_);
    before = slots_;
    pool = NodeLocked(node);
  }
  if (r.kind == Redirection::Kind::kNotMaster)
    pool->EndTerm("Redis at " + pool->endpoint().Describe() + " was failed over: it answers as a replica");
  Refresh(nullptr, &node);
  std::lock_guard<std::mutex> lock(mu_);
  return slots_ != before;
}

Status ClusterRouter::Refresh(const HostPort* first, const HostPort* avoid) {
  const auto arrived = Clock::now();
  std::lock_guard<std::mutex> one_at_a_time(refresh_mu_);
  // A refresh that started after we arrived has seen what we saw.
  if (last_refresh_ > arrived) return Status::OK();
  last_refresh_ = Clock::now();

  std::vector<HostPort> candidates;
  if (first) candidates.push_back(*first);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (ConnectionPool* master : masters_)
      candidates.push_back({master->endpoint().host, master->endpoint().port});
  }
  candidates.insert(candidates.end(), endpoint_.seeds.begin(), endpoint_.seeds.end());
  if (avoid) {
    candidates.erase(std::remove(candidates.begin(), candidates.end(), *avoid), candidates.end());
    candidates.push_back(*avoid);
  }
  Status s = Status::Unavailable("the cluster has no nodes to ask");
  std::set<HostPort> asked;
  for (const HostPort& node : candidates) {
    if (!asked.insert(node).second) continue;
    std::vector<SlotRange> ranges;
    s = ReadSlots(node, &ranges);
    if (s.ok()) {
      Apply(ranges);
      return s;
    }
    Log(LogLevel::kInfo, "cannot read the slot map: " + s.message());
  }
  return s;
}

Status ClusterRouter::ReadSlots(const HostPort& node, std::vector<SlotRange>* ranges) const {
  // A connection of its own: the node may be a replica (the pools only talk
  // to masters), and this is rare.
  std::unique_ptr<RedisConnection> conn;
  Status s = RedisConnection::Open(endpoint_.Node(node), timeout_s(), &conn);
  if (!s.ok()) return s;
  Reply reply;
  s = conn->Command({"CLUSTER", "SLOTS"}, &reply);
  if (!s.ok()) return s;
  const std::string where = "Redis at " + node.Describe();
  if (IsErrorReply(reply.get()))
    return Status::Unavailable(where + " refused CLUSTER SLOTS (is it a cluster node?): " + ReplyString(reply.get()));
  for (size_t i = 0; i < ReplyArraySize(reply.get()); ++i) {
    const redisReply* range = ReplyElement(reply.get(), i);
    const redisReply* master = ReplyElement(range, 2);
    SlotRange r{static_cast<int>(ReplyInteger(ReplyElement(range, 0))),
                static_cast<int>(ReplyInteger(ReplyElement(range, 1))),
                {ReplyString(ReplyElement(master, 0)), static_cast<int>(ReplyInteger(ReplyElement(master, 1)))}};
    // An empty host is "the node you asked" (it does not know its own address).
    if (r.master.host.empty() || r.master.host == "?") r.master.host = node.host;
    if (r.first < 0 || r.last >= kHashSlots || r.first > r.last || r.master.port <= 0)
      return Status::Unavailable(where + " sent a malformed CLUSTER SLOTS reply");
    ranges->push_back(std::move(r));
  }
  return Status::OK();
}

void ClusterRouter::Apply(const std::vector<SlotRange>& ranges) {
  std::vector<ConnectionPool*> demoted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<ConnectionPool*> slots(kHashSlots, nullptr);
    std::set<ConnectionPool*> masters;
    for (const SlotRange& r : ranges) {
      ConnectionPool* pool = NodeLocked(r.master);
      masters.insert(pool);
      std::fill(slots.begin() + r.first, slots.begin() + r.last + 1, pool);
    }
    std::set_difference(masters_.begin(), masters_.end(), masters.begin(), masters.end(),
                        std::back_inserter(demoted));
    slots_.swap(slots);
    masters_.swap(masters);
  }
  for (ConnectionPool* pool : demoted)
    pool->EndTerm("Redis at " + pool->endpoint().Describe() +
                  " was failed over: the cluster no longer has it as a master");
}

}  // namespace h5redislock
