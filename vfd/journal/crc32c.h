// crc32c.h: the CRC-32C (Castagnoli) checksum of the undo journal.
//
// The journal checksums every byte it saves, so its cost is the checksum's:
// CRC-32C has an instruction on x86-64 (SSE 4.2), several times faster than
// zlib's CRC-32, and a table-driven fallback elsewhere.
#ifndef H5REDISLOCK_CRC32C_H_
#define H5REDISLOCK_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace h5redislock {

// The CRC-32C of `size` bytes at `data` (crc32c("123456789") == 0xe3069283).
uint32_t Crc32c(const void* data, size_t size);

}  // namespace h5redislock

#endif  // H5REDISLOCK_CRC32C_H_
