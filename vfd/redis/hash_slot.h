// hash_slot.h: the Redis Cluster hash slot of a key.
//
// Redis Cluster shards keys over 16384 slots: CRC16 (XMODEM) of the key's
// hash tag, the text between its first '{' and the next '}' when that is not
// empty, else of the whole key, modulo 16384. A lock's keys all carry the
// tag {lock name} (lock_keys.h), so one slot, and so one node, holds a lock.
//
// Thread-safety: pure functions.
#ifndef H5REDISLOCK_HASH_SLOT_H_
#define H5REDISLOCK_HASH_SLOT_H_

#include <string_view>

namespace h5redislock {

constexpr int kHashSlots = 16384;

int HashSlot(std::string_view key);

}  // namespace h5redislock

#endif  // H5REDISLOCK_HASH_SLOT_H_
