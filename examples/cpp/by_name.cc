// by_name.cc: choosing the redislock driver in code, by name, with HDF5's C
// API only; the program neither includes nor links the driver, HDF5 loads it
// from HDF5_PLUGIN_PATH.
//
//   by_name CONFIG FILE     e.g. by_name 'url=unix:///run/redis.sock;timeout=30' data.h5
//
// Creates FILE with a small dataset (exclusive lock), closes it, reopens it
// read-only (shared lock) and checks the data. Exits 0 on success.
#include <hdf5.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

// Prints what failed; HDF5 has already printed its error stack to stderr.
bool Fail(const std::string& what) {
  std::fprintf(stderr, "by_name: %s\n", what.c_str());
  return false;
}

// A fapl for the redislock driver, or -1. Fails if the plugin cannot be
// loaded or rejects the configuration string.
hid_t RedislockFapl(const char* config) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0) return -1;
  if (H5Pset_driver_by_name(fapl, "redislock", config) < 0) {
    H5Pclose(fapl);
    Fail("cannot use the redislock driver with config '" + std::string(config) +
         "' (is HDF5_PLUGIN_PATH set to the plugin's directory?)");
    return -1;
  }
  return fapl;
}

bool Write(hid_t fapl, const std::string& path, const std::vector<int>& data) {
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (file < 0) return Fail("cannot create " + path);
  hsize_t n = data.size();
  hid_t space = H5Screate_simple(1, &n, nullptr);
  hid_t dset = H5Dcreate2(file, "numbers", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  bool ok = dset >= 0 && H5Dwrite(dset, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) >= 0;
  if (dset >= 0) H5Dclose(dset);
  H5Sclose(space);
  ok = H5Fclose(file) >= 0 && ok;  // the close writes metadata and releases the lock
  return ok || Fail("cannot write " + path);
}

bool Read(hid_t fapl, const std::string& path, std::vector<int>* data) {
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  if (file < 0) return Fail("cannot open " + path + " read-only");
  hid_t dset = H5Dopen2(file, "numbers", H5P_DEFAULT);
  bool ok = dset >= 0 && H5Dread(dset, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data->data()) >= 0;
  if (dset >= 0) H5Dclose(dset);
  ok = H5Fclose(file) >= 0 && ok;
  return ok || Fail("cannot read " + path);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: by_name CONFIG FILE\n");
    return 2;
  }
  hid_t fapl = RedislockFapl(argv[1]);
  if (fapl < 0) return 1;
  const std::vector<int> written = {1, 2, 3, 5, 8, 13, 21, 34};
  std::vector<int> read(written.size(), -1);
  bool ok = Write(fapl, argv[2], written) && Read(fapl, argv[2], &read);
  H5Pclose(fapl);
  if (!ok) return 1;
  if (read != written) {
    Fail(std::string("read back other numbers than were written to ") + argv[2]);
    return 1;
  }
  std::printf("by_name: wrote and read back %zu numbers in %s\n", read.size(), argv[2]);
  return 0;
}
