// ping_bench.cc: the physical limit. A PING is one round trip to the server
// and the least work it can do there: case 1's target is counted in PINGs,
// hand-offs (case 3) are counted in them, and the server's CPU per PING puts
// its CPU per lock cycle (case 7) in proportion. scripts/bench runs "ping"
// with every case, so each ratio has its baseline from the same minutes.
//
//   ping          plain hiredis, as any client would send it: the baseline
//   ping/driver   the driver's RedisConnection::Command, to show what the
//                 driver adds to each request of its own
//   ping/script   EVALSHA of a script that only returns, with as many keys
//                 and arguments as the driver's ACQUIRE: the least a
//                 scripted request costs, before the script does anything
#include <benchmark/benchmark.h>
#include <hiredis/hiredis.h>

#include "environment.h"
#include "redis_stats.h"

namespace h5redislock {
namespace bench {
namespace {

void SetServerCpu(benchmark::State& state, const ServerStats& used) {
  state.counters["server_cpu_us"] = benchmark::Counter(used.cpu_s * 1e6, benchmark::Counter::kAvgIterations);
}

redisContext* ConnectPlain() {
  RedisEndpoint endpoint;
  Status s = ParseRedisUrl(RedisUrl(), &endpoint);
  if (!s.ok()) Fatal(s.message());
  redisContext* c = endpoint.transport == RedisEndpoint::Transport::kUnix
                        ? redisConnectUnix(endpoint.socket_path.c_str())
                        : redisConnect(endpoint.host.c_str(), endpoint.port);
  if (!c || c->err) Fatal("cannot connect to " + endpoint.Describe());
  return c;
}

void Ping(benchmark::State& state) {
  redisContext* c = ConnectPlain();
  auto stats = ConnectToRedis();
  const ServerStats before = ReadServerStats(*stats);
  for (auto _ : state) {
    auto* reply = static_cast<redisReply*>(redisCommand(c, "PING"));
    if (!reply) {
      state.SkipWithError("PING failed");
      break;
    }
    freeReplyObject(reply);
  }
  SetServerCpu(state, ReadServerStats(*stats) - before);
  redisFree(c);
}

void EmptyScript(benchmark::State& state) {
  redisContext* c = ConnectPlain();
  auto* loaded = static_cast<redisReply*>(redisCommand(c, "SCRIPT LOAD %s", "return 1"));
  if (!loaded || loaded->type != REDIS_REPLY_STRING) Fatal("SCRIPT LOAD failed");
  const std::string sha(loaded->str, loaded->len);
  freeReplyObject(loaded);
  auto stats = ConnectToRedis();
  const ServerStats before = ReadServerStats(*stats);
  for (auto _ : state) {
    auto* reply = static_cast<redisReply*>(
        redisCommand(c, "EVALSHA %s 5 k:state k:lease k:queue k:held k:info t w 10000 {} 1 600000", sha.c_str()));
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
      state.SkipWithError("EVALSHA failed");
      if (reply) freeReplyObject(reply);
      break;
    }
    freeReplyObject(reply);
  }
  SetServerCpu(state, ReadServerStats(*stats) - before);
  redisFree(c);
}

void PingThroughDriver(benchmark::State& state) {
  auto conn = ConnectToRedis();
  const ServerStats before = ReadServerStats(*conn);
  for (auto _ : state) {
    Reply reply;
    if (!conn->Command({"PING"}, &reply).ok()) {
      state.SkipWithError("PING failed");
      break;
    }
  }
  SetServerCpu(state, ReadServerStats(*conn) - before);
}

BENCHMARK(Ping)->Name("ping")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(PingThroughDriver)->Name("ping/driver")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(EmptyScript)->Name("ping/script")->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace bench
}  // namespace h5redislock
