#include "redis_stats.h"

#include <cstdlib>
#include <sstream>

#include "environment.h"

namespace h5redislock {
namespace bench {
namespace {

std::string Info(RedisConnection& conn, const char* section) {
  Reply reply;
  Status s = conn.Command({"INFO", section}, &reply);
  if (!s.ok()) Fatal("INFO " + std::string(section) + ": " + s.message());
  return ReplyString(reply.get());
}

// The value of `field=` within "calls=12,usec=34,..."; 0 if absent.
long long Field(const std::string& list, const std::string& field) {
  size_t at = list.find(field + "=");
  return at == std::string::npos ? 0 : std::atoll(list.c_str() + at + field.size() + 1);
}

}  // namespace

long long ServerStats::TotalCalls() const {
  long long total = 0;
  for (const auto& [command, n] : calls)
    if (command != "info") total += n;
  return total;
}

long long ServerStats::Requests() const {
  auto count = [&](const char* command) {
    auto it = calls.find(command);
    return it == calls.end() ? 0 : it->second;
  };
  const long long scripts = count("fcall") + count("evalsha") + count("eval");
  return scripts > 0 ? scripts + count("blpop") : TotalCalls();
}

ServerStats ReadServerStats(RedisConnection& conn) {
  ServerStats stats;
  // Lines "cmdstat_get:calls=3,usec=5,usec_per_call=1.67,rejected_calls=0,failed_calls=0".
  std::istringstream commands(Info(conn, "commandstats"));
  for (std::string line; std::getline(commands, line);) {
    const std::string prefix = "cmdstat_";
    size_t colon = line.find(':');
    if (line.rfind(prefix, 0) != 0 || colon == std::string::npos) continue;
    std::string values = line.substr(colon + 1);
    stats.calls[line.substr(prefix.size(), colon - prefix.size())] = Field(values, "calls");
  }
  // Lines "used_cpu_sys:1.234567".
  std::istringstream cpu(Info(conn, "cpu"));
  for (std::string line; std::getline(cpu, line);) {
    if (line.rfind("used_cpu_sys:", 0) == 0 || line.rfind("used_cpu_user:", 0) == 0)
      stats.cpu_s += std::atof(line.c_str() + line.find(':') + 1);
  }
  return stats;
}

ServerStats operator-(const ServerStats& after, const ServerStats& before) {
  ServerStats delta = after;
  for (const auto& [command, n] : before.calls) delta.calls[command] -= n;
  delta.cpu_s -= before.cpu_s;
  return delta;
}

}  // namespace bench
}  // namespace h5redislock
