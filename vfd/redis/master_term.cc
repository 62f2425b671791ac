#include "redis/master_term.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "base/log.h"
#include "redis/info_field.h"
#include "redis/redis_connection.h"
#include "redis/reply_error.h"
#include "redis/server_watch.h"

namespace h5redislock {
namespace {

// How long the server of `info` (INFO server) has certainly been up. Redis
// counts uptime as the difference of two truncated seconds (now, and its
// start), which can overstate it by up to a second; the fraction of the
// current second on its clock (server_time_usec) takes back what it can.
Clock::duration CertainUptime(const std::string& info) {
  const long long uptime_s = std::atoll(InfoField(info, "uptime_in_seconds").c_str());
  const std::string now_us = InfoField(info, "server_time_usec");
  const long long fraction_us = now_us.empty() ? 0 : std::atoll(now_us.c_str()) % 1000000;
  const Clock::duration certain = std::chrono::seconds(uptime_s - 1) + std::chrono::microseconds(fraction_us);
  return std::max<Clock::duration>(certain, Clock::duration::zero());
}

// Whether an address of Redis's `bind` is one only this host can connect to.
bool IsLoopback(std::string address) {
  if (!address.empty() && address[0] == '-') address.erase(0, 1);  // "-::1": bound if the address exists
  return address.rfind("127.", 0) == 0 || address == "::1" || address == "localhost";
}

// The value of a one-parameter CONFIG GET reply ({name, value}); false for
// an error reply.
bool ConfigValue(const redisReply* reply, std::string* value) {
  if (IsErrorReply(reply)) return false;
  *value = ReplyString(ReplyElement(reply, 1));  // "" for a parameter this server does not have
  return true;
}

}  // namespace

bool MasterTerm::Enlist(const std::shared_ptr<Fenceable>& grant) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ended_) return false;
  grants_.erase(std::remove_if(grants_.begin(), grants_.end(),
                               [](const std::weak_ptr<Fenceable>& g) { return g.expired(); }),
                grants_.end());
  grants_.push_back(grant);
  return true;
}

void MasterTerm::End(const std::string& why) {
  std::vector<std::weak_ptr<Fenceable>> fenced;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return;
    ended_ = true;
    fenced.swap(grants_);
  }
  int locks = 0;
  for (const auto& weak : fenced) {
    if (auto grant = weak.lock()) {
      grant->MarkLost(why);
      ++locks;
    }
  }
  if (locks > 0)
    Log(LogLevel::kInfo, why + ": " + std::to_string(locks) +
                             " lock(s) granted there fenced, I/O on them fails from now on");
}

bool MasterTerm::HasGrants() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::any_of(grants_.begin(), grants_.end(), [](const std::weak_ptr<Fenceable>& g) { return !g.expired(); });
}

Status MasterTerm::Watch() const { return watch_->Ensure(); }

bool MasterTerm::ended() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ended_;
}

void MasterTerm::NoteServerStart(Clock::time_point started) {
  std::lock_guard<std::mutex> lock(mu_);
  // Each is a bound the true start lies before: the earliest is the tightest.
  server_started_ = std::min(server_started_, started);
}

bool MasterTerm::NeedsReach(std::chrono::milliseconds lease) const {
  std::lock_guard<std::mutex> lock(mu_);
  return reach_ == Reach::kUnknown && server_started_ != Clock::time_point::max() &&
         server_started_ + lease > Clock::now();
}

void MasterTerm::NoteReach(bool this_host_only) {
  std::lock_guard<std::mutex> lock(mu_);
  reach_ = this_host_only ? Reach::kThisHostOnly : Reach::kNetwork;
}

bool MasterTerm::OnlyThisHostReaches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reach_ == Reach::kThisHostOnly;
}

Clock::time_point MasterTerm::GrantUsableAt(std::chrono::milliseconds lease, std::chrono::milliseconds margin) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (server_started_ == Clock::time_point::max()) return Clock::time_point::min();
  if (reach_ == Reach::kThisHostOnly) return server_started_ + std::min<Clock::duration>(kRestartGrace, margin);
  return server_started_ + lease;
}

Clock::duration MasterTerm::ServerAge() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (server_started_ == Clock::time_point::max()) return Clock::duration::zero();
  return Clock::now() - server_started_;
}

Status ReadServerIdentity(RedisConnection& conn, ServerIdentity* out) {
  // Two sections in two commands: INFO takes one section before Redis 7.
  std::vector<Reply> replies;
  Status s = conn.Pipeline({{"INFO", "server"}, {"INFO", "replication"}}, &replies);
  if (!s.ok()) return s;
  for (const Reply& r : replies) {
    if (!IsErrorReply(r.get())) continue;
    const std::string error = ReplyString(r.get());
    // INFO is the first command on a connection: a missing password shows here.
    if (ClassifyError(error) == ReplyError::kNoAuth)
      return PasswordRequired("Redis at " + conn.endpoint().Describe(), error);
    return Status::Auth("Redis at " + conn.endpoint().Describe() +
                        " refused INFO, which tells a restart or a failover (the user needs it): " + error);
  }
  const Clock::time_point received = Clock::now();
  const std::string server = ReplyString(replies[0].get()), replication = ReplyString(replies[1].get());
  out->role = InfoField(replication, "role");
  out->reign = InfoField(server, "run_id") + "/" + InfoField(replication, "master_replid");
  out->started = received - CertainUptime(server);
  return Status::OK();
}

Status ReadServerReach(RedisConnection& conn, bool* this_host_only) {
  // One parameter per CONFIG GET: before Redis 7 it takes only one.
  std::vector<Reply> replies;
  Status s = conn.Pipeline({{"CONFIG", "GET", "port"}, {"CONFIG", "GET", "tls-port"}, {"CONFIG", "GET", "bind"}},
                           &replies);
  if (!s.ok()) return s;
  std::string port, tls_port, bind;
  *this_host_only = false;
  if (!ConfigValue(replies[0].get(), &port) || !ConfigValue(replies[1].get(), &tls_port) ||
      !ConfigValue(replies[2].get(), &bind))
    return Status::OK();
  auto listens = [](const std::string& p) { return !p.empty() && p != "0"; };
  if (!listens(port) && !listens(tls_port)) {
    *this_host_only = true;  // a unix socket only
    return Status::OK();
  }
  std::istringstream addresses(bind);
  std::string address;
  bool any = false;
  while (addresses >> address) {
    if (!IsLoopback(address)) return Status::OK();
    any = true;
  }
  *this_host_only = any;
  return Status::OK();
}

Status ReadConnectedReplicas(RedisConnection& conn, int* out) {
  Reply reply;
  Status s = conn.Command({"INFO", "replication"}, &reply);
  if (!s.ok()) return s;
  const std::string connected = InfoField(ReplyString(reply.get()), "connected_slaves");
  if (IsErrorReply(reply.get()) || connected.empty())
    return Status::Unavailable("Redis at " + conn.endpoint().Describe() +
                               " did not tell its replicas (INFO replication): " + ReplyString(reply.get()));
  *out = std::atoi(connected.c_str());
  return Status::OK();
}

}  // namespace h5redislock
