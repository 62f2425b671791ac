// hdf5_files.h: small HDF5 helpers shared by the tests: make a file with
// datasets, read and write whole datasets, in one call each.
#ifndef H5REDISLOCK_TESTS_HDF5_FILES_H_
#define H5REDISLOCK_TESTS_HDF5_FILES_H_

#include <hdf5.h>

#include <string>
#include <vector>

namespace h5redislock {
namespace testing {

// An open file that closes itself; `ok()` is false if the open failed.
class H5File {
 public:
  H5File(const std::string& path, unsigned flags, hid_t fapl, bool create = false);
  ~H5File() { Close(); }
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;
  bool ok() const { return id_ >= 0; }
  hid_t id() const { return id_; }
  herr_t Close();

 private:
  hid_t id_;
};

// Creates (truncating) `path` through `fapl` with one 1-D dataset per name.
bool CreateFileWithDatasets(const std::string& path, hid_t fapl, const std::vector<std::string>& names,
                            hsize_t length, hid_t type);

// Creates (truncating) `path` with the dataset "x" (4 ints) through the
// driver configured by `config` (LockedFapl, test_support.h). On failure
// *error holds the HDF5 error stack; on success it is cleared.
bool CreateLockedFile(const std::string& path, const std::string& config, std::string* error);

bool WriteAll(hid_t file, const std::string& dataset, hid_t mem_type, const void* data);
bool ReadAll(hid_t file, const std::string& dataset, hid_t mem_type, void* data);

// Rows [first, first + count) of a 2-D float dataset.
bool WriteRows(hid_t file, const std::string& dataset, hsize_t first, hsize_t count, hsize_t width,
               const float* data);
bool ReadRows(hid_t file, const std::string& dataset, hsize_t first, hsize_t count, hsize_t width, float* data);

}  // namespace testing
}  // namespace h5redislock

#endif  // H5REDISLOCK_TESTS_HDF5_FILES_H_
