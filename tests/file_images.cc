#include "file_images.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "hdf5_files.h"

namespace h5redislock {
namespace testing {

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

long long FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : -1;
}

bool CreateFilledFile(const std::string& path, hid_t fapl, const std::vector<std::string>& names, hsize_t length,
                      int fill) {
  if (!CreateFileWithDatasets(path, fapl, names, length, H5T_STD_I32LE)) return false;
  H5File f(path, H5F_ACC_RDWR, fapl);
  bool ok = f.ok();
  for (const auto& name : names) ok = ok && FillInts(f.id(), name, length, fill);
  return f.Close() >= 0 && ok;
}

std::vector<int> ReadInts(hid_t file, const std::string& name, hsize_t length) {
  std::vector<int> values(length);
  if (!ReadAll(file, name, H5T_NATIVE_INT, values.data())) values.clear();
  return values;
}

bool FillInts(hid_t file, const std::string& name, hsize_t length, int value) {
  std::vector<int> values(length, value);
  return WriteAll(file, name, H5T_NATIVE_INT, values.data());
}

}  // namespace testing
}  // namespace h5redislock
