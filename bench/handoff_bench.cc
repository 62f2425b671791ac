// handoff_bench.cc: case 3, hand-off latency between processes: from the
// release by one process to the acquire by one that was waiting, p50 and p99
// in each direction: writer to writer, writer to reader, reader to writer
// (ping_pong.h says how).
//
//   handoff/lock/<lock>/...       the bare lock (lock_clients.h): from the
//                                 start of the release call to the end of
//                                 the acquire call; 1000 hand-offs per
//                                 direction. The target applies to the
//                                 driver's, counted in round trips (PING,
//                                 same run): p50 <= 3, p99 <= 10. The polling
//                                 lock is case 6's baseline; the floor lock
//                                 (one LPUSH waking one BLPOP) the least any
//                                 blocking lock can take.
//   handoff/file/redislock/...    the driver through HDF5, from the start of
//                                 the holder's H5Fclose to the end of the
//                                 waiter's H5Fopen: what a program sees,
//                                 HDF5's own close and open included.
//   handoff/revoke                a lock cached by an idle process (linger=30:
//                                 only a revocation ends it) and a writer's
//                                 H5Fopen: from its start to its end, the
//                                 revocation's message, the holder's release
//                                 and the grant; 300 rounds, in round trips
//                                 (PINGs of this process between rounds).
//                                 The same writer's open of the free lock,
//                                 timed in each round too, is its own cost
//                                 (its ACQUIRE, its journal, HDF5's open):
//                                 the hand-off is what the revocation adds
//                                 to it (revoke_added_*), the target's
//                                 measure.
//
// The driver's waiter blocks in BLPOP and the releasing script pushes its
// grant, so a hand-off is the holder's LEAVE request and the reply to the
// waiter's BLPOP. The polling lock's waiter notices on its next poll, every
// millisecond.
//
// The round trip they are counted in ("ping_us") is the median of PINGs
// that the benchmark process sends while its two players play, every 5 ms:
// a round trip under the same load as the hand-offs.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include "data_file.h"
#include "environment.h"
#include "percentiles.h"
#include "ping_pong.h"
#include "plain_redis.h"
#include "processes.h"
#include "schemes.h"

namespace h5redislock {
namespace bench {
namespace {

constexpr int kLockHandoffsPerDirection = 1000;
constexpr int kFileHandoffsPerDirection = 300;
// Time for the asker to reach its wait (one request, then BLPOP or polling),
// with room for a busy machine's scheduling delays.
constexpr double kHoldAfterAsked = 0.003;

const char* Role(bool writer) { return writer ? "writer" : "reader"; }

const std::string& HandoffFile() {
  static const std::string path = [] {
    std::string p = ScratchPath("handoff.h5");
    if (!MakeDataFile(p, 1024)) Fatal("cannot create " + p);
    return p;
  }();
  return path;
}

// Runs `rounds` hand-offs between a writer and a writer (or a reader: then
// both directions alternate) and reports percentiles per direction.
void Handoffs(benchmark::State& state, TurnMaker turns, bool mixed, int per_direction) {
  HandoffFile();  // made here, once, so that the players forked below find it made
  PingPong spec;
  spec.turns = std::move(turns);
  spec.writes[1] = !mixed;
  spec.rounds = mixed ? 2 * per_direction : per_direction;
  spec.hold_s = kHoldAfterAsked;
  std::vector<Handoff> handoffs;
  redisContext* plain = ConnectPlain();
  std::vector<double> pings;
  auto ping = [&] {
    const double start = Now();
    if (Request(plain, {"PING"})) pings.push_back(Now() - start);
  };
  for (auto _ : state) {
    if (!RunPingPong(spec, &handoffs, ping)) {
      redisFree(plain);
      state.SkipWithError("a process of the ping-pong failed");
      return;
    }
  }
  redisFree(plain);
  state.counters["ping_us"] = Median(pings) * 1e6;
  for (bool from : {false, true}) {
    for (bool to : {false, true}) {
      std::vector<double> latencies;
      for (const Handoff& h : handoffs)
        if (h.from_writer == from && h.to_writer == to) latencies.push_back(h.latency_s * 1e6);
      if (latencies.empty()) continue;
      const std::string direction = std::string(Role(from)) + "_to_" + Role(to);
      state.counters[direction + "_p50_us"] = Percentile(latencies, 0.50);
      state.counters[direction + "_p99_us"] = Percentile(latencies, 0.99);
      state.counters[direction + "_max_us"] = Percentile(latencies, 1.0);
      state.counters[direction + "_count"] = static_cast<double>(latencies.size());
    }
  }
}

// handoff/revoke (see the top). The holder is a child; the two take turns
// through pipes, blocked while the other plays (a player spinning for its
// turn would take one of the two cores from Redis and the holder's watch):
// the child opens and closes for reading (its lock is then cached), the
// parent opens for writing, timed, and closes (linger 0: let go at once,
// for the child's next open).
void Revocations(benchmark::State& state) {
  constexpr int kRounds = 300;
  HandoffFile();
  redisContext* plain = ConnectPlain();
  std::vector<double> opens, free_opens, pings;
  auto pass = [](int fd) { return write(fd, "t", 1) == 1; };
  auto await = [](int fd) {
    char c;
    return read(fd, &c, 1) == 1;
  };
  for (auto _ : state) {
    int to_holder[2], to_writer[2];
    if (pipe(to_holder) != 0 || pipe(to_writer) != 0) Fatal("cannot make the players' pipes");
    pid_t holder = Spawn([&] {
      auto cached = Scheme::Make(SchemeKind::kRedisLockCached);
      for (int r = 0; r < kRounds; ++r) {
        if (!await(to_holder[0])) return false;
        hid_t f = cached->Open(HandoffFile(), false);
        if (f < 0 || !cached->Close(f) || !pass(to_writer[1])) return false;
      }
      return true;
    });
    close(to_holder[0]);
    close(to_writer[1]);
    auto writer = Scheme::Make(SchemeKind::kRedisLock);
    for (int r = 0; r < kRounds; ++r) {
      if (!pass(to_holder[1]) || !await(to_writer[0])) {
        state.SkipWithError("the caching process stopped");
        break;
      }
      const double ping_start = Now();
      if (Request(plain, {"PING"})) pings.push_back(Now() - ping_start);
      // Once after the cached holder let go (revoked), once of the free lock.
      bool ok = true;
      for (auto* times : {&opens, &free_opens}) {
        const double start = Now();
        hid_t f = writer->Open(HandoffFile(), true);
        times->push_back(Now() - start);
        ok = ok && f >= 0 && writer->Close(f);
      }
      if (!ok) {
        state.SkipWithError("the writer's open or close failed");
        break;
      }
    }
    close(to_holder[1]);  // a holder still waiting for its turn ends
    close(to_writer[0]);
    if (!WaitAll({holder})) state.SkipWithError("the caching process failed");
  }
  redisFree(plain);
  const double ping = Median(pings);
  state.counters["ping_us"] = ping * 1e6;
  state.counters["revoke_p50_us"] = Percentile(opens, 0.50) * 1e6;
  state.counters["revoke_p99_us"] = Percentile(opens, 0.99) * 1e6;
  state.counters["revoke_p50_rt"] = Percentile(opens, 0.50) / ping;
  state.counters["revoke_p99_rt"] = Percentile(opens, 0.99) / ping;
  state.counters["free_open_p50_us"] = Percentile(free_opens, 0.50) * 1e6;
  state.counters["revoke_added_p50_rt"] = (Percentile(opens, 0.50) - Percentile(free_opens, 0.50)) / ping;
  state.counters["revoke_added_p99_rt"] = (Percentile(opens, 0.99) - Percentile(free_opens, 0.50)) / ping;
}

void Register(const std::string& name, TurnMaker turns, bool mixed, int per_direction) {
  benchmark::RegisterBenchmark(name.c_str(), Handoffs, std::move(turns), mixed, per_direction)
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

[[maybe_unused]] const bool registered = [] {
  for (LockKind kind : {LockKind::kRedisLock, LockKind::kPolling, LockKind::kFloor}) {
    const std::string prefix = std::string("handoff/lock/") + LockName(kind);
    Register(prefix + "/writers", LockTurns(kind, "handoff"), false, kLockHandoffsPerDirection);
    // The floor lock is exclusive only: a reader is one more writer to it.
    if (kind != LockKind::kFloor)
      Register(prefix + "/mixed", LockTurns(kind, "handoff"), true, kLockHandoffsPerDirection);
  }
  // The file's name is known only once the scratch directory exists.
  auto file_turns = [](bool write) { return FileTurns(SchemeKind::kRedisLock, HandoffFile())(write); };
  Register("handoff/file/redislock/writers", file_turns, false, kFileHandoffsPerDirection);
  Register("handoff/file/redislock/mixed", file_turns, true, kFileHandoffsPerDirection);
  benchmark::RegisterBenchmark("handoff/revoke", Revocations)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
}  // namespace bench
}  // namespace h5redislock
