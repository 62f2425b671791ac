#include "lock_clients.h"

#include <set>

#include "environment.h"
#include "lock/config.h"
#include "lock/lock_table.h"
#include "plain_redis.h"
#include "polling_lock.h"

namespace h5redislock {
namespace bench {
namespace {

class DriverLock : public LockClient {
 public:
  DriverLock() {
    Status s = ParseConfig("url=" + RedisUrl(), &config_);
    if (!s.ok()) Fatal(s.message());
  }

  bool Acquire(const std::string& name, bool write) override {
    return LockTable::ForThisProcess()
        .Acquire(config_, name, write ? LockMode::kWrite : LockMode::kRead, name, &held_)
        .ok();
  }

  bool Release() override {
    bool ok = held_ && LockTable::ForThisProcess().Release(held_).ok();
    held_.reset();
    return ok;
  }

 private:
  Config config_;
  std::shared_ptr<HeldLock> held_;
};

class SeedLock : public LockClient {
 public:
  SeedLock() : lock_(ConnectToRedis()) {}

  bool Acquire(const std::string& name, bool write) override {
    name_ = name;
    write_ = write;
    return write ? lock_.LockExclusive(name) : lock_.LockShared(name);
  }

  bool Release() override { return write_ ? lock_.UnlockExclusive(name_) : lock_.UnlockShared(name_); }

 private:
  PollingLock lock_;
  std::string name_;
  bool write_ = false;
};

// On a plain hiredis connection, as the baselines' PINGs are sent.
class TokenLock : public LockClient {
 public:
  TokenLock() : conn_(ConnectPlain()) {}
  ~TokenLock() override { redisFree(conn_); }

  bool Acquire(const std::string& name, bool) override {
    list_ = "floor:" + name;
    // The first process to get here puts the one token in; the marker makes
    // sure nobody adds a second. Once per lock and process, so not timed in
    // a hand-off.
    if (!seeded_.count(name)) {
      auto* reply = static_cast<redisReply*>(redisCommand(conn_, "SETNX %s:seeded 1", list_.c_str()));
      const bool first = reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
      if (reply) freeReplyObject(reply);
      if (!reply || (first && !Request(conn_, {"LPUSH", list_, "token"}))) return false;
      seeded_.insert(name);
    }
    auto* reply = static_cast<redisReply*>(redisCommand(conn_, "BLPOP %s 0", list_.c_str()));
    const bool taken = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2;
    if (reply) freeReplyObject(reply);
    return taken;
  }

  bool Release() override { return Request(conn_, {"LPUSH", list_, "token"}); }

 private:
  redisContext* conn_;
  std::set<std::string> seeded_;
  std::string list_;
};

}  // namespace

const char* LockName(LockKind kind) {
  switch (kind) {
    case LockKind::kRedisLock: return "redislock";
    case LockKind::kPolling: return "polling";
    case LockKind::kFloor: return "floor";
  }
  return "?";
}

std::unique_ptr<LockClient> LockClient::Make(LockKind kind) {
  switch (kind) {
    case LockKind::kRedisLock: return std::make_unique<DriverLock>();
    case LockKind::kPolling: return std::make_unique<SeedLock>();
    case LockKind::kFloor: return std::make_unique<TokenLock>();
  }
  return nullptr;
}

}  // namespace bench
}  // namespace h5redislock
