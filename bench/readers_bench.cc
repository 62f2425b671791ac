// readers_bench.cc: case 4, readers scaling: 1, 2, 4 ... 64 processes, each
// opening one file read-only, reading its whole dataset and closing it, over
// and over for a fixed window; the aggregate cycles per second with the
// driver against the same with sec2. Readers share the lock and never wait
// for each other, so they should scale as they do unlocked: target >= 0.9.
//
// The lock's cost per cycle is fixed (case 1), so the ratio also depends on
// how much a reader reads per open: kReadBytes, 16 MiB, about 1.3 ms of
// sec2's time here, so that a lock meeting case 1's target (about 60 us per
// cycle) would reach 0.95. A miss here is case 1's cost, or a cost that grows
// with the readers. Like case 2, the drivers are measured in pairs of
// windows, in alternating order, and "ratio" is the median of the pairs'
// ratios. The Redis server's CPU time per cycle shows whether the lock's
// cost grows with the readers.
#include <benchmark/benchmark.h>

#include <vector>

#include "data_file.h"
#include "environment.h"
#include "percentiles.h"
#include "processes.h"
#include "redis_stats.h"
#include "schemes.h"

namespace h5redislock {
namespace bench {
namespace {

constexpr size_t kReadBytes = 16 << 20;
constexpr double kWindowSeconds = 0.5;
constexpr int kPairs = 3;
constexpr int kMaxReaders = 64;

const std::string& SharedFile() {
  static const std::string path = [] {
    std::string p = ScratchPath("readers.h5");
    if (!MakeDataFile(p, kReadBytes)) Fatal("cannot create " + p);
    return p;
  }();
  return path;
}

bool ReadCycle(Scheme& scheme, std::vector<unsigned char>& buffer) {
  hid_t file = scheme.Open(SharedFile(), false);
  if (file < 0) return false;
  bool read = false;
  {
    Dataset data(file);
    read = data.ok() && data.bytes() == buffer.size() && data.Read(buffer.data());
  }
  return scheme.Close(file) && read;
}

// A reader: one cycle to set up (connections, caches), then cycles until the
// window closes; only cycles that ended within it count.
bool Reader(SchemeKind kind, StartSignal& start, const double& window_end, long long* cycles) {
  auto scheme = Scheme::Make(kind);
  std::vector<unsigned char> buffer(kReadBytes);
  if (!ReadCycle(*scheme, buffer)) return false;
  start.Await();
  for (;;) {
    if (!ReadCycle(*scheme, buffer)) return false;
    if (Now() > window_end) return true;
    ++*cycles;
  }
}

struct Window {
  double cycles_per_s = 0;
  double server_cpu_us_per_cycle = 0;
};

// `readers` processes reading through `kind` for one window; false on failure.
bool RunWindow(SchemeKind kind, int readers, RedisConnection& stats, Window* out) {
  SharedArray<long long> cycles(readers);
  SharedArray<double> window_end(1);
  StartSignal start;
  std::vector<pid_t> children;
  for (int i = 0; i < readers; ++i)
    children.push_back(Spawn([&, i] { return Reader(kind, start, window_end[0], &cycles[i]); }));
  const bool ready = start.AllReady(readers);
  const ServerStats before = ReadServerStats(stats);
  window_end[0] = Now() + kWindowSeconds;
  const double started = start.Release();
  const bool ok = WaitAll(children) && ready;
  const ServerStats used = ReadServerStats(stats) - before;
  long long total = 0;
  for (int i = 0; i < readers; ++i) total += cycles[i];
  out->cycles_per_s = static_cast<double>(total) / (window_end[0] - started);
  out->server_cpu_us_per_cycle = total ? used.cpu_s * 1e6 / static_cast<double>(total) : 0;
  return ok && total > 0;
}

void Readers(benchmark::State& state, int readers) {
  SharedFile();
  auto stats = ConnectToRedis();
  std::vector<double> sec2, ours, ratios, server_cpu;
  for (auto _ : state) {
    for (int pair = 0; pair < kPairs; ++pair) {
      Window a, b;
      const bool ours_first = pair % 2 == 1;
      bool ok = RunWindow(ours_first ? SchemeKind::kRedisLock : SchemeKind::kSec2, readers, *stats, &a) &&
                RunWindow(ours_first ? SchemeKind::kSec2 : SchemeKind::kRedisLock, readers, *stats, &b);
      if (ours_first) std::swap(a, b);
      if (!ok) {
        state.SkipWithError("a reader failed");
        return;
      }
      sec2.push_back(a.cycles_per_s);
      ours.push_back(b.cycles_per_s);
      ratios.push_back(b.cycles_per_s / a.cycles_per_s);
      server_cpu.push_back(b.server_cpu_us_per_cycle);
    }
    state.SetIterationTime(2 * kPairs * kWindowSeconds);
  }
  state.counters["sec2_cycles_per_s"] = Median(sec2);
  state.counters["redislock_cycles_per_s"] = Median(ours);
  state.counters["ratio"] = Median(ratios);
  state.counters["server_cpu_us"] = Median(server_cpu);
  state.counters["read_bytes"] = kReadBytes;
}

[[maybe_unused]] const bool registered = [] {
  for (int readers = 1; readers <= kMaxReaders; readers *= 2) {
    benchmark::RegisterBenchmark(("readers/" + std::to_string(readers)).c_str(), Readers, readers)
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
}  // namespace bench
}  // namespace h5redislock
