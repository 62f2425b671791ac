// redis_endpoint.h: where the lock server is and how to log in to it.
//
// A RedisEndpoint is parsed from a URL:
//   redis://[[user]:password@]host[:port][/db]     plain TCP (default port 6379)
//   rediss://[[user]:password@]host[:port][/db]    TLS
//   unix:///path/to/redis.sock[?db=N]              unix domain socket
// Percent-escapes (%3B for ';', %40 for '@') are decoded in user and password.
//
// The password is a secret: Describe() never includes it, and nothing else in
// the project prints an endpoint any other way.
//
// Thread-safety: a value type.
#ifndef H5REDISLOCK_REDIS_ENDPOINT_H_
#define H5REDISLOCK_REDIS_ENDPOINT_H_

#include <string>
#include <string_view>

#include "status.h"

namespace h5redislock {

struct TlsOptions {
  std::string ca_file;     // CA bundle to verify the server; empty: system default
  std::string cert_file;   // client certificate, for servers that require one
  std::string key_file;    // its private key
  std::string server_name; // SNI and verification name; empty: the host
};

struct RedisEndpoint {
  enum class Transport { kTcp, kTls, kUnix };

  Transport transport = Transport::kTcp;
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string socket_path;  // for kUnix
  int db = 0;
  std::string user;         // ACL user; empty: the default user
  std::string password;     // secret; empty: no AUTH
  TlsOptions tls;

  // "redis://user@host:6379/0" or "unix:///run/redis.sock?db=0", never the password.
  std::string Describe() const;

  // Identifies the server and credentials, for sharing connections between
  // locks. Contains the password: never print it.
  std::string PoolKey() const;
};

// Parses a URL of the forms above into *out (replacing it). The error names the
// part that is wrong and never repeats the password.
Status ParseRedisUrl(std::string_view url, RedisEndpoint* out);

}  // namespace h5redislock

#endif  // H5REDISLOCK_REDIS_ENDPOINT_H_
