// journal_bench.cc: what all-or-nothing write sessions cost (issue "Atomic
// write sessions"): each kind of session (write_sessions.h: those that the
// crash matrix kills), run through the driver with journal=undo and with
// journal=off in alternating pairs, on files made alike. Reported per kind: the time ratio undo/off, and the bytes the
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
#include "write_sessions.h"

namespace h5redislock {
namespace bench {
namespace {

// The sessions of the crash matrix (tests/journal_test.cc) on a larger file:
// chunks of 64 rows x 1024 integers (256 KiB), and 64 MiB of floats to rewrite.
constexpr SessionFile kFile = {/*width=*/1024, /*chunk_rows=*/64, /*dense_values=*/(64u << 20) / sizeof(float)};

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

void Journal(benchmark::State& state, WriteSession kind) {
  const std::string undo_path = ScratchPath("journal_undo.h5"), off_path = ScratchPath("journal_off.h5");
  if (!MakeSessionFile(undo_path, H5P_DEFAULT, kFile) || !MakeSessionFile(off_path, H5P_DEFAULT, kFile)) {
    state.SkipWithError("cannot make the files (see HDF5's errors)");
    return;
  }
  hid_t undo = Fapl(true), off = Fapl(false);
  std::vector<double> ratios, extra_bytes;
  bool ok = true;
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
      hid_t f = H5Fopen((journal ? undo_path : off_path).c_str(), H5F_ACC_RDWR, journal ? undo : off);
      ok = f >= 0 && RunWriteSession(f, kFile, kind, round) && H5Fclose(f) >= 0 && ok;
      seconds[journal] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      bytes[journal] = WrittenBytes() - before;
    }
    ratios.push_back(seconds[1] / seconds[0]);
    extra_bytes.push_back(static_cast<double>(bytes[1] - bytes[0]));
  }
  if (!ok) state.SkipWithError("a session failed (see HDF5's errors)");
  state.counters["ratio"] = Median(ratios);
  state.counters["journal_bytes"] = Median(extra_bytes);
  H5Pclose(undo);
  H5Pclose(off);
  std::remove(undo_path.c_str());
  std::remove(off_path.c_str());
}

BENCHMARK_CAPTURE(Journal, append_rows, WriteSession::kAppendRows)->Iterations(40)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Journal, overwrite_chunk, WriteSession::kOverwriteChunk)
    ->Iterations(40)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Journal, update_attributes, WriteSession::kUpdateAttributes)
    ->Iterations(40)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Journal, create_delete_groups, WriteSession::kGroups)->Iterations(40)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Journal, rewrite_64MiB, WriteSession::kRewriteDataset)->Iterations(12)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bench
}  // namespace h5redislock
