#include "sentinel_fixture.h"

#include <stdexcept>
#include <thread>

namespace h5redislock {
namespace testing {
namespace {

constexpr double kSettleSeconds = 30;

// The value of `field` in an INFO reply or a flat field/value list.
std::string Field(const std::string& text, const std::string& field, char separator) {
  size_t at = 0;
  const std::string key = field + separator;
  while ((at = text.find(key, at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      size_t start = at + key.size();
      return text.substr(start, text.find_first_of("\r\n", start) - start);
    }
    at += key.size();
  }
  return {};
}

}  // namespace

LocalSentinels::LocalSentinels(int replicas, int sentinels) {
  servers_.push_back(std::make_unique<RedisServer>(std::vector<std::string>{}, /*tcp=*/true));
  const std::string master_port = std::to_string(servers_[0]->port());
  for (int i = 0; i < replicas; ++i)
    servers_.push_back(std::make_unique<RedisServer>(
        std::vector<std::string>{"--replicaof", "127.0.0.1", master_port}, /*tcp=*/true));
  const std::string config = std::string("sentinel monitor ") + kMasterName + " 127.0.0.1 " + master_port +
                             " 2\nsentinel down-after-milliseconds " + kMasterName +
                             " 1000\nsentinel failover-timeout " + kMasterName + " 10000\n";
  for (int i = 0; i < sentinels; ++i)
    sentinels_.push_back(std::make_unique<RedisServer>(std::vector<std::string>{"--sentinel"}, /*tcp=*/true, config));
  WaitFor(0, replicas);
}

std::string LocalSentinels::url() const {
  std::string url = "redis-sentinel://";
  for (size_t i = 0; i < sentinels_.size(); ++i)
    url += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(sentinels_[i]->port());
  return url + "/" + kMasterName;
}

size_t LocalSentinels::NamedMaster(size_t sentinel) const {
  std::string reply = sentinels_[sentinel]->Command({"SENTINEL", "get-master-addr-by-name", kMasterName});
  int port = std::atoi(reply.substr(reply.find('\n') + 1).c_str());
  for (size_t i = 0; i < servers_.size(); ++i)
    if (servers_[i]->port() == port) return i;
  throw std::runtime_error("Sentinel names an unknown master: " + reply);
}

size_t LocalSentinels::master() const { return NamedMaster(0); }

void LocalSentinels::WaitFor(size_t master, int replicas) const {
  const double give_up = MonotonicSeconds() + kSettleSeconds;
  const std::string others = std::to_string(sentinels_.size() - 1);
  std::string why;
  while (MonotonicSeconds() < give_up) {
    why.clear();
    for (size_t i = 0; i < sentinels_.size(); ++i) {
      if (NamedMaster(i) != master) why = "a Sentinel names another master";
      // Sentinels that know each other and the replicas can agree on a failover.
      std::string state = sentinels_[i]->Command({"SENTINEL", "MASTER", kMasterName});
      if (Field(state, "num-other-sentinels", '\n') != others) why = "the Sentinels do not know each other yet";
      if (std::atoi(Field(state, "num-slaves", '\n').c_str()) < replicas) why = "a Sentinel does not know the replicas";
    }
    if (Field(servers_[master]->Command({"INFO", "replication"}), "role", ':') != "master") why = "not master yet";
    int replicating = 0;
    for (size_t i = 0; i < servers_.size(); ++i) {
      if (i == master || !servers_[i]->running()) continue;
      std::string replication = servers_[i]->Command({"INFO", "replication"});
      replicating += Field(replication, "master_port", ':') == std::to_string(servers_[master]->port()) &&
                     Field(replication, "master_link_status", ':') == "up";
    }
    if (replicating < replicas) why = "too few replicas replicate from the master";
    if (why.empty()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("the Sentinel set-up did not settle: " + why);
}

size_t LocalSentinels::FailOver() {
  const size_t old = master();
  std::string reply = sentinels_[0]->Command({"SENTINEL", "FAILOVER", kMasterName});
  if (reply != "OK") throw std::runtime_error("SENTINEL FAILOVER: " + reply);
  const double give_up = MonotonicSeconds() + kSettleSeconds;
  while (master() == old) {
    if (MonotonicSeconds() > give_up) throw std::runtime_error("the failover did not happen");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // The old master turns replica when a Sentinel next looks at it (up to 10 s).
  WaitFor(master(), static_cast<int>(servers_.size()) - 2);
  return master();
}

size_t LocalSentinels::KillMaster() {
  const size_t old = master();
  servers_[old]->Kill();
  const double give_up = MonotonicSeconds() + kSettleSeconds;
  for (;;) {
    bool all_moved = true;
    for (size_t i = 0; i < sentinels_.size(); ++i) all_moved = all_moved && NamedMaster(i) != old;
    if (all_moved) break;
    if (MonotonicSeconds() > give_up) throw std::runtime_error("no replica took over from the killed master");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  WaitFor(master(), static_cast<int>(servers_.size()) - 2);
  return master();
}

}  // namespace testing
}  // namespace h5redislock
