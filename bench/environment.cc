#include "environment.h"

#include <stdlib.h>

#include <cstdio>
#include <filesystem>

#include "redis/redis_endpoint.h"

namespace h5redislock {
namespace bench {
namespace {

std::string& ScratchDir() {
  static std::string dir;
  return dir;
}

const RedisEndpoint& Endpoint() {
  static const RedisEndpoint endpoint = [] {
    RedisEndpoint parsed;
    Status s = ParseRedisUrl(RedisUrl(), &parsed);
    if (!s.ok()) Fatal("H5REDISLOCK_BENCH_URL: " + s.message());
    return parsed;
  }();
  return endpoint;
}

}  // namespace

void Fatal(const std::string& message) {
  std::fprintf(stderr, "h5redislock bench: %s\n", message.c_str());
  std::exit(2);
}

void UseBuiltPlugin() { setenv("HDF5_PLUGIN_PATH", H5REDISLOCK_PLUGIN_DIR, 1); }

const std::string& RedisUrl() {
  static const std::string url = [] {
    const char* env = getenv("H5REDISLOCK_BENCH_URL");
    if (!env || !*env)
      Fatal("set H5REDISLOCK_BENCH_URL to a private Redis server (scripts/bench starts one and sets it)");
    return std::string(env);
  }();
  return url;
}

std::unique_ptr<RedisConnection> ConnectToRedis() {
  std::unique_ptr<RedisConnection> conn;
  Status s = RedisConnection::Open(Endpoint(), 10, &conn);
  if (!s.ok()) Fatal(s.message());
  return conn;
}

std::string ScratchPath(const std::string& name) {
  std::string& dir = ScratchDir();
  if (dir.empty()) {
    const char* tmp = getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/h5redislock-bench.XXXXXX";
    if (!mkdtemp(tmpl.data())) Fatal("cannot make a scratch directory from " + tmpl);
    dir = tmpl;
  }
  return dir + "/" + name;
}

void RemoveScratch() {
  std::string& dir = ScratchDir();
  if (dir.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  dir.clear();
}

}  // namespace bench
}  // namespace h5redislock
