#include "redis/server_watch.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <thread>

#include "base/fork_gate.h"
#include "base/log.h"
#include "redis/redis_connection.h"

namespace h5redislock {
namespace {

constexpr auto kTick = std::chrono::milliseconds(200);
constexpr int kIdleTicks = 150;  // 30 s without grants in use: let the connection go

}  // namespace

ServerWatch::ServerWatch(ConnectionPool* pool) : pool_(pool), wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

ServerWatch::~ServerWatch() = default;  // never destroyed while its thread runs (it keeps the pool)

Status ServerWatch::Connect(std::unique_ptr<RedisConnection>* out) {
  // An Ensure near the end of an open's time (ScopedDeadline) may have too
  // little of it to connect: its failure then says nothing of the server.
  const bool conclusive = !ScopedDeadline::Cuts(pool_->timeout_s());
  Status s = RedisConnection::Open(pool_->endpoint(), pool_->timeout_s(), out);
  if (!s.ok()) {
    if (conclusive) pool_->EndTerm("Redis at " + pool_->endpoint().Describe() + " went away");
    return s;
  }
  // Ends the term itself when the server is another one now.
  s = pool_->Admit(out->get());
  if (!s.ok() && conclusive)
    pool_->EndTerm("Redis at " + pool_->endpoint().Describe() + " could not be identified: " + s.message());
  return s;
}

// Subscribes a connection of the watch's, not yet in use, to every channel
// asked for so far; what it confirmed goes to subscribed_ once it is conn_.
// REQUIRES: `conn` is not conn_ yet.
std::set<std::string> ServerWatch::SubscribeNew(RedisConnection* conn) {
  std::vector<std::string> channels;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& entry : listeners_) channels.push_back(entry.first);
  }
  std::set<std::string> confirmed;
  if (channels.empty()) return confirmed;
  std::vector<Argv> commands;
  for (const std::string& channel : channels) commands.push_back({"SUBSCRIBE", channel});
  std::vector<Reply> replies;
  if (!conn->Pipeline(commands, &replies).ok()) return confirmed;
  for (size_t i = 0; i < channels.size(); ++i) {
    if (ReplyString(ReplyElement(replies[i].get(), 0)) == "subscribe") {
      confirmed.insert(channels[i]);
    } else {
      Log(LogLevel::kInfo, "Redis at " + pool_->endpoint().Describe() + " refused SUBSCRIBE " + channels[i] +
                               " (locks are then not cached: see linger= and ACL in the README): " +
                               ReplyString(replies[i].get()));
    }
  }
  return confirmed;
}

Status ServerWatch::Ensure() {
  std::call_once(started_, [this] {
    ForkGate::StartThread([pool = pool_->shared_from_this(), this](ForkGate::Busy& busy) { Run(busy); });
  });
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (conn_) return Status::OK();
  }
  std::unique_ptr<RedisConnection> fresh;
  Status s = Connect(&fresh);
  if (!s.ok()) return s;
  std::set<std::string> confirmed = SubscribeNew(fresh.get());
  std::lock_guard<std::mutex> lock(mu_);
  if (!conn_) {
    conn_ = std::move(fresh);
    subscribed_ = confirmed;
    asked_ = std::move(confirmed);
  }
  return Status::OK();
}

void ServerWatch::Subscribe(const std::string& channel, Listener* listener) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (listeners_.count(channel)) return;
    listeners_[channel] = listener;
  }
  Wake();
}

bool ServerWatch::Subscribed(const std::string& channel) {
  std::lock_guard<std::mutex> lock(mu_);
  return conn_ && subscribed_.count(channel) > 0;
}

void ServerWatch::Wake() {
  const uint64_t one = 1;
  if (wake_fd_ >= 0 && write(wake_fd_, &one, sizeof one) < 0) {
    // A full counter still wakes the poll.
  }
}

bool ServerWatch::ReadArrived(std::vector<std::pair<Listener*, std::string>>* messages) {
  std::vector<Reply> replies;
  if (!conn_->ReadArrived(&replies).ok()) return false;
  for (const Reply& r : replies) {
    const std::string kind = ReplyString(ReplyElement(r.get(), 0));
    const std::string channel = ReplyString(ReplyElement(r.get(), 1));
    if (kind == "subscribe") {
      subscribed_.insert(channel);
    } else if (kind == "message") {
      auto it = listeners_.find(channel);
      if (it != listeners_.end()) messages->emplace_back(it->second, ReplyString(ReplyElement(r.get(), 2)));
    }
  }
  return true;
}

// `busy` is left while the thread sleeps or polls (fork_gate.h).
void ServerWatch::Run(ForkGate::Busy& busy) {
  int idle_ticks = 0;
  for (;;) {
    busy.Enter();
    const bool wanted = pool_->HasGrants();
    idle_ticks = wanted ? 0 : idle_ticks + 1;
    std::vector<Listener*> lost;
    std::unique_lock<std::mutex> lock(mu_);
    // A connection let go, or closed: what it was subscribed to may have
    // missed messages.
    auto drop = [&] {
      for (const std::string& channel : subscribed_) lost.push_back(listeners_[channel]);
      conn_.reset();
      subscribed_.clear();
      asked_.clear();
    };
    auto tell_lost = [&] {
      lock.unlock();
      for (Listener* listener : lost) listener->OnLost();
      lost.clear();
    };
    if (idle_ticks >= kIdleTicks && conn_) drop();
    if (!conn_) {
      tell_lost();
      std::unique_ptr<RedisConnection> fresh;
      if (!wanted || !Connect(&fresh).ok()) {
        busy.Leave();
        std::this_thread::sleep_for(kTick);
        continue;
      }
      std::set<std::string> confirmed = SubscribeNew(fresh.get());
      lock.lock();
      if (!conn_) {
        conn_ = std::move(fresh);
        subscribed_ = confirmed;
        asked_ = std::move(confirmed);
      }
      continue;
    }
    for (const auto& entry : listeners_) {
      if (asked_.count(entry.first)) continue;
      if (!conn_->SendOnly({"SUBSCRIBE", entry.first}).ok()) break;  // closed: seen below
      asked_.insert(entry.first);
    }
    const int fd = conn_->fd();
    lock.unlock();
    // The connection becomes readable when the server pushes a message, a
    // subscription is confirmed, or the server closes it.
    pollfd pfds[2] = {{fd, POLLIN | POLLRDHUP, 0}, {wake_fd_, POLLIN, 0}};
    busy.Leave();
    const int ready = poll(pfds, wake_fd_ >= 0 ? 2 : 1, static_cast<int>(kTick.count()));
    busy.Enter();
    if (ready <= 0) continue;
    if (pfds[1].revents & POLLIN) {
      uint64_t count;
      if (read(wake_fd_, &count, sizeof count) < 0) {
        // Nothing to read: another wake took it.
      }
    }
    if (!(pfds[0].revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))) continue;
    std::vector<std::pair<Listener*, std::string>> messages;
    lock.lock();
    if (!conn_) continue;
    if (!ReadArrived(&messages)) {
      Log(LogLevel::kDebug, "the watch connection to Redis at " + pool_->endpoint().Describe() + " closed");
      drop();  // and connect again at once, comparing identities
      tell_lost();
      continue;
    }
    lock.unlock();
    for (const auto& [listener, message] : messages) listener->OnMessage(message);
  }
}

}  // namespace h5redislock
