#include "lock/config.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace h5redislock {
namespace {

std::string_view Trim(std::string_view s) {
  const char* kSpace = " \t\r\n\f\v";
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

Status ParseSeconds(std::string_view key, std::string_view value, double lo, double* out) {
  std::string text(value);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  bool valid = !text.empty() && end == text.c_str() + text.size() && errno == 0 && std::isfinite(v) &&
               v >= lo && v <= 1e9;
  if (!valid) {
    char bound[32];
    std::snprintf(bound, sizeof bound, "%g", lo);
    return Status::InvalidArgument(std::string(key) + "='" + text + "' is not a number of seconds" +
                                   (lo < 0 ? " (-1 means forever)" : std::string(" (at least ") + bound + ")"));
  }
  *out = v;
  return Status::OK();
}

Status ParseCount(std::string_view key, std::string_view value, int* out) {
  int v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || v < 0 || v > 100)
    return Status::InvalidArgument(std::string(key) + "='" + std::string(value) + "' is not a count from 0 to 100");
  *out = v;
  return Status::OK();
}

// A password file is small; reading at most this much keeps a wrong path
// (a device, a huge file) from hanging or exhausting the open.
constexpr std::streamsize kMaxPasswordFile = 4096;

Status ReadPasswordFile(const std::string& path, std::string* password) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("password_file='" + path + "': " + std::strerror(errno));
  std::string text(kMaxPasswordFile + 1, '\0');
  in.read(&text[0], kMaxPasswordFile + 1);
  text.resize(static_cast<size_t>(in.gcount()));
  if (static_cast<std::streamsize>(text.size()) > kMaxPasswordFile)
    return Status::InvalidArgument("password_file='" + path + "' is larger than a password");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) return Status::InvalidArgument("password_file='" + path + "' is empty");
  *password = std::move(text);
  return Status::OK();
}

// A lock name or prefix lands inside Redis key names; braces would move the
// Redis Cluster hash tag, so the prefix may not contain them (lock names are
// escaped instead, see LockKeys).
Status CheckPrefix(const std::string& prefix) {
  if (prefix.find_first_of("{}") != std::string::npos)
    return Status::InvalidArgument("prefix='" + prefix + "' may not contain '{' or '}'");
  return Status::OK();
}

}  // namespace

Status ParseConfig(std::string_view text, Config* out) {
  Config config;
  std::set<std::string> seen;
  std::string url, password_file, user;
  int replicas = -1;  // not given
  while (!text.empty()) {
    size_t semi = text.find(';');
    std::string_view item = Trim(text.substr(0, semi));
    text = semi == std::string_view::npos ? std::string_view() : text.substr(semi + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      return Status::InvalidArgument("config item '" + std::string(item.substr(0, 40)) +
                                     "' is not of the form key=value");
    std::string key(Trim(item.substr(0, eq)));
    std::string_view value = Trim(item.substr(eq + 1));
    if (!seen.insert(key).second) return Status::InvalidArgument("config key '" + key + "' is given twice");
    Status s;
    if (key == "url") {
      url = std::string(value);
    } else if (key == "timeout") {
      s = ParseSeconds(key, value, -1, &config.timeout_s);
      if (s.ok() && config.timeout_s < 0 && config.timeout_s != -1)
        s = Status::InvalidArgument("timeout must be -1 (forever), 0 (never wait) or positive");
    } else if (key == "connect_timeout") {
      s = ParseSeconds(key, value, 0.001, &config.connect_timeout_s);
    } else if (key == "lease") {
      s = ParseSeconds(key, value, 0.5, &config.lease_s);
    } else if (key == "linger") {
      s = ParseSeconds(key, value, 0, &config.linger_s);
    } else if (key == "retain") {
      s = ParseSeconds(key, value, 0, &config.retain_s);
    } else if (key == "prefix") {
      config.prefix = std::string(value);
      s = CheckPrefix(config.prefix);
    } else if (key == "key") {
      if (value.empty()) s = Status::InvalidArgument("key= needs a lock name");
      config.key = std::string(value);
    } else if (key == "inner") {
      config.inner = std::string(value);
      if (config.inner.empty() || config.inner == "redislock")
        s = Status::InvalidArgument("inner='" + config.inner + "': the inner driver must be another driver, e.g. sec2");
    } else if (key == "journal") {
      if (value != "undo" && value != "off") s = Status::InvalidArgument("journal= must be 'undo' or 'off'");
      config.journal = value == "undo";
    } else if (key == "durable") {
      if (value != "0" && value != "1") s = Status::InvalidArgument("durable= must be 0 or 1");
      config.durable = value == "1";
    } else if (key == "replicas") {
      s = ParseCount(key, value, &replicas);
    } else if (key == "replica_timeout") {
      s = ParseSeconds(key, value, 0.001, &config.replica_timeout_s);
    } else if (key == "user") {
      user = std::string(value);
    } else if (key == "password_file") {
      password_file = std::string(value);
    } else if (key == "tls_ca") {
      config.redis.tls.ca_file = std::string(value);
    } else if (key == "tls_cert") {
      config.redis.tls.cert_file = std::string(value);
    } else if (key == "tls_key") {
      config.redis.tls.key_file = std::string(value);
    } else if (key == "tls_server_name") {
      config.redis.tls.server_name = std::string(value);
    } else {
      s = Status::InvalidArgument("unknown config key '" + key +
                                  "' (known: url, timeout, connect_timeout, lease, linger, retain, prefix, key, inner, "
                                  "journal, durable, replicas, replica_timeout, user, password_file, tls_ca, "
                                  "tls_cert, tls_key, tls_server_name)");
    }
    if (!s.ok()) return s;
  }

  // The undo journal reads and writes the named file with POSIX calls, so it
  // needs an inner driver that keeps the file there, byte for byte: sec2.
  if (config.inner != "sec2") {
    if (seen.count("journal") && config.journal)
      return Status::InvalidArgument("journal=undo needs inner=sec2 (the journal undoes writes to the file itself)");
    config.journal = false;
  }
  if (url.empty()) {
    const char* env = std::getenv("H5REDISLOCK_URL");
    url = env && *env ? env : Config::kDefaultUrl;
  }
  Status s = ParseRedisUrl(url, &config.redis);
  if (!s.ok()) return s;
  if (config.redis.transport != RedisEndpoint::Transport::kTls &&
      !(config.redis.tls.ca_file.empty() && config.redis.tls.cert_file.empty() &&
        config.redis.tls.key_file.empty()))
    return Status::InvalidArgument("tls_ca/tls_cert/tls_key need a rediss:// url");
  if (config.redis.tls.cert_file.empty() != config.redis.tls.key_file.empty())
    return Status::InvalidArgument("tls_cert and tls_key must be given together");

  // A failover loses what its new master had not received: by default, wait
  // for one replica wherever the url says failovers happen.
  config.replicas = replicas >= 0 ? replicas : config.redis.topology == RedisEndpoint::Topology::kSingle ? 0 : 1;

  if (!user.empty()) {
    if (!config.redis.user.empty() && config.redis.user != user)
      return Status::InvalidArgument("user='" + user + "' differs from the user in the url");
    config.redis.user = user;
  }
  if (!password_file.empty()) {
    if (!config.redis.password.empty())
      return Status::InvalidArgument("the password is given both in the url and by password_file");
    s = ReadPasswordFile(password_file, &config.redis.password);
    if (!s.ok()) return s;
  } else if (config.redis.password.empty()) {
    const char* env = std::getenv("H5REDISLOCK_PASSWORD");
    if (env && *env) config.redis.password = env;
  }
  *out = std::move(config);
  return Status::OK();
}

std::string Config::Describe() const {
  std::ostringstream s;
  s << "url=" << redis.Describe() << ";timeout=" << timeout_s << ";lease=" << lease_s << ";linger=" << linger_s
    << ";prefix=" << prefix << ";inner=" << inner << ";journal=" << (journal ? "undo" : "off")
    << ";durable=" << durable;
  if (replicas > 0) s << ";replicas=" << replicas << ";replica_timeout=" << replica_timeout_s;
  if (!key.empty()) s << ";key=" << key;
  return s.str();
}

}  // namespace h5redislock
