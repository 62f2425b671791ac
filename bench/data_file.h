// data_file.h: the benchmarks' HDF5 files. Each holds one contiguous dataset
// of bytes, "data", so that reading or writing all of it is a single request
// of exactly that size to the driver (above HDF5's 64 KiB sieve buffer; a
// smaller one may be served from that buffer without the driver).
//
// Thread-safety: as HDF5 (one thread at a time).
#ifndef H5REDISLOCK_BENCH_DATA_FILE_H_
#define H5REDISLOCK_BENCH_DATA_FILE_H_

#include <hdf5.h>

#include <string>

namespace h5redislock {
namespace bench {

// Creates (truncating) `path` through sec2 with "data" of `bytes` bytes,
// written once so that every block exists. False on failure.
bool MakeDataFile(const std::string& path, size_t bytes);

// The dataset "data" of an open file.
class Dataset {
 public:
  explicit Dataset(hid_t file);
  ~Dataset();
  Dataset(const Dataset&) = delete;
  Dataset& operator=(const Dataset&) = delete;

  bool ok() const { return id_ >= 0; }
  size_t bytes() const { return bytes_; }
  // All of it, into or from a buffer of bytes() bytes.
  bool Read(void* buffer) const;
  bool Write(const void* buffer) const;

 private:
  hid_t id_;
  size_t bytes_ = 0;
};

}  // namespace bench
}  // namespace h5redislock

#endif  // H5REDISLOCK_BENCH_DATA_FILE_H_
