#include "redis_target.h"

#include <cstdlib>

#include "redis/redis_endpoint.h"
#include "runtime_dir.h"

namespace h5redislock {
namespace cli {
namespace {

std::string Trim(const std::string& s) {
  const char* kSpace = " \t\r\n\f\v";
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

// A config string's items, with url= taken out: the command decides the url.
// The driver's parser (config.h) judges all items later.
struct SplitConfig {
  std::vector<std::string> items;
  std::string url;
  int url_count = 0;
};

SplitConfig Split(const std::string& text) {
  SplitConfig split;
  size_t start = 0;
  while (start <= text.size()) {
    size_t semi = text.find(';', start);
    std::string item = Trim(text.substr(start, semi == std::string::npos ? std::string::npos : semi - start));
    size_t eq = item.find('=');
    if (eq != std::string::npos && Trim(item.substr(0, eq)) == "url") {
      split.url = Trim(item.substr(eq + 1));
      ++split.url_count;
    } else if (!item.empty()) {
      split.items.push_back(item);
    }
    if (semi == std::string::npos) break;
    start = semi + 1;
  }
  return split;
}

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

}  // namespace

std::vector<OptionSpec> TargetOptions() { return {{"--url", true}, {"--config", true}}; }

Status ResolveTarget(const ParsedArgs& args, Target* out) {
  Target target;
  std::string text;
  if (args.Has("--config")) {
    text = args.Value("--config");
    target.config_source = "--config";
  } else if (!Env("HDF5_DRIVER_CONFIG").empty()) {
    text = Env("HDF5_DRIVER_CONFIG");
    target.config_source = "$HDF5_DRIVER_CONFIG";
  } else {
    target.config_source = "the defaults";
  }
  const SplitConfig split = Split(text);
  if (split.url_count > 1) return Status::InvalidArgument("config key 'url' is given twice");
  std::string url;
  if (args.Has("--url")) {
    url = args.Value("--url");
    target.url_source = "--url";
  } else if (split.url_count == 1) {
    url = split.url;
    target.url_source = "url= in " + target.config_source;
  } else if (!Env("H5REDISLOCK_URL").empty()) {
    url = Env("H5REDISLOCK_URL");
    target.url_source = "$H5REDISLOCK_URL";
  } else {
    url = ServerFiles(RuntimeDirPath()).url();
    target.embedded = true;
    target.url_source = "the embedded server";
  }

  std::string rest;
  for (const std::string& item : split.items) rest += ";" + item;
  Status s = ParseConfig("url=" + url + rest, &target.config);
  if (!s.ok()) return s.WithContext("invalid configuration (from " + target.config_source + ")");
  // Programs get a password of the url through their environment, never in
  // a string that may end up in a process listing or a log.
  RedisEndpoint endpoint;
  ParseRedisUrl(url, &endpoint);  // cannot fail: ParseConfig accepted it
  target.url_password = endpoint.password;
  target.config_text = "url=" + (endpoint.password.empty() ? url : endpoint.Describe()) + rest;
  *out = std::move(target);
  return Status::OK();
}

Status Connect(const Target& target, std::unique_ptr<RedisConnection>* conn) {
  // The commands read and change locks on one server; the driver alone routes
  // among a cluster's shards or follows Sentinel.
  if (target.config.redis.topology != RedisEndpoint::Topology::kSingle)
    return Status::InvalidArgument("the h5redislock commands speak to one Redis server, not to " +
                                   target.config.redis.Describe() +
                                   ": give --url redis://<the master that serves the lock>");
  return RedisConnection::Open(target.config.redis, target.config.connect_timeout_s, conn);
}

}  // namespace cli
}  // namespace h5redislock
