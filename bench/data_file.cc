#include "data_file.h"

#include <vector>

namespace h5redislock {
namespace bench {

bool MakeDataFile(const std::string& path, size_t bytes) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_sec2(fapl);
  H5Pset_file_locking(fapl, false, true);
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (file < 0) return false;
  hsize_t dims[1] = {bytes};
  hid_t space = H5Screate_simple(1, dims, nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_layout(dcpl, H5D_CONTIGUOUS);
  H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
  hid_t dataset = H5Dcreate2(file, "data", H5T_NATIVE_UCHAR, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  std::vector<unsigned char> pattern(bytes);
  for (size_t i = 0; i < bytes; ++i) pattern[i] = static_cast<unsigned char>(i * 7);
  bool ok = dataset >= 0 && H5Dwrite(dataset, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, pattern.data()) >= 0;
  if (dataset >= 0) H5Dclose(dataset);
  H5Pclose(dcpl);
  H5Sclose(space);
  return H5Fclose(file) >= 0 && ok;
}

Dataset::Dataset(hid_t file) : id_(H5Dopen2(file, "data", H5P_DEFAULT)) {
  if (id_ < 0) return;
  hid_t space = H5Dget_space(id_);
  bytes_ = static_cast<size_t>(H5Sget_simple_extent_npoints(space));
  H5Sclose(space);
}

Dataset::~Dataset() {
  if (id_ >= 0) H5Dclose(id_);
}

bool Dataset::Read(void* buffer) const {
  return H5Dread(id_, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer) >= 0;
}

bool Dataset::Write(const void* buffer) const {
  return H5Dwrite(id_, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer) >= 0;
}

}  // namespace bench
}  // namespace h5redislock
