#include "redis/hash_slot.h"

#include <cstdint>

namespace h5redislock {
namespace {

// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as in the
// Redis Cluster specification (its test vector: "123456789" -> 0x31C3).
uint16_t Crc16(std::string_view data) {
  uint16_t crc = 0;
  for (unsigned char byte : data) {
    crc ^= static_cast<uint16_t>(byte) << 8;
    for (int bit = 0; bit < 8; ++bit)
      crc = static_cast<uint16_t>(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
  }
  return crc;
}

}  // namespace

int HashSlot(std::string_view key) {
  size_t open = key.find('{');
  if (open != std::string_view::npos) {
    size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
  }
  return Crc16(key) % kHashSlots;
}

}  // namespace h5redislock
