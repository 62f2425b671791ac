#include "redis_endpoint.h"

#include <cctype>
#include <charconv>

namespace h5redislock {
namespace {

bool ParseInt(std::string_view text, int lo, int hi, int* out) {
  int value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < lo || value > hi) return false;
  *out = value;
  return true;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = HexDigit(in[i + 1]), lo = HexDigit(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// Parses "db=N" from a unix URL's query string.
Status ParseUnixQuery(std::string_view query, RedisEndpoint* ep) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.substr(0, 3) == "db=") {
      if (!ParseInt(item.substr(3), 0, 1 << 20, &ep->db))
        return Status::InvalidArgument("url: db must be a non-negative integer");
    } else {
      return Status::InvalidArgument("url: unknown query parameter '" +
                                     std::string(item.substr(0, item.find('='))) +
                                     "' (only db= is known)");
    }
  }
  return Status::OK();
}

Status ParseNetworkUrl(std::string_view rest, RedisEndpoint* ep) {
  // rest = [[user]:password@]host[:port][/db]
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = userinfo.find(':');
    std::string_view user = userinfo.substr(0, colon);
    if (!PercentDecode(user, &ep->user))
      return Status::InvalidArgument("url: bad percent-escape in the user name");
    if (colon != std::string_view::npos &&
        !PercentDecode(userinfo.substr(colon + 1), &ep->password))
      return Status::InvalidArgument("url: bad percent-escape in the password");
  }
  size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !ParseInt(db, 0, 1 << 20, &ep->db))
      return Status::InvalidArgument("url: the database after '/' must be a non-negative integer");
  }
  std::string_view host = hostport;
  if (!hostport.empty() && hostport.front() == '[') {  // [ipv6]:port
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("url: unclosed '[' in host");
    host = hostport.substr(1, close - 1);
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':' || !ParseInt(after.substr(1), 1, 65535, &ep->port))
        return Status::InvalidArgument("url: port must be a number from 1 to 65535");
    }
  } else {
    size_t colon = hostport.rfind(':');
    if (colon != std::string_view::npos) {
      host = hostport.substr(0, colon);
      if (!ParseInt(hostport.substr(colon + 1), 1, 65535, &ep->port))
        return Status::InvalidArgument("url: port must be a number from 1 to 65535");
    }
  }
  if (host.empty()) return Status::InvalidArgument("url: no host name");
  ep->host = std::string(host);
  return Status::OK();
}

}  // namespace

Status ParseRedisUrl(std::string_view url, RedisEndpoint* out) {
  RedisEndpoint ep;
  ep.tls = out->tls;  // TLS files come from separate config keys
  constexpr std::string_view kRedis = "redis://", kRediss = "rediss://", kUnix = "unix://";
  Status s;
  if (url.substr(0, kRedis.size()) == kRedis) {
    s = ParseNetworkUrl(url.substr(kRedis.size()), &ep);
  } else if (url.substr(0, kRediss.size()) == kRediss) {
    ep.transport = RedisEndpoint::Transport::kTls;
    s = ParseNetworkUrl(url.substr(kRediss.size()), &ep);
  } else if (url.substr(0, kUnix.size()) == kUnix) {
    ep.transport = RedisEndpoint::Transport::kUnix;
    std::string_view rest = url.substr(kUnix.size());
    size_t q = rest.find('?');
    ep.socket_path = std::string(rest.substr(0, q));
    if (ep.socket_path.empty() || ep.socket_path.front() != '/')
      return Status::InvalidArgument("url: a unix URL needs an absolute socket path (unix:///path/redis.sock)");
    if (q != std::string_view::npos) s = ParseUnixQuery(rest.substr(q + 1), &ep);
  } else {
    size_t sep = url.find("://");
    return Status::InvalidArgument(
        "url: unknown scheme '" + std::string(url.substr(0, sep == std::string_view::npos ? 0 : sep)) +
        "' (expected redis://, rediss:// or unix://)");
  }
  if (!s.ok()) return s;
  *out = std::move(ep);
  return Status::OK();
}

std::string RedisEndpoint::Describe() const {
  if (transport == Transport::kUnix)
    return "unix://" + socket_path + "?db=" + std::to_string(db);
  std::string s = transport == Transport::kTls ? "rediss://" : "redis://";
  if (!user.empty()) s += user + "@";
  if (host.find(':') != std::string::npos)
    s += "[" + host + "]";
  else
    s += host;
  return s + ":" + std::to_string(port) + "/" + std::to_string(db);
}

std::string RedisEndpoint::PoolKey() const {
  std::string key = Describe();
  for (const std::string* part : {&password, &tls.ca_file, &tls.cert_file, &tls.key_file, &tls.server_name})
    key += '\0' + *part;
  return key;
}

}  // namespace h5redislock
