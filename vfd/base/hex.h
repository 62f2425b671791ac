// hex.h: bytes as text, two lower-case hexadecimal digits a byte: how random
// bytes go into the names the driver makes (lock tokens, private host keys).
//
// Thread-safety: a pure function.
#ifndef H5REDISLOCK_HEX_H_
#define H5REDISLOCK_HEX_H_

#include <cstddef>
#include <string>

namespace h5redislock {

inline std::string HexString(const unsigned char* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(2 * size);
  for (size_t i = 0; i < size; ++i) {
    text += kDigits[bytes[i] >> 4];
    text += kDigits[bytes[i] & 0xf];
  }
  return text;
}

}  // namespace h5redislock

#endif  // H5REDISLOCK_HEX_H_
