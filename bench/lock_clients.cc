#include "lock_clients.h"

#include <set>

#include "config.h"
#include "environment.h"
#include "lock_table.h"
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

class TokenLock : public LockClient {
 public:
  TokenLock() : conn_(ConnectToRedis()) {}

  bool Acquire(const std::string& name, bool) override {
    list_ = "floor:" + name;
    Reply reply;
    // The first process to get here puts the one token in; the marker makes
    // sure nobody adds a second. Once per lock and process, before timing
    // matters.
    if (!seeded_.count(name)) {
      if (!conn_->Command({"SETNX", list_ + ":seeded", "1"}, &reply).ok()) return false;
      if (ReplyInteger(reply.get()) == 1 && !conn_->Command({"LPUSH", list_, "token"}, &reply).ok()) return false;
      seeded_.insert(name);
    }
    return conn_->Command({"BLPOP", list_, "0"}, &reply).ok() && ReplyArraySize(reply.get()) == 2;
  }

  bool Release() override {
    Reply reply;
    return conn_->Command({"LPUSH", list_, "token"}, &reply).ok() && !IsErrorReply(reply.get());
  }

 private:
  std::unique_ptr<RedisConnection> conn_;
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
