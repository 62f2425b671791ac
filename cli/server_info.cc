#include "server_info.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "base/process_identity.h"

namespace h5redislock {
namespace cli {

bool ServerInfo::WatchdogAlive() const {
  // The watchdog runs on this host, in our pid namespace: our host key is its.
  return watchdog_pid > 0 &&
         CheckLiveness(ThisProcess().host_key, watchdog_pid, watchdog_start) == Liveness::kAlive;
}

Status WriteServerInfo(const std::string& path, const ServerInfo& info) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << "watchdog_pid=" << info.watchdog_pid << "\nwatchdog_start=" << info.watchdog_start
        << "\nredis_pid=" << info.redis_pid << "\nidle_timeout=" << info.idle_timeout_s << "\n";
    if (!out.flush()) return Status::IoError("cannot write '" + temp + "'");
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0)
    return Status::IoError("cannot write '" + path + "': " + std::strerror(errno));
  return Status::OK();
}

bool ReadServerInfo(const std::string& path, ServerInfo* info) {
  std::ifstream in(path);
  ServerInfo read;
  int fields = 0;
  for (std::string line; std::getline(in, line);) {
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "watchdog_pid") read.watchdog_pid = std::atol(value.c_str());
    else if (key == "watchdog_start") read.watchdog_start = std::strtoull(value.c_str(), nullptr, 10);
    else if (key == "redis_pid") read.redis_pid = std::atol(value.c_str());
    else if (key == "idle_timeout") read.idle_timeout_s = std::atof(value.c_str());
    else continue;
    ++fields;
  }
  if (fields != 4) return false;
  *info = read;
  return true;
}

}  // namespace cli
}  // namespace h5redislock
