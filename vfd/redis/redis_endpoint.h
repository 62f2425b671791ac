// redis_endpoint.h: where the lock server is and how to log in to it.
//
// A RedisEndpoint is parsed from a URL:
//   redis://[[user]:password@]host[:port][/db]     plain TCP (default port 6379)
//   rediss://[[user]:password@]host[:port][/db]    TLS
//   unix:///path/to/redis.sock[?db=N]              unix domain socket
//   redis-cluster://[[user]:password@]host:port,host:port,...[/]
//                                                  the nodes of a Redis Cluster
//                                                  to learn its slot map from
//   redis-sentinel://[[user]:password@]host:port[,host:port...]/mastername
//                                                  the master that these
//                                                  Sentinels name (default
//                                                  port 26379)
//   rediss-cluster://..., rediss-sentinel://...    the same over TLS
// Percent-escapes (%3B for ';', %40 for '@') are decoded in user and password.
// The credentials are the data nodes' (cluster nodes, the master); Sentinels
// are asked without them unless they demand them.
//
// The password is a secret: Describe() never includes it, and nothing else in
// the project prints an endpoint any other way.
//
// Thread-safety: a value type.
#ifndef H5REDISLOCK_REDIS_ENDPOINT_H_
#define H5REDISLOCK_REDIS_ENDPOINT_H_

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace h5redislock {

struct TlsOptions {
  std::string ca_file;     // CA bundle to verify the server; empty: system default
  std::string cert_file;   // client certificate, for servers that require one
  std::string key_file;    // its private key
  std::string server_name; // SNI and verification name; empty: the host
};

struct HostPort {
  std::string host;
  int port = 0;
  bool operator==(const HostPort& o) const { return host == o.host && port == o.port; }
  bool operator<(const HostPort& o) const { return host < o.host || (host == o.host && port < o.port); }
  std::string Describe() const;  // "host:port", "[::1]:port"
};

struct RedisEndpoint {
  enum class Transport { kTcp, kTls, kUnix };
  // How the server that holds a lock is found.
  enum class Topology {
    kSingle,    // it is host:port (or the socket)
    kCluster,   // the node that serves the lock's hash slot, learnt from `seeds`
    kSentinel,  // the master that the Sentinels at `seeds` name `master_name`
  };

  Transport transport = Transport::kTcp;
  Topology topology = Topology::kSingle;
  std::string host = "127.0.0.1";  // kSingle; otherwise the first seed
  int port = 6379;
  std::string socket_path;  // for kUnix
  int db = 0;
  std::string user;         // ACL user; empty: the default user
  std::string password;     // secret; empty: no AUTH
  TlsOptions tls;
  std::vector<HostPort> seeds;  // kCluster and kSentinel
  std::string master_name;      // kSentinel

  // "redis://user@host:6379/0", "unix:///run/redis.sock?db=0",
  // "redis-cluster://user@h1:7000,h2:7001": never the password.
  std::string Describe() const;

  // Identifies the servers and credentials, for sharing connections between
  // locks. Contains the password: never print it.
  std::string PoolKey() const;

  // The single server at `address` that belongs to this cluster or Sentinel
  // set-up: same transport, credentials and TLS settings.
  RedisEndpoint Node(const HostPort& address) const;
};

// Parses a URL of the forms above into *out (replacing it). The error names the
// part that is wrong and never repeats the password.
Status ParseRedisUrl(std::string_view url, RedisEndpoint* out);

}  // namespace h5redislock

#endif  // H5REDISLOCK_REDIS_ENDPOINT_H_
