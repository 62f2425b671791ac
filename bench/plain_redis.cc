#include "plain_redis.h"

#include "environment.h"
#include "redis/redis_endpoint.h"

namespace h5redislock {
namespace bench {

redisContext* ConnectPlain() {
  RedisEndpoint endpoint;
  Status s = ParseRedisUrl(RedisUrl(), &endpoint);
  if (!s.ok()) Fatal(s.message());
  redisContext* c = endpoint.transport == RedisEndpoint::Transport::kUnix
                        ? redisConnectUnix(endpoint.socket_path.c_str())
                        : redisConnect(endpoint.host.c_str(), endpoint.port);
  if (!c || c->err) Fatal("cannot connect to " + endpoint.Describe());
  return c;
}

std::string LoadEmptyScript(redisContext* c) {
  auto* loaded = static_cast<redisReply*>(redisCommand(c, "SCRIPT LOAD %s", "return 1"));
  if (!loaded || loaded->type != REDIS_REPLY_STRING) Fatal("SCRIPT LOAD failed");
  std::string sha(loaded->str, loaded->len);
  freeReplyObject(loaded);
  return sha;
}

std::vector<std::string> EmptyScriptCommand(const std::string& sha) {
  return {"EVALSHA", sha, "5", "k:state", "k:lease", "k:queue", "k:held", "k:info",
          "token", "w", "10000", "{}", "1", "600000"};
}

bool Request(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (const std::string& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), ptrs.data(), lens.data()));
  if (!reply) return false;
  const bool ok = reply->type != REDIS_REPLY_ERROR;
  freeReplyObject(reply);
  return ok;
}

}  // namespace bench
}  // namespace h5redislock
