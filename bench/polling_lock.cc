#include "polling_lock.h"

#include <sys/random.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

namespace h5redislock {
namespace bench {
namespace {

// The seed's constants: a lock expires after 20 s; waiting polls every 1 ms.
constexpr char kExpirySeconds[] = "20";
constexpr auto kPollInterval = std::chrono::milliseconds(1);
constexpr auto kGiveUpAfter = std::chrono::seconds(60);

// The seed's shared identities: whoever is last out releases the lock the
// first one in took.
constexpr char kReaders[] = "id_reader";
constexpr char kWriters[] = "id_writer";

// "pid<pid>_<random>", as the seed named a process's lock holders.
std::string NewIdentity() {
  unsigned long long random = 0;
  if (getrandom(&random, sizeof random, 0) != sizeof random) random = 0;
  return "pid" + std::to_string(getpid()) + "_" + std::to_string(random);
}

std::string Key(const char* part, const std::string& resource) { return std::string(part) + "__" + resource; }

// A scope that holds one of the mutexes.
class Mutex {
 public:
  Mutex(bool taken, std::function<bool()> give) : taken_(taken), give_(std::move(give)) {}
  ~Mutex() {
    if (taken_) give_();
  }
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;
  bool taken() const { return taken_; }
  // Releases now; false if that failed.
  bool Give() {
    taken_ = false;
    return give_();
  }

 private:
  bool taken_;
  std::function<bool()> give_;
};

}  // namespace

PollingLock::PollingLock(std::unique_ptr<RedisConnection> conn) : conn_(std::move(conn)), id_(NewIdentity()) {}

bool PollingLock::Take(const std::string& key, const std::string& id) {
  const auto give_up = Clock::now() + kGiveUpAfter;
  while (Clock::now() < give_up) {
    Reply reply;
    if (!conn_->Command({"SETNX", key, id}, &reply).ok()) return false;
    if (ReplyInteger(reply.get()) == 1) return conn_->Command({"EXPIRE", key, kExpirySeconds}, &reply).ok();
    // The seed re-armed a lock left without expiry (TTL 0 in its reading).
    if (!conn_->Command({"TTL", key}, &reply).ok()) return false;
    if (ReplyInteger(reply.get()) == 0 && !conn_->Command({"EXPIRE", key, kExpirySeconds}, &reply).ok())
      return false;
    std::this_thread::sleep_for(kPollInterval);
  }
  return false;
}

bool PollingLock::Give(const std::string& key, const std::string& id) {
  Reply reply;
  if (!conn_->Command({"WATCH", key}, &reply).ok()) return false;
  if (!conn_->Command({"GET", key}, &reply).ok()) return false;
  if (ReplyString(reply.get()) != id) {
    conn_->Command({"UNWATCH"}, &reply);
    return false;
  }
  std::vector<Reply> replies;
  return conn_->Pipeline({{"MULTI"}, {"DEL", key}, {"EXEC"}}, &replies).ok() &&
         ReplyArraySize(replies[2].get()) == 1;
}

bool PollingLock::Add(const std::string& key, int delta, long long* value) {
  Reply reply;
  if (!conn_->Command({delta > 0 ? "INCRBY" : "DECRBY", key, std::to_string(delta > 0 ? delta : -delta)}, &reply)
           .ok() ||
      IsErrorReply(reply.get()))
    return false;
  *value = ReplyInteger(reply.get());
  return true;
}

bool PollingLock::LockShared(const std::string& resource) {
  const std::string mutex1 = Key("mutex1", resource), mutex3 = Key("mutex3", resource);
  const std::string readlock = Key("readlock", resource), writelock = Key("writelock", resource);
  Mutex m3(Take(mutex3, id_), [&] { return Give(mutex3, id_); });
  if (!m3.taken()) return false;
  Mutex r(Take(readlock, id_), [&] { return Give(readlock, id_); });
  if (!r.taken()) return false;
  Mutex m1(Take(mutex1, id_), [&] { return Give(mutex1, id_); });
  if (!m1.taken()) return false;
  long long readers = 0;
  if (!Add(Key("readcount", resource), 1, &readers)) return false;
  if (readers == 1 && !Take(writelock, kReaders)) return false;
  return m1.Give() && r.Give() && m3.Give();
}

bool PollingLock::UnlockShared(const std::string& resource) {
  const std::string mutex1 = Key("mutex1", resource);
  Mutex m1(Take(mutex1, id_), [&] { return Give(mutex1, id_); });
  if (!m1.taken()) return false;
  long long readers = 0;
  if (!Add(Key("readcount", resource), -1, &readers)) return false;
  if (readers == 0 && !Give(Key("writelock", resource), kReaders)) return false;
  return m1.Give();
}

bool PollingLock::LockExclusive(const std::string& resource) {
  const std::string mutex2 = Key("mutex2", resource);
  {
    Mutex m2(Take(mutex2, id_), [&] { return Give(mutex2, id_); });
    if (!m2.taken()) return false;
    long long writers = 0;
    if (!Add(Key("writecount", resource), 1, &writers)) return false;
    if (writers == 1 && !Take(Key("readlock", resource), kWriters)) return false;
    if (!m2.Give()) return false;
  }
  return Take(Key("writelock", resource), id_);
}

bool PollingLock::UnlockExclusive(const std::string& resource) {
  const std::string mutex2 = Key("mutex2", resource);
  if (!Give(Key("writelock", resource), id_)) return false;
  Mutex m2(Take(mutex2, id_), [&] { return Give(mutex2, id_); });
  if (!m2.taken()) return false;
  long long writers = 0;
  if (!Add(Key("writecount", resource), -1, &writers)) return false;
  if (writers == 0 && !Give(Key("readlock", resource), kWriters)) return false;
  return m2.Give();
}

}  // namespace bench
}  // namespace h5redislock
