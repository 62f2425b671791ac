#include "write_sessions.h"

#include <iterator>
#include <string>
#include <vector>

namespace h5redislock {
namespace bench {
namespace {

constexpr int kMetaValues = 8, kExtraValues = 64, kGroupsMade = 4;
constexpr const char* kFirstGroups[] = {"g0", "g1", "g2"};

// Writes `value` into the chunk of rows of "chunked" (open as `d`) that
// starts at row `first`.
bool WriteChunkOfRows(hid_t d, const SessionFile& shape, hsize_t first, int value) {
  hid_t space = H5Dget_space(d);
  const hsize_t start[2] = {first, 0}, count[2] = {shape.chunk_rows, shape.width};
  bool ok = space >= 0 && H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr) >= 0;
  hid_t mem = H5Screate_simple(2, count, nullptr);
  const std::vector<int> rows(shape.chunk_rows * shape.width, value);
  ok = ok && mem >= 0 && H5Dwrite(d, H5T_NATIVE_INT, mem, space, H5P_DEFAULT, rows.data()) >= 0;
  if (mem >= 0) H5Sclose(mem);
  if (space >= 0) H5Sclose(space);
  return ok;
}

bool AppendRows(hid_t file, const SessionFile& shape, int salt) {
  hid_t d = H5Dopen2(file, "chunked", H5P_DEFAULT);
  if (d < 0) return false;
  hid_t space = H5Dget_space(d);
  hsize_t dims[2] = {0, 0};
  bool ok = space >= 0 && H5Sget_simple_extent_dims(space, dims, nullptr) == 2;
  if (space >= 0) H5Sclose(space);
  const hsize_t grown[2] = {dims[0] + shape.chunk_rows, shape.width};
  ok = ok && H5Dset_extent(d, grown) >= 0 && WriteChunkOfRows(d, shape, dims[0], salt);
  return H5Dclose(d) >= 0 && ok;
}

bool OverwriteChunk(hid_t file, const SessionFile& shape, int salt) {
  hid_t d = H5Dopen2(file, "chunked", H5P_DEFAULT);
  if (d < 0) return false;
  const bool ok = WriteChunkOfRows(d, shape, 0, -salt);
  return H5Dclose(d) >= 0 && ok;
}

// A 1-D attribute `name` of `type` on `file`, holding `values` (of `mem_type`).
bool AddAttribute(hid_t file, const std::string& name, hid_t type, hsize_t n, hid_t mem_type, const void* values) {
  hid_t space = H5Screate_simple(1, &n, nullptr);
  hid_t a = space >= 0 ? H5Acreate2(file, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
  const bool ok = a >= 0 && H5Awrite(a, mem_type, values) >= 0;
  if (a >= 0) H5Aclose(a);
  if (space >= 0) H5Sclose(space);
  return ok;
}

bool UpdateAttributes(hid_t file, int salt) {
  hid_t a = H5Aopen(file, "meta", H5P_DEFAULT);
  const std::vector<int> meta(kMetaValues, salt);
  bool ok = a >= 0 && H5Awrite(a, H5T_NATIVE_INT, meta.data()) >= 0;
  if (a >= 0) H5Aclose(a);
  const std::vector<long long> extra(kExtraValues, salt);
  return AddAttribute(file, "extra" + std::to_string(salt), H5T_STD_I64LE, kExtraValues, H5T_NATIVE_LLONG,
                      extra.data()) &&
         ok;
}

bool CreateGroup(hid_t file, const std::string& name) {
  hid_t g = H5Gcreate2(file, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  return g >= 0 && H5Gclose(g) >= 0;
}

bool Groups(hid_t file, int salt) {
  bool ok = true;
  for (int i = 0; i < kGroupsMade; ++i)
    ok = CreateGroup(file, "new" + std::to_string(salt) + "_" + std::to_string(i)) && ok;
  const char* again = kFirstGroups[salt % std::size(kFirstGroups)];
  return H5Ldelete(file, again, H5P_DEFAULT) >= 0 && CreateGroup(file, again) && ok;
}

bool RewriteDataset(hid_t file, const SessionFile& shape, int salt) {
  hid_t d = H5Dopen2(file, "dense", H5P_DEFAULT);
  if (d < 0) return false;
  const std::vector<float> dense(shape.dense_values, static_cast<float>(salt));
  const bool ok = H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dense.data()) >= 0;
  return H5Dclose(d) >= 0 && ok;
}

}  // namespace

bool MakeSessionFile(const std::string& path, hid_t fapl, const SessionFile& shape) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (f < 0) return false;
  const hsize_t dims[2] = {2 * shape.chunk_rows, shape.width}, max[2] = {H5S_UNLIMITED, shape.width},
                chunk[2] = {shape.chunk_rows, shape.width};
  hid_t space = H5Screate_simple(2, dims, max);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  bool ok = space >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 2, chunk) >= 0;
  hid_t d = ok ? H5Dcreate2(f, "chunked", H5T_STD_I32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT) : -1;
  std::vector<int> rows(dims[0] * dims[1]);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int>(i);
  ok = ok && d >= 0 && H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()) >= 0;
  if (d >= 0) H5Dclose(d);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (space >= 0) H5Sclose(space);

  space = H5Screate_simple(1, &shape.dense_values, nullptr);
  d = space >= 0 ? H5Dcreate2(f, "dense", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
  const std::vector<float> dense(shape.dense_values, 1.5f);
  ok = d >= 0 && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dense.data()) >= 0 && ok;
  if (d >= 0) H5Dclose(d);
  if (space >= 0) H5Sclose(space);

  const int meta[kMetaValues] = {1, 2, 3, 4, 5, 6, 7, 8};
  ok = AddAttribute(f, "meta", H5T_STD_I32LE, kMetaValues, H5T_NATIVE_INT, meta) && ok;
  for (const char* g : kFirstGroups) ok = CreateGroup(f, g) && ok;
  return H5Fclose(f) >= 0 && ok;
}

bool RunWriteSession(hid_t file, const SessionFile& shape, WriteSession kind, int salt) {
  switch (kind) {
    case WriteSession::kAppendRows: return AppendRows(file, shape, salt);
    case WriteSession::kOverwriteChunk: return OverwriteChunk(file, shape, salt);
    case WriteSession::kUpdateAttributes: return UpdateAttributes(file, salt);
    case WriteSession::kGroups: return Groups(file, salt);
    case WriteSession::kRewriteDataset: return RewriteDataset(file, shape, salt);
  }
  return false;
}

}  // namespace bench
}  // namespace h5redislock
