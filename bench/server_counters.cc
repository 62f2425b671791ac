#include "server_counters.h"

namespace h5redislock {
namespace bench {

void SetServerCounters(benchmark::State& state, const ServerStats& used, double cycles) {
  if (cycles <= 0) return;
  state.counters["commands"] = static_cast<double>(used.TotalCalls()) / cycles;
  state.counters["requests"] = static_cast<double>(used.Requests()) / cycles;
  state.counters["server_cpu_us"] = used.cpu_s * 1e6 / cycles;
  for (const auto& [command, calls] : used.calls)
    if (calls > 0 && command != "info") state.counters["cmd_" + command] = static_cast<double>(calls) / cycles;
}

}  // namespace bench
}  // namespace h5redislock
