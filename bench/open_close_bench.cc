// open_close_bench.cc: case 1, the uncontended open+close cycle: H5Fopen and
// H5Fclose of a small file, read-only or read-write, with nobody else
// around. The lock adds two requests to Redis (the ACQUIRE and LEAVE
// functions); the target is that it adds at most 1.2 x the time of two PINGs
// to sec2's cycle. A reopen of a lock this process caches (linger=) adds no
// request: the target is at most 1.05 x sec2's cycle.
//
// Beside them, to explain the result: the polling lock around sec2 (case
// 6); the driver's lock alone, without HDF5 (lock_clients.h), which tells
// the protocol's cost from the rest of the driver's; the floor lock, two
// trivial requests, which is what the target allows; two FCALLs of a
// function that only returns, the least two requests to functions cost; and two
// PINGs through the driver's own connection class, which shows what it adds
// to every request.
//
// Load on this shared machine comes in spells of seconds, longer than one
// benchmark, so all of these run in rounds inside one benchmark: each round
// times every contender once, in rotating order, and each ratio is the
// median over rounds of that round's ratio. Everything is measured within
// milliseconds of its baseline.
#include <benchmark/benchmark.h>
#include <time.h>

#include <functional>
#include <map>
#include <vector>

#include "data_file.h"
#include "environment.h"
#include "lock_clients.h"
#include "percentiles.h"
#include "plain_redis.h"
#include "processes.h"
#include "schemes.h"

namespace h5redislock {
namespace bench {
namespace {

std::string MakeSmallFile(const std::string& name) {
  std::string p = ScratchPath(name);
  if (!MakeDataFile(p, 1024)) Fatal("cannot create " + p);
  return p;
}

const std::string& SmallFile() {
  static const std::string path = MakeSmallFile("open_close.h5");
  return path;
}

// The cached contender's own file: a lock cached by this process is shared
// by all its opens of the file, so on SmallFile it would serve the uncached
// contender's opens too.
const std::string& CachedFile() {
  static const std::string path = MakeSmallFile("open_close_cached.h5");
  return path;
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// One thing timed in every round.
struct Contender {
  Contender(std::string n, std::function<bool()> r) : name(std::move(n)), run(std::move(r)) {}
  std::string name;
  std::function<bool()> run;
  std::vector<double> seconds, cpu_seconds;
};

std::function<bool()> FileCycle(Scheme& scheme, bool write, const std::string& path = SmallFile()) {
  return [&scheme, write, path] {
    hid_t file = scheme.Open(path, write);
    return file >= 0 && scheme.Close(file);
  };
}

std::function<bool()> LockCycle(LockClient& lock, bool write) {
  return [&lock, write] { return lock.Acquire("bench-lock-cycle", write) && lock.Release(); };
}

// Two requests of `argv` on a plain hiredis connection.
std::function<bool()> TwoRequests(redisContext* c, std::vector<std::string> argv) {
  return [c, argv = std::move(argv)] { return Request(c, argv) && Request(c, argv); };
}

// Two PINGs through the driver's RedisConnection.
std::function<bool()> TwoDriverPings(RedisConnection& conn) {
  return [&conn] {
    Reply a, b;
    return conn.Command({"PING"}, &a).ok() && conn.Command({"PING"}, &b).ok();
  };
}

void OpenClose(benchmark::State& state, bool write) {
  auto sec2 = Scheme::Make(SchemeKind::kSec2);
  auto ours = Scheme::Make(SchemeKind::kRedisLock);
  auto cached = Scheme::Make(SchemeKind::kRedisLockCached);
  auto polling = Scheme::Make(SchemeKind::kPolling);
  auto lock = LockClient::Make(LockKind::kRedisLock);
  auto floor_lock = LockClient::Make(LockKind::kFloor);
  auto driver_connection = ConnectToRedis();
  redisContext* plain = ConnectPlain();
  const std::string empty_function = LoadEmptyFunction(plain);
  std::vector<Contender> contenders = {
      {"sec2", FileCycle(*sec2, write)},
      {"redislock", FileCycle(*ours, write)},
      {"redislock_cached", FileCycle(*cached, write, CachedFile())},
      {"polling", FileCycle(*polling, write)},
      {"lock", LockCycle(*lock, write)},
      {"floor", LockCycle(*floor_lock, write)},
      {"two_scripts", TwoRequests(plain, EmptyFunctionCommand(empty_function))},
      {"two_pings", TwoRequests(plain, {"PING"})},
      {"two_driver_pings", TwoDriverPings(*driver_connection)},
  };
  size_t round = 0;
  for (auto _ : state) {
    double total = 0;
    for (size_t i = 0; i < contenders.size(); ++i) {
      Contender& c = contenders[(round + i) % contenders.size()];
      const double start = Now(), cpu_start = ThreadCpuSeconds();
      if (!c.run()) {
        state.SkipWithError((c.name + " failed").c_str());
        redisFree(plain);
        return;
      }
      c.cpu_seconds.push_back(ThreadCpuSeconds() - cpu_start);
      c.seconds.push_back(Now() - start);
      total += c.seconds.back();
    }
    state.SetIterationTime(total);
    ++round;
  }
  redisFree(plain);

  std::map<std::string, const Contender*> by_name;
  for (const Contender& c : contenders) {
    by_name[c.name] = &c;
    state.counters[c.name + "_us"] = Median(c.seconds) * 1e6;
    state.counters[c.name + "_cpu_us"] = Median(c.cpu_seconds) * 1e6;
  }
  // Per-round ratios, then their medians.
  auto ratio = [&](const std::string& counter, const std::function<double(size_t)>& of_round) {
    std::vector<double> ratios;
    for (size_t r = 0; r < round; ++r) ratios.push_back(of_round(r));
    state.counters[counter] = Median(ratios);
  };
  auto t = [&](const char* name, size_t r) { return by_name[name]->seconds[r]; };
  auto cpu = [&](const char* name, size_t r) { return by_name[name]->cpu_seconds[r]; };
  ratio("added_vs_two_pings", [&](size_t r) { return (t("redislock", r) - t("sec2", r)) / t("two_pings", r); });
  ratio("redislock_vs_sec2", [&](size_t r) { return t("redislock", r) / t("sec2", r); });
  ratio("cached_vs_sec2", [&](size_t r) { return t("redislock_cached", r) / t("sec2", r); });
  ratio("polling_added_vs_two_pings", [&](size_t r) { return (t("polling", r) - t("sec2", r)) / t("two_pings", r); });
  ratio("lock_vs_two_pings", [&](size_t r) { return t("lock", r) / t("two_pings", r); });
  ratio("floor_vs_two_pings", [&](size_t r) { return t("floor", r) / t("two_pings", r); });
  ratio("scripts_vs_two_pings", [&](size_t r) { return t("two_scripts", r) / t("two_pings", r); });
  ratio("driver_pings_vs_two_pings", [&](size_t r) { return t("two_driver_pings", r) / t("two_pings", r); });
  ratio("added_cpu_vs_two_pings_cpu",
        [&](size_t r) { return (cpu("redislock", r) - cpu("sec2", r)) / cpu("two_pings", r); });
}

[[maybe_unused]] const bool registered = [] {
  for (bool write : {false, true}) {
    benchmark::RegisterBenchmark(write ? "open_close/write" : "open_close/read", OpenClose, write)
        ->MinTime(2.0)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
}  // namespace bench
}  // namespace h5redislock
