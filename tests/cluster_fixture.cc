#include "cluster_fixture.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace h5redislock {
namespace testing {
namespace {

constexpr double kSettleSeconds = 30;

// Runs a program to its end with its output in `log`; its exit status.
int RunProgram(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  return WaitChild(pid);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

// One line of CLUSTER NODES: "<id> <ip:port@bus> <flags> <master id|-> ...
// <link state> <slot ranges...>".
struct LocalCluster::View {
  struct Node {
    std::string id;
    int port = 0;
    bool master = false, failed = false;
    std::string master_id;
    std::vector<std::pair<int, int>> slots;
  };
  std::vector<Node> nodes;
  std::string text;

  const Node* ServerOf(int slot) const {
    for (const Node& n : nodes)
      if (n.master && !n.failed)
        for (auto [first, last] : n.slots)
          if (slot >= first && slot <= last) return &n;
    return nullptr;
  }
  const Node* WithPort(int port) const {
    for (const Node& n : nodes)
      if (n.port == port) return &n;
    return nullptr;
  }
  // Which port serves which slots, for comparing views.
  std::string Map() const {
    std::vector<std::string> items;
    for (const Node& n : nodes)
      if (n.master && !n.failed)
        for (auto [first, last] : n.slots)
          items.push_back(std::to_string(first) + "-" + std::to_string(last) + "@" + std::to_string(n.port));
    std::sort(items.begin(), items.end());
    std::string map;
    for (const auto& i : items) map += i + " ";
    return map;
  }
};

LocalCluster::LocalCluster(int masters, int replicas) {
  std::vector<std::string> create = {CliProgram(), "--cluster", "create"};
  for (int i = 0; i < masters * (1 + replicas); ++i) {
    nodes_.push_back(std::make_unique<RedisServer>(
        std::vector<std::string>{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                 "--cluster-node-timeout", "1000", "--cluster-port", std::to_string(FreeTcpPort())},
        /*tcp=*/true));
    create.push_back("127.0.0.1:" + std::to_string(nodes_.back()->port()));
  }
  create.insert(create.end(), {"--cluster-replicas", std::to_string(replicas), "--cluster-yes"});
  const std::string log = dir_.File("create.log");
  if (RunProgram(create, log) != 0) throw std::runtime_error("cluster create failed:\n" + Slurp(log));
  WaitUntilStable();
}

std::string LocalCluster::url() const {
  std::string url = "redis-cluster://";
  for (size_t i = 0; i < nodes_.size(); ++i)
    url += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(nodes_[i]->port());
  return url;
}

std::string LocalCluster::first_node_url() const {
  return "redis-cluster://127.0.0.1:" + std::to_string(nodes_[0]->port());
}

LocalCluster::View LocalCluster::ViewOf(size_t node) const {
  View view;
  view.text = nodes_[node]->Command({"CLUSTER", "NODES"});
  std::istringstream lines(view.text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    View::Node n;
    std::string address, flags, skip;
    fields >> n.id >> address >> flags >> n.master_id >> skip >> skip >> skip >> skip;
    n.port = std::atoi(address.substr(address.rfind(':') + 1).c_str());
    n.master = flags.find("master") != std::string::npos;
    n.failed = flags.find("fail") != std::string::npos || flags.find("noaddr") != std::string::npos;
    for (std::string range; fields >> range;) {
      if (range.front() == '[') continue;  // importing or migrating
      size_t dash = range.find('-');
      int first = std::atoi(range.c_str());
      n.slots.push_back({first, dash == std::string::npos ? first : std::atoi(range.c_str() + dash + 1)});
    }
    if (n.port > 0) view.nodes.push_back(std::move(n));
  }
  return view;
}

size_t LocalCluster::IndexOfPort(int port) const {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i]->port() == port) return i;
  throw std::runtime_error("no node on port " + std::to_string(port));
}

size_t LocalCluster::AnyLiveNode() const {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i]->running()) return i;
  throw std::runtime_error("every node of the cluster is down");
}

size_t LocalCluster::MasterOf(int slot) const {
  const View view = ViewOf(AnyLiveNode());
  const View::Node* n = view.ServerOf(slot);
  if (!n) throw std::runtime_error("no master serves slot " + std::to_string(slot));
  return IndexOfPort(n->port);
}

size_t LocalCluster::ReplicaOf(size_t master) const {
  View view = ViewOf(AnyLiveNode());
  const View::Node* m = view.WithPort(nodes_[master]->port());
  for (const View::Node& n : view.nodes)
    if (m && !n.master && !n.failed && n.master_id == m->id && nodes_[IndexOfPort(n.port)]->running())
      return IndexOfPort(n.port);
  throw std::runtime_error("the master on port " + std::to_string(nodes_[master]->port()) + " has no live replica");
}

size_t LocalCluster::FailOver(int slot) {
  size_t replica = ReplicaOf(MasterOf(slot));
  std::string reply = nodes_[replica]->Command({"CLUSTER", "FAILOVER"});
  if (reply != "OK") throw std::runtime_error("CLUSTER FAILOVER: " + reply);
  const double give_up = MonotonicSeconds() + kSettleSeconds;
  while (MasterOf(slot) != replica) {
    if (MonotonicSeconds() > give_up) throw std::runtime_error("the failover did not happen");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  WaitUntilStable();
  return replica;
}

size_t LocalCluster::KillMaster(int slot) {
  const size_t master = MasterOf(slot);
  nodes_[master]->Kill();
  const double give_up = MonotonicSeconds() + kSettleSeconds;
  for (;;) {
    const View view = ViewOf(AnyLiveNode());
    const View::Node* n = view.ServerOf(slot);
    if (n && n->port != nodes_[master]->port()) break;
    if (MonotonicSeconds() > give_up) throw std::runtime_error("no replica took over from the killed master");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  WaitUntilStable();
  return MasterOf(slot);
}

void LocalCluster::MigrateSlot(int slot, size_t to, const std::function<void()>& between) {
  const size_t from = MasterOf(slot);
  View view = ViewOf(from);
  const std::string from_id = view.WithPort(nodes_[from]->port())->id;
  const std::string to_id = view.WithPort(nodes_[to]->port())->id;
  const std::string s = std::to_string(slot);
  nodes_[to]->Command({"CLUSTER", "SETSLOT", s, "IMPORTING", from_id});
  nodes_[from]->Command({"CLUSTER", "SETSLOT", s, "MIGRATING", to_id});
  between();
  for (;;) {
    std::string keys = nodes_[from]->Command({"CLUSTER", "GETKEYSINSLOT", s, "100"});
    if (keys.empty()) break;
    std::istringstream lines(keys);
    for (std::string key; std::getline(lines, key);)
      nodes_[from]->Command({"MIGRATE", "127.0.0.1", std::to_string(nodes_[to]->port()), key, "0", "5000"});
  }
  nodes_[to]->Command({"CLUSTER", "SETSLOT", s, "NODE", to_id});
  nodes_[from]->Command({"CLUSTER", "SETSLOT", s, "NODE", to_id});
  for (auto& node : nodes_)
    if (node->running()) node->Command({"CLUSTER", "SETSLOT", s, "NODE", to_id});
  WaitUntilStable();
}

void LocalCluster::WaitUntilStable() const {
  const double give_up = MonotonicSeconds() + kSettleSeconds;
  std::string why;
  while (MonotonicSeconds() < give_up) {
    why.clear();
    std::string map;
    for (const auto& node : nodes_) {
      if (!node->running()) continue;
      const std::string where = "node " + std::to_string(node->port()) + ": ";
      if (node->Command({"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos) why = where + "not ok";
      const std::string replication = node->Command({"INFO", "replication"});
      if (replication.find("role:slave") != std::string::npos &&
          replication.find("master_link_status:up") == std::string::npos)
        why = where + "replica link down";
      std::string its = ViewOf(&node - &nodes_[0]).Map();
      if (map.empty()) map = its;
      if (its != map) why = where + "sees another slot map";
    }
    if (why.empty()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("the cluster did not settle: " + why + "\n" + ViewOf(AnyLiveNode()).text);
}

}  // namespace testing
}  // namespace h5redislock
