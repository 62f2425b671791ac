// config.h: the driver's configuration and its one textual form.
//
// The same string configures every route into the driver: HDF5_DRIVER_CONFIG,
// H5Pset_driver_by_name(fapl, "redislock", str) and the typed API's options.
// It is a list of key=value pairs separated by ';', whitespace around keys and
// values ignored:
//
//   url=unix:///run/redis.sock; timeout=30; lease=10
//
// Keys (see Config for meanings and defaults): url, timeout, connect_timeout,
// lease, linger, retain, prefix, key, inner, journal, durable, replicas, replica_timeout, user, password_file,
// tls_ca, tls_cert, tls_key, tls_server_name. An unknown key, a repeated key or a bad value is an error
// naming that key; the password is never repeated in an error.
//
// Thread-safety: ParseConfig reads the environment (H5REDISLOCK_URL,
// H5REDISLOCK_PASSWORD) and may read password_file; otherwise pure.
#ifndef H5REDISLOCK_CONFIG_H_
#define H5REDISLOCK_CONFIG_H_

#include <string>
#include <string_view>

#include "base/status.h"
#include "redis/redis_endpoint.h"

namespace h5redislock {

struct Config {
  static constexpr const char* kDefaultUrl = "redis://127.0.0.1:6379/0";
  static constexpr const char* kDefaultPrefix = "h5redislock:";
  // Why a second: the README's "Lock caching".
  static constexpr double kDefaultLinger = 1;

  RedisEndpoint redis;            // url=; default $H5REDISLOCK_URL, else kDefaultUrl
  double timeout_s = 60;          // timeout=: wait for the lock; 0 fail at once; -1 forever
  double connect_timeout_s = 5;   // connect_timeout=: per connection attempt and command
  double lease_s = 10;            // lease=: a holder unheard of this long loses the lock
  // linger=: after the last close of a file, this process keeps its lock this
  // long (a later open costs no round trip), unless someone else wants it;
  // 0: release at the last close (see "Lock caching" in lock_protocol.cc)
  double linger_s = kDefaultLinger;
  double retain_s = 600;          // retain=: an idle lock's counters stay in Redis this long
  std::string prefix = kDefaultPrefix;  // prefix=: of every Redis key we touch
  std::string key;                // key=: the lock's name; empty: the file's canonical path
  std::string inner = "sec2";     // inner=: the driver that does the I/O
  bool journal = true;            // journal=undo|off: all-or-nothing write sessions
  bool durable = false;           // durable=0|1: sessions also survive machine crashes
  // replicas=N: a grant, and each renewal, counts only once N replicas have
  // it (WAIT), so that a failover to one of them keeps it; default 1 on a
  // cluster or Sentinel url, 0 otherwise (see "Failover" in the README).
  int replicas = 0;
  double replica_timeout_s = 0.5; // replica_timeout=: how long WAIT waits for them

  bool wait_forever() const { return timeout_s < 0; }

  // The configuration as a config string, for messages: never the password.
  std::string Describe() const;
};

// Parses `text` into *out, starting from the defaults. On error *out is
// unspecified and the message names the offending key.
Status ParseConfig(std::string_view text, Config* out);

}  // namespace h5redislock

#endif  // H5REDISLOCK_CONFIG_H_
