#include "watchdog.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/process_identity.h"
#include "embedded_server.h"
#include "file_lock.h"
#include "redis/redis_connection.h"
#include "redis/redis_endpoint.h"
#include "redis_info.h"
#include "server_info.h"
#include "sessions.h"
#include "time_format.h"

namespace h5redislock {
namespace cli {
namespace {

constexpr auto kStopGrace = std::chrono::seconds(10);

void Say(const std::string& message) {
  std::fprintf(stderr, "%s h5redislock watchdog[%d]: %s\n", UtcStamp().c_str(), getpid(), message.c_str());
  std::fflush(stderr);
}

class Watchdog {
 public:
  Watchdog(const ServerFiles& files, double idle_timeout_s) : files_(files), idle_timeout_s_(idle_timeout_s) {}

  int Run();

 private:
  bool SpawnRedis(const sigset_t& original_mask);
  bool Idle();
  bool StopIfStillIdle();
  void StopRedis();
  void CleanUp();

  const ServerFiles files_;
  const double idle_timeout_s_;
  pid_t redis_pid_ = -1;
  std::unique_ptr<RedisConnection> conn_;  // for INFO clients; it counts as one client
};

int Watchdog::Run() {
  // The signals are taken with sigtimedwait in the loop, never by handlers.
  sigset_t watched, original;
  sigemptyset(&watched);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&watched, sig);
  sigprocmask(SIG_BLOCK, &watched, &original);
  if (!SpawnRedis(original)) return 1;
  ServerInfo info;
  info.watchdog_pid = getpid();
  info.watchdog_start = ThisProcess().start;
  info.redis_pid = redis_pid_;
  info.idle_timeout_s = idle_timeout_s_;
  Status s = WriteServerInfo(files_.info, info);
  if (!s.ok()) {
    Say(s.message());
    StopRedis();
    return 1;
  }
  Say("redis-server pid " + std::to_string(redis_pid_) + " on " + files_.socket + "; idle timeout " +
      (idle_timeout_s_ > 0 ? FormatSeconds(idle_timeout_s_) : "none"));

  // Check a few times per idle timeout, at most once a second.
  const double tick_s = idle_timeout_s_ > 0 ? std::clamp(idle_timeout_s_ / 4, 0.05, 1.0) : 1.0;
  const timespec tick = {static_cast<time_t>(tick_s), static_cast<long>((tick_s - static_cast<long>(tick_s)) * 1e9)};
  const Clock::time_point kNotIdle = Clock::time_point::max();
  Clock::time_point idle_since = kNotIdle;
  for (;;) {
    const int sig = sigtimedwait(&watched, nullptr, &tick);
    int status = 0;
    if (waitpid(redis_pid_, &status, WNOHANG) == redis_pid_) {
      Say("redis-server exited (" +
          (WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                               : "status " + std::to_string(WEXITSTATUS(status))) +
          "); see " + files_.redis_log);
      CleanUp();
      return 1;
    }
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
      Say(std::string("stopping on ") + strsignal(sig));
      StopRedis();
      CleanUp();
      return 0;
    }
    if (idle_timeout_s_ <= 0) continue;
    if (!Idle()) {
      idle_since = kNotIdle;
      continue;
    }
    if (idle_since == kNotIdle) idle_since = Clock::now();
    if (std::chrono::duration<double>(Clock::now() - idle_since).count() >= idle_timeout_s_ && StopIfStillIdle())
      return 0;
  }
}

bool Watchdog::SpawnRedis(const sigset_t& original_mask) {
  std::string redis;
  Status s = FindRedisServer(&redis);
  if (!s.ok()) {
    Say(s.message());
    return false;
  }
  // Unix socket only, readable by this user only; nothing written to disk.
  std::vector<std::string> args = {redis,         "--port",        "0",         "--unixsocket",
                                   files_.socket, "--unixsocketperm", "700",   "--save",
                                   "",            "--appendonly",  "no",        "--dir",
                                   files_.dir,    "--logfile",     files_.redis_log, "--daemonize",
                                   "no"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  unlink(files_.socket.c_str());
  const pid_t parent = getpid();
  redis_pid_ = fork();
  if (redis_pid_ == 0) {
    sigprocmask(SIG_SETMASK, &original_mask, nullptr);
    // If the watchdog dies, even by SIGKILL, nobody would ever stop the server.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    execv(redis.c_str(), argv.data());
    _exit(127);
  }
  if (redis_pid_ < 0) {
    Say(std::string("fork failed: ") + std::strerror(errno));
    return false;
  }
  return true;
}

// No `run` session and no Redis client but ours. A server that cannot be
// asked is not idle: it may be starting, and stopping it is never urgent.
bool Watchdog::Idle() {
  if (!SessionsIdle(files_)) return false;
  if (!conn_ || conn_->broken()) {
    RedisEndpoint endpoint;
    conn_.reset();
    if (!ParseRedisUrl(files_.url(), &endpoint).ok() || !RedisConnection::Open(endpoint, 2.0, &conn_).ok())
      return false;
  }
  std::string clients;
  return ReadInfoField(*conn_, "clients", "connected_clients", &clients).ok() && std::atol(clients.c_str()) <= 1;
}

// Stops the server if it is still idle under start.lock. The lock is only
// tried: a starter holding it has just found the server up (or is about
// to), and the watchdog then waits for the next idle period.
bool Watchdog::StopIfStillIdle() {
  std::unique_ptr<FileLock> stopping;
  if (!FileLock::Try(files_.start_lock, FileLock::Mode::kExclusive, &stopping).ok() || !stopping || !Idle())
    return false;
  Say("idle for " + FormatSeconds(idle_timeout_s_) + ": stopping");
  StopRedis();
  CleanUp();  // still under start.lock: a starter then finds nothing left
  return true;
}

void Watchdog::StopRedis() {
  conn_.reset();
  kill(redis_pid_, SIGTERM);
  const auto give_up = Clock::now() + kStopGrace;
  while (waitpid(redis_pid_, nullptr, WNOHANG) == 0) {
    if (Clock::now() >= give_up) {
      Say("redis-server ignored SIGTERM for 10 s: killing it");
      kill(redis_pid_, SIGKILL);
      waitpid(redis_pid_, nullptr, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Watchdog::CleanUp() {
  unlink(files_.info.c_str());
  unlink(files_.socket.c_str());
}

}  // namespace

int RunWatchdog(const ServerFiles& files, double idle_timeout_s) { return Watchdog(files, idle_timeout_s).Run(); }

}  // namespace cli
}  // namespace h5redislock
