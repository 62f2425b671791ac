// lock_keys.h: the names of one lock's keys in Redis.
//
// Every key of a lock is   <prefix>{<lock name>}:<part>
// so that all of them share one Redis Cluster hash tag and every script runs
// in one slot. Braces and '%' in the lock name (a path may hold them) are
// percent-escaped, so the tag always spans the whole name and two names never
// map to the same keys. The parts are listed in lock_protocol.cc.
//
// Thread-safety: a value type.
#ifndef H5REDISLOCK_LOCK_KEYS_H_
#define H5REDISLOCK_LOCK_KEYS_H_

#include <string>
#include <vector>

namespace h5redislock {

class LockKeys {
 public:
  LockKeys(const std::string& prefix, const std::string& lock_name);

  const std::string& lock_name() const { return lock_name_; }
  const std::string& base() const { return base_; }  // <prefix>{<escaped name>}
  const std::string& prefix() const { return prefix_; }
  // The Redis Cluster hash slot of every key of the lock (hash_slot.h).
  int slot() const { return slot_; }

  // The keys every script takes, in the order the scripts expect them.
  std::vector<std::string> ScriptKeys() const;
  std::string WakeKey(const std::string& token) const { return base_ + ":w:" + token; }

  // The lock name inside a key produced by this class, or "" if `key` is not
  // one of ours under `prefix`.
  static std::string LockNameOf(const std::string& prefix, const std::string& key);

 private:
  std::string lock_name_;
  std::string prefix_;
  std::string base_;
  int slot_;
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_LOCK_KEYS_H_
