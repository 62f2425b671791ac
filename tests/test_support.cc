#include "test_support.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <hiredis/hiredis.h>

#include "lock/config.h"
#include "lock/lock_keys.h"

namespace h5redislock {
namespace testing {
namespace {

// Waits up to `seconds` for our child `pid` to end, reaping it; false if it
// still runs.
bool Reap(pid_t pid, double seconds) {
  for (int i = 0; i < seconds * 200; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) != 0) return true;  // ended (or not ours any more)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// Whether a server listens on the unix socket at `path`. Its file exists from
// the server's bind(), a moment before its listen(): a connect in between is
// refused.
bool Listens(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool listens = fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (fd >= 0) close(fd);
  return listens;
}

}  // namespace

std::string LockHash(const std::string& name) { return LockKeys(Config::kDefaultPrefix, name).ScriptKeys()[0]; }
std::string LockQueue(const std::string& name) { return LockKeys(Config::kDefaultPrefix, name).ScriptKeys()[1]; }

long LockHolders(const RedisServer& redis, const std::string& name) {
  const std::string mode = redis.Command({"HGET", LockHash(name), "m"});  // "w1", "r3"; "(nil)" when free
  return mode == "(nil)" ? 0 : std::stol(mode.substr(1));
}

bool CycleUntilCached(const RedisServer& redis, const std::string& name, const std::function<bool()>& cycle) {
  // An entry whose flags (its seventh word: lock/lock_protocol.cc) say c.
  static const char kCachedEntries[] =
      "local n = 0 "
      "for _, v in ipairs(redis.call('HVALS', KEYS[1])) do "
      "  local flags = string.match(v, '^[rw] %d+ %d+ %d+ %d+ %d+ (%S+) ') "
      "  if flags and string.find(flags, 'c', 1, true) then n = n + 1 end "
      "end "
      "return n";
  const double deadline = MonotonicSeconds() + 10;
  while (MonotonicSeconds() < deadline) {
    if (!cycle()) return false;
    for (;;) {
      if (std::atol(redis.Command({"EVAL", kCachedEntries, "1", LockHash(name)}).c_str()) > 0) return true;
      if (LockHolders(redis, name) == 0 || MonotonicSeconds() >= deadline) break;  // released: not cached
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return false;
}

long long LockLeaseLeftMs(const RedisServer& redis, const LockKeys& keys) {
  static const char kScript[] =
      "local t = redis.call('TIME') "
      "local last = -1 "
      "for _, v in ipairs(redis.call('HVALS', KEYS[1])) do "
      "  local e = string.match(v, '^[rw] %d+ (%d+) ') "
      "  if e and tonumber(e) > last then last = tonumber(e) end "
      "end "
      "if last < 0 then return -1 end "
      "return last - (t[1] * 1000 + math.floor(t[2] / 1000))";
  return std::atoll(redis.Command({"EVAL", kScript, "1", keys.ScriptKeys()[0]}).c_str());
}

long LockWaiters(const RedisServer& redis, const std::string& name) {
  const std::string n = redis.Command({"HGET", LockHash(name), "n"});
  return n == "(nil)" ? 0 : std::stol(n);
}

long CommandCalls(const RedisServer& redis, const std::string& command) {
  const std::string stats = redis.Command({"INFO", "commandstats"});
  const std::string key = "cmdstat_" + command + ":calls=";
  const size_t at = stats.find(key);
  return at == std::string::npos ? 0 : std::stol(stats.substr(at + key.size()));
}

void SetDriverAclUser(const RedisServer& redis, const std::string& user, const std::string& password) {
  redis.Command({"ACL", "SETUSER", user, "on", ">" + password, "~h5redislock:*", "resetchannels", "&h5redislock:revoke:*", "-@all",
                 "+fcall", "+function|load", "+blpop", "+info", "+time", "+hmget", "+hget", "+hset", "+hdel",
                 "+hgetall", "+exists", "+pexpire", "+pttl", "+persist", "+del", "+zadd", "+zrem", "+zrange",
                 "+lpush", "+publish", "+subscribe"});
}

int FreeTcpPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

namespace {

void Render(const redisReply* r, std::string* out) {
  if (!r) return;
  switch (r->type) {
    case REDIS_REPLY_INTEGER: *out += std::to_string(r->integer); break;
    case REDIS_REPLY_NIL: *out += "(nil)"; break;
    case REDIS_REPLY_ARRAY:
      for (size_t i = 0; i < r->elements; ++i) {
        if (i) *out += "\n";
        Render(r->element[i], out);
      }
      break;
    default: out->append(r->str, r->len);
  }
}

}  // namespace

TempDir::TempDir() {
  char tmpl[] = "/tmp/h5redislock-test.XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string ServerProgram() {
  const char* choice = getenv("H5REDISLOCK_TEST_SERVER");
  const std::string server = choice && *choice ? choice : "redis";
  if (server != "redis" && server != "valkey")
    throw std::runtime_error("H5REDISLOCK_TEST_SERVER='" + server + "': expected 'redis' or 'valkey'");
  return server + "-server";
}

std::string CliProgram() {
  std::string server = ServerProgram();
  return server.substr(0, server.find('-')) + "-cli";
}

RedisServer::RedisServer(std::vector<std::string> extra, bool tcp, std::string config)
    : extra_(std::move(extra)), tcp_(tcp), config_(std::move(config)) {
  socket_ = dir_.File("redis.sock");
  if (tcp_) port_ = FreeTcpPort();
  Start();
}

RedisServer::~RedisServer() { Stop(); }

void RedisServer::Start() {
  const std::string program = ServerProgram();
  std::vector<std::string> args = {program};
  if (!config_.empty()) {
    args.push_back(dir_.File("redis.conf"));
    std::ofstream(args.back()) << config_;
  }
  args.insert(args.end(), {"--port", std::to_string(port_), "--unixsocket", socket_, "--save", "", "--appendonly",
                           "no", "--daemonize", "no", "--dir", dir_.path(), "--logfile", dir_.File("redis.log")});
  if (tcp_) args.insert(args.end(), {"--bind", "127.0.0.1"});
  args.insert(args.end(), extra_.begin(), extra_.end());
  std::remove(socket_.c_str());
  const pid_t test = getpid();
  pid_t child = fork();
  if (child == 0) {
    // Our child, not a daemon: it dies with the test however the test ends
    // (a failed assertion, a crash, a sanitizer's abort, ctest's timeout), so
    // no server outlives its test.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != test) _exit(127);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(program.c_str(), argv.data());
    _exit(127);
  }
  if (child < 0) throw std::runtime_error("fork failed");
  pid_ = child;
  for (int i = 0; i < 500; ++i) {  // up to 5 s for the socket
    if (Listens(socket_)) return;
    if (Reap(child, 0)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill();
  throw std::runtime_error(program + " did not come up in " + dir_.path());
}

void RedisServer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  if (!Reap(pid_, 5)) Kill();
  pid_ = 0;
}

void RedisServer::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  std::remove(socket_.c_str());
  pid_ = 0;
}

std::string RedisServer::Command(const std::vector<std::string>& argv) const {
  redisContext* c = redisConnectUnix(socket_.c_str());
  if (!c || c->err) {
    if (c) redisFree(c);
    throw std::runtime_error("cannot connect to the test redis-server");
  }
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), ptrs.data(), lens.data()));
  std::string out;
  Render(r, &out);
  if (r) freeReplyObject(r);
  redisFree(c);
  return out;
}

std::vector<std::string> RedisServer::Keys(const std::string& pattern) const {
  std::string text = Command({"KEYS", pattern});
  std::vector<std::string> keys;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    keys.push_back(text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return keys;
}

std::string LingerSetting() {
  const char* linger = getenv("H5REDISLOCK_TEST_LINGER");
  return linger && *linger ? std::string(";linger=") + linger : "";
}

pid_t RunChild(const std::function<int()>& body) {
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int rc = 99;
    try {
      rc = body();
    } catch (const std::exception& e) {
      fprintf(stderr, "child %d: %s\n", getpid(), e.what());
    }
    H5close();
    fflush(nullptr);
    _exit(rc);
  }
  return pid;
}

int WaitChild(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

int WaitChildren(const std::vector<pid_t>& pids) {
  int failed = 0;
  for (pid_t p : pids) failed += WaitChild(p) != 0;
  return failed;
}

double MonotonicSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

std::string ErrorText() {
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  H5Eprint2(H5E_DEFAULT, f);
  fclose(f);
  std::string text(buf, len);
  free(buf);
  return text;
}

bool RunningUnlocked() {
  const char* d = getenv("H5REDISLOCK_TEST_DRIVER");
  return d && std::string(d) == "sec2";
}

hid_t LockedFapl(const std::string& config) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (RunningUnlocked()) {
    H5Pset_fapl_sec2(fapl);
    H5Pset_file_locking(fapl, false, true);
  } else if (H5Pset_driver_by_name(fapl, "redislock", config.c_str()) < 0) {
    throw std::runtime_error("H5Pset_driver_by_name(redislock) failed: " + ErrorText());
  }
  return fapl;
}

std::string PluginDir() { return H5REDISLOCK_PLUGIN_DIR; }

void UseBuiltPlugin() { setenv("HDF5_PLUGIN_PATH", H5REDISLOCK_PLUGIN_DIR, 1); }

}  // namespace testing
}  // namespace h5redislock
