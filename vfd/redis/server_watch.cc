#include "redis/server_watch.h"

#include <poll.h>

#include <thread>

#include "base/log.h"
#include "redis/redis_connection.h"

namespace h5redislock {
namespace {

constexpr auto kTick = std::chrono::milliseconds(200);
constexpr int kIdleTicks = 150;  // 30 s without grants in use: let the connection go

}  // namespace

ServerWatch::ServerWatch(ConnectionPool* pool) : pool_(pool) {}

ServerWatch::~ServerWatch() = default;

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

Status ServerWatch::Ensure() {
  std::call_once(started_, [this] {
    std::thread([pool = pool_->shared_from_this(), this] { Run(); }).detach();
  });
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (conn_) return Status::OK();
  }
  std::unique_ptr<RedisConnection> fresh;
  Status s = Connect(&fresh);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  if (!conn_) conn_ = std::move(fresh);
  return Status::OK();
}

void ServerWatch::Run() {
  int idle_ticks = 0;
  for (;;) {
    const bool wanted = pool_->HasGrants();
    idle_ticks = wanted ? 0 : idle_ticks + 1;
    std::unique_lock<std::mutex> lock(mu_);
    if (idle_ticks >= kIdleTicks) conn_.reset();
    if (!conn_) {
      lock.unlock();
      std::unique_ptr<RedisConnection> fresh;
      if (!wanted || !Connect(&fresh).ok()) {
        std::this_thread::sleep_for(kTick);
        continue;
      }
      lock.lock();
      if (!conn_) conn_ = std::move(fresh);
      continue;
    }
    const int fd = conn_->fd();
    lock.unlock();
    // An idle connection becomes readable only when the server closes it.
    pollfd pfd{fd, POLLIN | POLLRDHUP, 0};
    if (poll(&pfd, 1, static_cast<int>(kTick.count())) > 0) {
      Log(LogLevel::kDebug, "the watch connection to Redis at " + pool_->endpoint().Describe() + " closed");
      lock.lock();
      conn_.reset();  // and connect again at once, comparing identities
    }
  }
}

}  // namespace h5redislock
