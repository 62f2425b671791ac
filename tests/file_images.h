// file_images.h: files as bytes, for the tests that compare a file byte for
// byte with the one before a write session, and HDF5 files whose datasets
// have their storage allocated, so that a test knows a write to a dataset is
// an overwrite of bytes the file already held (which the undo journal saves)
// and not an append.
#ifndef H5REDISLOCK_TESTS_FILE_IMAGES_H_
#define H5REDISLOCK_TESTS_FILE_IMAGES_H_

#include <hdf5.h>

#include <string>
#include <vector>

namespace h5redislock {
namespace testing {

// The whole file; "" if it cannot be read.
std::string FileBytes(const std::string& path);

// The size of `path`, or -1 if it does not exist.
long long FileSize(const std::string& path);

// Creates (truncating) `path` through `fapl` with one contiguous 1-D int32
// dataset per name, `length` values each, every value `fill`: written, so
// their storage lies inside the file.
bool CreateFilledFile(const std::string& path, hid_t fapl, const std::vector<std::string>& names, hsize_t length,
                      int fill);

// Every value of the int32 dataset `name` of the open file, as read; empty
// if the read failed.
std::vector<int> ReadInts(hid_t file, const std::string& name, hsize_t length);

// Writes `value` over the whole int32 dataset `name`.
bool FillInts(hid_t file, const std::string& name, hsize_t length, int value);

}  // namespace testing
}  // namespace h5redislock

#endif  // H5REDISLOCK_TESTS_FILE_IMAGES_H_
