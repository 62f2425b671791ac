#include "redis/redis_endpoint.h"

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

// Takes "[[user]:password@]" off the front of `rest`, into ep.
Status ParseUserInfo(std::string_view* rest, RedisEndpoint* ep) {
  size_t at = rest->rfind('@');
  if (at == std::string_view::npos) return Status::OK();
  std::string_view userinfo = rest->substr(0, at);
  *rest = rest->substr(at + 1);
  size_t colon = userinfo.find(':');
  if (!PercentDecode(userinfo.substr(0, colon), &ep->user))
    return Status::InvalidArgument("url: bad percent-escape in the user name");
  if (colon != std::string_view::npos && !PercentDecode(userinfo.substr(colon + 1), &ep->password))
    return Status::InvalidArgument("url: bad percent-escape in the password");
  return Status::OK();
}

// host[:port] or [ipv6][:port]; the port stays `default_port` when not given.
Status ParseHostPort(std::string_view hostport, int default_port, HostPort* out) {
  out->port = default_port;
  std::string_view host = hostport;
  std::string_view port;
  bool has_port = false;
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("url: unclosed '[' in host");
    host = hostport.substr(1, close - 1);
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::InvalidArgument("url: port must be a number from 1 to 65535");
      port = after.substr(1);
      has_port = true;
    }
  } else {
    size_t colon = hostport.rfind(':');
    if (colon != std::string_view::npos) {
      host = hostport.substr(0, colon);
      port = hostport.substr(colon + 1);
      has_port = true;
    }
  }
  if (has_port && !ParseInt(port, 1, 65535, &out->port))
    return Status::InvalidArgument("url: port must be a number from 1 to 65535");
  if (host.empty()) return Status::InvalidArgument("url: no host name");
  out->host = std::string(host);
  return Status::OK();
}

// rest = [[user]:password@]host[:port][/db]
Status ParseServerUrl(std::string_view rest, RedisEndpoint* ep) {
  Status s = ParseUserInfo(&rest, ep);
  if (!s.ok()) return s;
  size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !ParseInt(db, 0, 1 << 20, &ep->db))
      return Status::InvalidArgument("url: the database after '/' must be a non-negative integer");
  }
  HostPort address;
  s = ParseHostPort(rest.substr(0, slash), ep->port, &address);
  if (!s.ok()) return s;
  ep->host = address.host;
  ep->port = address.port;
  return Status::OK();
}

// host[:port],host[:port],... into ep->seeds; the first is also ep's host.
Status ParseSeeds(std::string_view list, int default_port, RedisEndpoint* ep) {
  while (true) {
    size_t comma = list.find(',');
    HostPort address;
    Status s = ParseHostPort(list.substr(0, comma), default_port, &address);
    if (!s.ok()) return s;
    ep->seeds.push_back(address);
    if (comma == std::string_view::npos) break;
    list = list.substr(comma + 1);
  }
  ep->host = ep->seeds.front().host;
  ep->port = ep->seeds.front().port;
  return Status::OK();
}

// rest = [[user]:password@]host:port,...[/]
Status ParseClusterUrl(std::string_view rest, RedisEndpoint* ep) {
  ep->topology = RedisEndpoint::Topology::kCluster;
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  Status s = ParseUserInfo(&rest, ep);
  if (!s.ok()) return s;
  if (rest.find('/') != std::string_view::npos)
    return Status::InvalidArgument("url: a Redis Cluster has only database 0 (nothing may follow the nodes)");
  return ParseSeeds(rest, 6379, ep);
}

// rest = [[user]:password@]host[:port],.../mastername
Status ParseSentinelUrl(std::string_view rest, RedisEndpoint* ep) {
  ep->topology = RedisEndpoint::Topology::kSentinel;
  size_t slash = rest.rfind('/');
  if (slash == std::string_view::npos || slash + 1 == rest.size())
    return Status::InvalidArgument("url: a Sentinel url names the master after the sentinels (.../mymaster)");
  ep->master_name = std::string(rest.substr(slash + 1));
  rest = rest.substr(0, slash);
  Status s = ParseUserInfo(&rest, ep);
  if (!s.ok()) return s;
  return ParseSeeds(rest, 26379, ep);
}

}  // namespace

Status ParseRedisUrl(std::string_view url, RedisEndpoint* out) {
  RedisEndpoint ep;
  ep.tls = out->tls;  // TLS files come from separate config keys
  using Transport = RedisEndpoint::Transport;
  struct Scheme {
    std::string_view prefix;
    Transport transport;
    Status (*parse)(std::string_view, RedisEndpoint*);
  };
  static const Scheme kSchemes[] = {
      {"redis://", Transport::kTcp, ParseServerUrl},
      {"rediss://", Transport::kTls, ParseServerUrl},
      {"redis-cluster://", Transport::kTcp, ParseClusterUrl},
      {"rediss-cluster://", Transport::kTls, ParseClusterUrl},
      {"redis-sentinel://", Transport::kTcp, ParseSentinelUrl},
      {"rediss-sentinel://", Transport::kTls, ParseSentinelUrl},
  };
  constexpr std::string_view kUnix = "unix://";
  Status s;
  const Scheme* scheme = nullptr;
  for (const Scheme& candidate : kSchemes)
    if (url.substr(0, candidate.prefix.size()) == candidate.prefix) scheme = &candidate;
  if (scheme) {
    ep.transport = scheme->transport;
    s = scheme->parse(url.substr(scheme->prefix.size()), &ep);
  } else if (url.substr(0, kUnix.size()) == kUnix) {
    ep.transport = Transport::kUnix;
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
        "' (expected redis://, rediss://, unix://, redis-cluster:// or redis-sentinel://)");
  }
  if (!s.ok()) return s;
  *out = std::move(ep);
  return Status::OK();
}

std::string HostPort::Describe() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string RedisEndpoint::Describe() const {
  if (transport == Transport::kUnix)
    return "unix://" + socket_path + "?db=" + std::to_string(db);
  std::string s = transport == Transport::kTls ? "rediss" : "redis";
  if (topology == Topology::kCluster) s += "-cluster";
  if (topology == Topology::kSentinel) s += "-sentinel";
  s += "://";
  if (!user.empty()) s += user + "@";
  if (topology == Topology::kSingle) return s + HostPort{host, port}.Describe() + "/" + std::to_string(db);
  for (size_t i = 0; i < seeds.size(); ++i) s += (i ? "," : "") + seeds[i].Describe();
  return topology == Topology::kSentinel ? s + "/" + master_name : s;
}

std::string RedisEndpoint::PoolKey() const {
  std::string key = Describe();
  for (const std::string* part : {&password, &tls.ca_file, &tls.cert_file, &tls.key_file, &tls.server_name})
    key += '\0' + *part;
  return key;
}

RedisEndpoint RedisEndpoint::Node(const HostPort& address) const {
  RedisEndpoint node = *this;
  node.topology = Topology::kSingle;
  node.seeds.clear();
  node.master_name.clear();
  node.host = address.host;
  node.port = address.port;
  return node;
}

}  // namespace h5redislock
