#include "embedded_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <thread>

#include "redis/redis_connection.h"
#include "redis/redis_endpoint.h"
#include "redis_info.h"
#include "search_path.h"
#include "sessions.h"

namespace h5redislock {
namespace cli {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr auto kStopTimeout = std::chrono::seconds(15);
constexpr auto kPollInterval = std::chrono::milliseconds(20);

// Polls `done` until it holds or `timeout` passes; true if it held.
template <typename Predicate>
bool PollUntil(Predicate done, Clock::duration timeout) {
  const auto give_up = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= give_up) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
  return true;
}

// The last lines of a log, indented, for an error message.
std::string TailOf(const std::string& path, size_t count) {
  std::ifstream in(path);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (lines.size() > count) lines.pop_front();
  }
  std::string text;
  for (const std::string& line : lines) text += "\n    " + line;
  return text.empty() ? "" : "\n  " + path + ":" + text;
}

std::string SelfExe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace

Status ParseIdleTimeout(const std::string& text, const std::string& source, double* seconds) {
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(value) || value < 0)
    return Status::InvalidArgument(source + "='" + text + "' is not a number of seconds (0 means never)");
  *seconds = value;
  return Status::OK();
}

Status IdleTimeoutFromEnvironment(double* seconds) {
  const char* env = std::getenv("H5REDISLOCK_IDLE_TIMEOUT");
  if (!env || !*env) {
    *seconds = kDefaultIdleTimeoutS;
    return Status::OK();
  }
  return ParseIdleTimeout(env, "H5REDISLOCK_IDLE_TIMEOUT", seconds);
}

Status FindRedisServer(std::string* path) {
  const char* own = std::getenv("H5REDISLOCK_REDIS_SERVER");
  if (own && *own) {
    if (access(own, X_OK) != 0)
      return Status::IoError(std::string("H5REDISLOCK_REDIS_SERVER='") + own + "' is not an executable program");
    *path = own;
    return Status::OK();
  }
  const char* env_path = std::getenv("PATH");
  for (const std::string& dir : SplitSearchPath(env_path ? env_path : "/usr/local/bin:/usr/bin:/bin")) {
    std::string candidate = (dir.empty() ? "." : dir) + "/redis-server";
    if (access(candidate.c_str(), X_OK) == 0) {
      *path = candidate;
      return Status::OK();
    }
  }
  return Status::Unavailable(
      "the embedded Redis server needs the program redis-server, which is not on PATH: install it (e.g. "
      "apt-get install redis-server), set H5REDISLOCK_REDIS_SERVER, or give a Redis server with --url");
}

bool ServerAnswers(const std::string& socket, std::string* version) {
  RedisEndpoint endpoint;
  if (!ParseRedisUrl("unix://" + socket, &endpoint).ok()) return false;
  std::unique_ptr<RedisConnection> conn;
  if (!RedisConnection::Open(endpoint, 2.0, &conn).ok()) return false;
  Reply reply;
  if (!conn->Command({"PING"}, &reply).ok() || ReplyString(reply.get()) != "PONG") return false;
  return !version || ReadInfoField(*conn, "server", "redis_version", version).ok();
}

Status EmbeddedServer::Start(double idle_timeout_s, bool* started, std::unique_ptr<FileLock>* session) {
  *started = false;
  Status s = PrepareRuntimeDir(files_.dir);
  if (!s.ok()) return s;
  std::unique_ptr<FileLock> starting;
  s = FileLock::Wait(files_.start_lock, FileLock::Mode::kExclusive, &starting);
  if (!s.ok()) return s;
  if (!ServerAnswers(files_.socket)) {
    ServerInfo old;
    if (ReadServerInfo(files_.info, &old) && old.WatchdogAlive()) {
      s = StopWatchdog(old);  // a watchdog whose server no longer answers
      if (!s.ok()) return s;
    }
    RemoveLeftovers();
    s = LaunchWatchdog(idle_timeout_s);
    if (s.ok()) s = WaitUntilUp();
    if (!s.ok()) return s;
    *started = true;
  }
  return session ? JoinSession(files_, session) : Status::OK();
}

Status EmbeddedServer::LaunchWatchdog(double idle_timeout_s) const {
  std::string redis;
  Status s = FindRedisServer(&redis);  // here, so that its absence is reported to the user
  if (!s.ok()) return s;
  const std::string self = SelfExe();
  if (self.empty()) return Status::Internal("cannot find this program's own path in /proc/self/exe");
  char idle[32];
  std::snprintf(idle, sizeof idle, "%g", idle_timeout_s);
  std::vector<std::string> args = {self, "server", "watchdog", "--dir", files_.dir, "--idle-timeout", idle};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int log = open(files_.watchdog_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log < 0 || null < 0) {
    s = Status::IoError("cannot open '" + files_.watchdog_log + "' or /dev/null: " + std::strerror(errno));
    if (log >= 0) close(log);
    if (null >= 0) close(null);
    return s;
  }
  // Fork twice: the watchdog must be nobody's child. `run` execs the user's
  // program next, which would inherit it as a child it never waits for.
  // Its stdio goes to its log: a pipe that someone reads until EOF (a test,
  // `$(h5redislock run ...)`) must not be held open by it.
  pid_t child = fork();
  if (child < 0) s = Status::Internal(std::string("fork failed: ") + std::strerror(errno));
  if (child == 0) {
    setsid();
    if (fork() != 0) _exit(0);
    dup2(null, STDIN_FILENO);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    if (chdir("/") != 0) _exit(126);  // keep no directory busy
    execv(self.c_str(), argv.data());
    _exit(127);
  }
  close(log);
  close(null);
  if (child > 0) waitpid(child, nullptr, 0);
  return s;
}

Status EmbeddedServer::WaitUntilUp() const {
  bool watchdog_gone = false;
  bool up = PollUntil(
      [&] {
        if (ServerAnswers(files_.socket)) return true;
        ServerInfo info;
        watchdog_gone = ReadServerInfo(files_.info, &info) && !info.WatchdogAlive();
        return watchdog_gone;
      },
      kStartTimeout);
  if (up && !watchdog_gone) return Status::OK();
  return Status::Unavailable("the embedded Redis server did not start on " + files_.socket +
                             (watchdog_gone ? "" : " within 10 s") + TailOf(files_.redis_log, 5) +
                             TailOf(files_.watchdog_log, 5));
}

Status EmbeddedServer::StopWatchdog(const ServerInfo& info) const {
  kill(static_cast<pid_t>(info.watchdog_pid), SIGTERM);
  if (PollUntil([&] { return !info.WatchdogAlive(); }, kStopTimeout)) return Status::OK();
  return Status::Unavailable("the embedded server's watchdog (pid " + std::to_string(info.watchdog_pid) +
                             ") did not stop within 15 s" + TailOf(files_.watchdog_log, 5));
}

void EmbeddedServer::RemoveLeftovers() const {
  unlink(files_.socket.c_str());
  unlink(files_.info.c_str());
}

Status EmbeddedServer::Stop(bool force, bool* was_running) {
  *was_running = false;
  if (access(files_.dir.c_str(), F_OK) != 0) return Status::OK();  // never started
  std::unique_ptr<FileLock> stopping;
  Status s = FileLock::Wait(files_.start_lock, FileLock::Mode::kExclusive, &stopping);
  if (!s.ok()) return s;
  ServerInfo info;
  const bool watchdog = ReadServerInfo(files_.info, &info) && info.WatchdogAlive();
  const bool answers = ServerAnswers(files_.socket);
  *was_running = watchdog || answers;
  if (*was_running && !force && !SessionsIdle(files_)) {
    std::string pids;
    for (long pid : SessionPids(files_)) pids += (pids.empty() ? " (pid " : ", ") + std::to_string(pid);
    return Status::Busy("programs still run under `h5redislock run`" + (pids.empty() ? "" : pids + ")") +
                        ": stop them first, or use --force (they lose their locks, so their writes fail)");
  }
  if (watchdog) {
    s = StopWatchdog(info);
  } else if (answers) {
    // A server whose watchdog is gone: ask it directly.
    RedisEndpoint endpoint;
    std::unique_ptr<RedisConnection> conn;
    Reply ignored;  // SHUTDOWN answers by closing the connection
    if (ParseRedisUrl(files_.url(), &endpoint).ok() && RedisConnection::Open(endpoint, 2.0, &conn).ok())
      conn->Command({"SHUTDOWN", "NOSAVE"}, &ignored);
    if (!PollUntil([&] { return !ServerAnswers(files_.socket); }, kStopTimeout))
      s = Status::Unavailable("the embedded Redis server on " + files_.socket + " did not stop");
  }
  if (s.ok()) RemoveLeftovers();
  return s;
}

EmbeddedServer::State EmbeddedServer::Inspect() const {
  State state;
  state.running = ServerAnswers(files_.socket, &state.version);
  state.have_info = ReadServerInfo(files_.info, &state.info) && state.info.WatchdogAlive();
  state.sessions_idle = SessionsIdle(files_);
  state.session_pids = SessionPids(files_);
  return state;
}

}  // namespace cli
}  // namespace h5redislock
