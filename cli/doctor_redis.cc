// doctor_redis.cc: can the driver reach the Redis server, log in, and run its
// scripts there, and how far away is it?
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "doctor_checks.h"
#include "embedded_server.h"
#include "lock/lock_keys.h"
#include "lock/lock_protocol.h"
#include "redis_info.h"

namespace h5redislock {
namespace cli {
namespace {

using Verdict = Finding::Verdict;

constexpr int kPings = 5;
constexpr double kSlowRoundTripMs = 10;
constexpr int kOldestMajorVersion = 5;  // effects replication by default: scripts may call TIME, then write

std::string Milliseconds(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f ms", ms);
  return buf;
}

// The embedded server is not running: all `run` needs is a redis-server to start.
void CheckEmbeddedStartable(const Target& target, Findings* out) {
  std::string program;
  Status s = FindRedisServer(&program);
  if (!s.ok()) {
    out->push_back({Verdict::kFail, "Redis", s.message(), ""});
    return;
  }
  out->push_back({Verdict::kOk, "Redis",
                  "the embedded server (" + target.config.redis.Describe() +
                      ") is not running; `h5redislock run` starts " + program + " when needed",
                  ""});
}

// The median round trip of a few PINGs; false if one failed.
bool RoundTrip(RedisConnection& conn, double* median_ms) {
  std::vector<double> times;
  for (int i = 0; i < kPings; ++i) {
    const auto start = Clock::now();
    Reply reply;
    if (!conn.Command({"PING"}, &reply).ok()) return false;
    times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  *median_ms = times[times.size() / 2];
  return true;
}

}  // namespace

void CheckRedis(const Target& target, Findings* out) {
  const std::string where = target.config.redis.Describe() + " (" + target.url_source + ")";
  if (target.embedded && !ServerAnswers(target.config.redis.socket_path)) return CheckEmbeddedStartable(target, out);
  std::unique_ptr<RedisConnection> conn;
  Status s = Connect(target, &conn);
  if (s.code() == Status::Code::kAuth) {
    out->push_back({Verdict::kOk, "Redis", "reachable at " + where, ""});
    out->push_back({Verdict::kFail, "Redis login", s.message(),
                    "check the password (password_file= or $H5REDISLOCK_PASSWORD) and the user"});
    return;
  }
  if (!s.ok()) {
    out->push_back({Verdict::kFail, "Redis", s.message(),
                    "start Redis there, or name a reachable server with url= or --url"});
    return;
  }
  out->push_back({Verdict::kOk, "Redis", "reachable at " + where, ""});

  Reply pong;
  s = conn->Command({"PING"}, &pong);
  if (s.ok() && IsErrorReply(pong.get())) {
    out->push_back({Verdict::kFail, "Redis login", "the server wants a password: " + ReplyString(pong.get()),
                    "give it by password_file= or $H5REDISLOCK_PASSWORD"});
    return;
  }
  out->push_back({Verdict::kOk, "Redis login",
                  target.config.redis.password.empty() ? "no password needed" : "password accepted", ""});

  std::string version;
  s = ReadInfoField(*conn, "server", "redis_version", &version);
  if (!s.ok())
    out->push_back({Verdict::kWarn, "Redis version", "unknown: " + s.message(), ""});
  else if (std::atoi(version.c_str()) < kOldestMajorVersion)
    out->push_back({Verdict::kFail, "Redis version", version + " cannot run the lock's scripts",
                    "use Redis " + std::to_string(kOldestMajorVersion) + " or later"});
  else
    out->push_back({Verdict::kOk, "Redis version", version, ""});

  double median_ms = 0;
  if (!RoundTrip(*conn, &median_ms))
    out->push_back({Verdict::kFail, "round trip", "PING failed", "check the network to the server"});
  else if (median_ms > kSlowRoundTripMs)
    out->push_back({Verdict::kWarn, "round trip", Milliseconds(median_ms) + " (median of 5 PINGs) is slow",
                    "every open and close of a file costs about one round trip; use a closer server"});
  else
    out->push_back({Verdict::kOk, "round trip", Milliseconds(median_ms) + " (median of 5 PINGs)", ""});

  // A read-only script on a lock nobody uses: ACLs that forbid EVALSHA or the
  // prefix's keys show here rather than at the first open.
  LockSnapshot probe;
  s = ReadLockSnapshot(*conn, LockKeys(target.config.prefix, "h5redislock doctor probe"), &probe);
  if (s.ok())
    out->push_back({Verdict::kOk, "lock scripts", "run under prefix " + target.config.prefix, ""});
  else
    out->push_back({Verdict::kFail, "lock scripts", s.message(),
                    "allow the Redis user EVAL, EVALSHA and the keys " + target.config.prefix + "*"});
}

}  // namespace cli
}  // namespace h5redislock
