#include "server_watch.h"

#include <poll.h>

#include <thread>

#include "log.h"

namespace h5redislock {
namespace {

constexpr auto kRetry = std::chrono::milliseconds(200);

// The server's run id, which changes with every start; "" if unknown.
std::string RunId(RedisConnection& conn) {
  Reply reply;
  if (!conn.Command({"INFO", "server"}, &reply).ok() || IsErrorReply(reply.get())) return "";
  const std::string info = ReplyString(reply.get());
  const std::string key = "run_id:";
  size_t at = info.find(key);
  if (at == std::string::npos) return "";
  size_t end = info.find_first_of("\r\n", at);
  return info.substr(at + key.size(), end - at - key.size());
}

void Watch(std::shared_ptr<ConnectionPool> pool, std::function<bool()> wanted,
           std::function<void(const std::string&)> on_lost) {
  std::unique_ptr<RedisConnection> conn;
  std::string run_id;
  bool reported = false;  // the current outage was reported already
  for (;;) {
    if (!wanted()) {  // no leases there: nothing to protect, no connection kept
      conn.reset();
      run_id.clear();
      reported = false;
      std::this_thread::sleep_for(kRetry);
      continue;
    }
    if (!conn) {
      std::unique_ptr<RedisConnection> fresh;
      Status s = RedisConnection::Open(pool->endpoint(), pool->timeout_s(), &fresh);
      std::string id = s.ok() ? RunId(*fresh) : "";
      if (!s.ok() || (!run_id.empty() && id != run_id)) {
        if (!reported) {
          on_lost(s.ok() ? "Redis at " + pool->endpoint().Describe() + " restarted (its locks were forgotten)"
                         : "Redis at " + pool->endpoint().Describe() + " went away");
          reported = true;
        }
        if (!s.ok()) {
          std::this_thread::sleep_for(kRetry);
          continue;
        }
      }
      conn = std::move(fresh);
      run_id = id;
      reported = false;
    }
    // An idle connection becomes readable only when the server closes it.
    pollfd pfd{conn->fd(), POLLIN | POLLRDHUP, 0};
    if (poll(&pfd, 1, static_cast<int>(kRetry.count())) > 0) {
      Log(LogLevel::kDebug, "the watch connection to Redis at " + pool->endpoint().Describe() + " closed");
      conn.reset();
    }
  }
}

}  // namespace

void WatchServer(std::shared_ptr<ConnectionPool> pool, std::function<bool()> wanted,
                 std::function<void(const std::string&)> on_lost) {
  // Lives as long as the process.
  std::thread(Watch, std::move(pool), std::move(wanted), std::move(on_lost)).detach();
}

}  // namespace h5redislock
