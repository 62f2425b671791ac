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

std::string LoadEmptyFunction(redisContext* c) {
  const char* library = "#!lua name=h5rl_bench\nredis.register_function('h5rl_bench_empty', function() return 1 end)";
  auto* loaded = static_cast<redisReply*>(redisCommand(c, "FUNCTION LOAD REPLACE %s", library));
  if (!loaded || loaded->type == REDIS_REPLY_ERROR) Fatal("FUNCTION LOAD failed");
  freeReplyObject(loaded);
  return "h5rl_bench_empty";
}

std::vector<std::string> EmptyFunctionCommand(const std::string& name) {
  return {"FCALL", name, "3", "k:lock", "k:q", "k:lease", "token", "w", "10000",
          "4711 123456 0123456789abcdef/4026531836/4026531834 - - node7", "w", "600000"};
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
