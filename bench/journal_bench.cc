// journal_bench.cc: what all-or-nothing write sessions cost (issue "Atomic
// write sessions"): each kind of session, run through the driver with
// journal=undo and with journal=off in alternating pairs, on files made
// alike. Reported per kind: the time ratio undo/off, and the bytes the
// journal added, measured as the difference in bytes the process handed to
// write(2)/pwrite(2) (/proc/self/io wchar) between the two. Targets: appends
// cost no journal bytes beyond its header; overwriting 64 MiB costs at most
// 1.10 x the session without the journal.
#include <benchmark/benchmark.h>
#include <hdf5.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "environment.h"
#include "percentiles.h"

namespace h5redislock {
namespace bench {
namespace {

enum class Kind { kAppendRows, kOverwriteChunk, kUpdateAttributes, kGroups, kRewrite64MiB };
constexpr hsize_t kWidth = 1024, kChunkRows = 64;
constexpr hsize_t kDenseFloats = (64u << 20) / sizeof(float);

long long WrittenBytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  long long value = 0;
  while (io >> key >> value)
    if (key == "wchar:") return value;
  return 0;
}

hid_t Fapl(bool journal) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  std::string config = "url=" + RedisUrl() + ";journal=" + (journal ? "undo" : "off");
  H5Pset_driver_by_name(fapl, "redislock", config.c_str());
  return fapl;
}

// A file with a chunked, extendible dataset, a 64 MiB dense one, an
// attribute and a few groups, written through sec2.
void MakeFile(const std::string& path) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dims[2] = {kChunkRows * 4, kWidth}, max[2] = {H5S_UNLIMITED, kWidth}, chunk[2] = {kChunkRows, kWidth};
  hid_t space = H5Screate_simple(2, dims, max);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 2, chunk);
  hid_t d = H5Dcreate2(f, "chunked", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  std::vector<float> rows(dims[0] * kWidth, 1.0f);
  H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data());
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
  hsize_t n = kDenseFloats;
  space = H5Screate_simple(1, &n, nullptr);
  d = H5Dcreate2(f, "dense", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<float> dense(kDenseFloats, 2.0f);
  H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dense.data());
  H5Dclose(d);
  H5Sclose(space);
  n = 16;
  space = H5Screate_simple(1, &n, nullptr);
  hid_t a = H5Acreate2(f, "meta", H5T_NATIVE_INT, space, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<int> meta(16, 1);
  H5Awrite(a, H5T_NATIVE_INT, meta.data());
  H5Aclose(a);
  H5Sclose(space);
  for (int i = 0; i < 8; ++i) H5Gclose(H5Gcreate2(f, ("g" + std::to_string(i)).c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Fclose(f);
}

void WriteRows(hid_t f, hsize_t first, float value) {
  hid_t d = H5Dopen2(f, "chunked", H5P_DEFAULT);
  hid_t space = H5Dget_space(d);
  hsize_t dims[2];
  H5Sget_simple_extent_dims(space, dims, nullptr);
  H5Sclose(space);
  if (first + kChunkRows > dims[0]) {
    hsize_t grown[2] = {first + kChunkRows, kWidth};
    H5Dset_extent(d, grown);
  }
  space = H5Dget_space(d);
  hsize_t start[2] = {first, 0}, count[2] = {kChunkRows, kWidth};
  H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
  hid_t mem = H5Screate_simple(2, count, nullptr);
  std::vector<float> rows(kChunkRows * kWidth, value);
  H5Dwrite(d, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, rows.data());
  H5Sclose(mem);
  H5Sclose(space);
  H5Dclose(d);
}

// One session of `kind` on `path`; `round` varies the values and names.
void Session(const std::string& path, hid_t fapl, Kind kind, int round) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
  switch (kind) {
    case Kind::kAppendRows: {
      hid_t d = H5Dopen2(f, "chunked", H5P_DEFAULT);
      hid_t space = H5Dget_space(d);
      hsize_t dims[2];
      H5Sget_simple_extent_dims(space, dims, nullptr);
      H5Sclose(space);
      H5Dclose(d);
      WriteRows(f, dims[0], static_cast<float>(round));
      break;
    }
    case Kind::kOverwriteChunk:
      WriteRows(f, 0, static_cast<float>(round));
      break;
    case Kind::kUpdateAttributes: {
      hid_t a = H5Aopen(f, "meta", H5P_DEFAULT);
      std::vector<int> meta(16, round);
      H5Awrite(a, H5T_NATIVE_INT, meta.data());
      H5Aclose(a);
      break;
    }
    case Kind::kGroups: {
      std::string name = "new" + std::to_string(round);
      H5Gclose(H5Gcreate2(f, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
      H5Ldelete(f, ("g" + std::to_string(round % 8)).c_str(), H5P_DEFAULT);
      H5Gclose(H5Gcreate2(f, ("g" + std::to_string(round % 8)).c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
      break;
    }
    case Kind::kRewrite64MiB: {
      std::vector<float> dense(kDenseFloats, static_cast<float>(round));
      hid_t d = H5Dopen2(f, "dense", H5P_DEFAULT);
      H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dense.data());
      H5Dclose(d);
      break;
    }
  }
  H5Fclose(f);
}

void Journal(benchmark::State& state, Kind kind) {
  const std::string undo_path = ScratchPath("journal_undo.h5"), off_path = ScratchPath("journal_off.h5");
  MakeFile(undo_path);
  MakeFile(off_path);
  hid_t undo = Fapl(true), off = Fapl(false);
  std::vector<double> ratios, extra_bytes;
  int round = 0;
  for (auto _ : state) {
    ++round;
    // Alternate which goes first: the second of a pair finds warmer caches.
    double seconds[2];
    long long bytes[2];
    for (int k = 0; k < 2; ++k) {
      bool journal = (k == 0) == (round % 2 == 0);
      long long before = WrittenBytes();
      auto t0 = std::chrono::steady_clock::now();
      Session(journal ? undo_path : off_path, journal ? undo : off, kind, round);
      seconds[journal] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      bytes[journal] = WrittenBytes() - before;
    }
    ratios.push_back(seconds[1] / seconds[0]);
    extra_bytes.push_back(static_cast<double>(bytes[1] - bytes[0]));
  }
  state.counters["ratio"] = Median(ratios);
  state.counters["journal_bytes"] = Median(extra_bytes);
  H5Pclose(undo);
  H5Pclose(off);
  std::remove(undo_path.c_str());
  std::remove(off_path.c_str());
}

BENCHMARK_CAPTURE(Journal, append_rows, Kind::kAppendRows)->Iterations(40)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Journal, overwrite_chunk, Kind::kOverwriteChunk)->Iterations(40)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Journal, update_attributes, Kind::kUpdateAttributes)->Iterations(40)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Journal, create_delete_groups, Kind::kGroups)->Iterations(40)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Journal, rewrite_64MiB, Kind::kRewrite64MiB)->Iterations(12)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bench
}  // namespace h5redislock
