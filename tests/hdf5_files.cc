#include "hdf5_files.h"

#include "test_support.h"

namespace h5redislock {
namespace testing {

H5File::H5File(const std::string& path, unsigned flags, hid_t fapl, bool create)
    : id_(create ? H5Fcreate(path.c_str(), flags, H5P_DEFAULT, fapl) : H5Fopen(path.c_str(), flags, fapl)) {}

herr_t H5File::Close() {
  herr_t rc = 0;
  if (id_ >= 0) rc = H5Fclose(id_);
  id_ = -1;
  return rc;
}

bool CreateFileWithDatasets(const std::string& path, hid_t fapl, const std::vector<std::string>& names,
                            hsize_t length, hid_t type) {
  H5File f(path, H5F_ACC_TRUNC, fapl, true);
  if (!f.ok()) return false;
  hid_t space = H5Screate_simple(1, &length, nullptr);
  bool ok = true;
  for (const auto& name : names) {
    hid_t d = H5Dcreate2(f.id(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ok = ok && d >= 0;
    if (d >= 0) H5Dclose(d);
  }
  H5Sclose(space);
  return f.Close() >= 0 && ok;
}

bool CreateLockedFile(const std::string& path, const std::string& config, std::string* error) {
  hid_t fapl = LockedFapl(config);
  bool ok = CreateFileWithDatasets(path, fapl, {"x"}, 4, H5T_STD_I32LE);
  *error = ok ? "" : ErrorText();  // before H5Pclose clears the stack
  H5Pclose(fapl);
  return ok;
}

bool WriteAll(hid_t file, const std::string& dataset, hid_t mem_type, const void* data) {
  hid_t d = H5Dopen2(file, dataset.c_str(), H5P_DEFAULT);
  if (d < 0) return false;
  bool ok = H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
  return H5Dclose(d) >= 0 && ok;
}

bool ReadAll(hid_t file, const std::string& dataset, hid_t mem_type, void* data) {
  hid_t d = H5Dopen2(file, dataset.c_str(), H5P_DEFAULT);
  if (d < 0) return false;
  bool ok = H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
  return H5Dclose(d) >= 0 && ok;
}

namespace {

bool TransferRows(hid_t file, const std::string& dataset, hsize_t first, hsize_t count, hsize_t width,
                  float* read_into, const float* write_from) {
  hid_t d = H5Dopen2(file, dataset.c_str(), H5P_DEFAULT);
  if (d < 0) return false;
  hid_t fspace = H5Dget_space(d);
  hsize_t start[2] = {first, 0}, block[2] = {count, width};
  H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, block, nullptr);
  hid_t mspace = H5Screate_simple(2, block, nullptr);
  herr_t rc = read_into ? H5Dread(d, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, read_into)
                        : H5Dwrite(d, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, write_from);
  H5Sclose(mspace);
  H5Sclose(fspace);
  return H5Dclose(d) >= 0 && rc >= 0;
}

}  // namespace

bool WriteRows(hid_t file, const std::string& dataset, hsize_t first, hsize_t count, hsize_t width,
               const float* data) {
  return TransferRows(file, dataset, first, count, width, nullptr, data);
}

bool ReadRows(hid_t file, const std::string& dataset, hsize_t first, hsize_t count, hsize_t width, float* data) {
  return TransferRows(file, dataset, first, count, width, data, nullptr);
}

}  // namespace testing
}  // namespace h5redislock
