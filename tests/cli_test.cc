// cli_test.cc: the h5redislock command, run as a process like a user runs it,
// against real redis-servers: `run` with a named server and with the
// embedded one (shared, started once, stopped when idle or asked), `status`
// while processes hold and wait, `break` on killed, stopped and live
// holders, and `doctor` on good and broken set-ups.
//
// The programs under the lock are examples/demo/demo_worker (a plain HDF5
// read-modify-write, which reports when it held the file) and by_name.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "lock/lock_keys.h"
#include "lock/lock_name.h"
#include "lock/lock_protocol.h"
#include "redis/redis_endpoint.h"
#include "test_support.h"

namespace h5redislock {
namespace testing {
namespace {

// Changes to the test's environment for one process: a value, or nullopt to
// unset the variable.
using Env = std::map<std::string, std::optional<std::string>>;

struct Output {
  int status = -1;  // exit status, or 128 + signal
  std::string out, err;
};

// A program running with its stdout and stderr captured and stdin from
// `input` (default /dev/null, so never a terminal). Killed if still running
// when destroyed.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const Env& env, const std::string& input = "/dev/null") {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    std::fflush(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      int in = open(input.c_str(), O_RDWR);
      dup2(in, STDIN_FILENO);
      dup2(out[1], STDOUT_FILENO);
      dup2(err[1], STDERR_FILENO);
      for (const auto& [name, value] : env) {
        if (value) setenv(name.c_str(), value->c_str(), 1);
        else unsetenv(name.c_str());
      }
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    out_ = out[0];
    err_ = err[0];
  }
  ~Process() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      Wait();
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }

  // Reads all output (at most two minutes) and reaps the process.
  Output Wait() {
    Output result;
    const double give_up = MonotonicSeconds() + 120;
    std::vector<pollfd> fds = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
    std::string* sinks[] = {&result.out, &result.err};
    for (int open_fds = 2; open_fds > 0;) {
      if (MonotonicSeconds() > give_up) {
        kill(pid_, SIGKILL);
        ADD_FAILURE() << "a process ran for more than two minutes";
        break;
      }
      if (poll(fds.data(), fds.size(), 1000) <= 0) continue;
      for (size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].fd < 0 || !fds[i].revents) continue;
        char buf[4096];
        ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n > 0) {
          sinks[i]->append(buf, static_cast<size_t>(n));
        } else {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        }
      }
    }
    for (const pollfd& p : fds)
      if (p.fd >= 0) close(p.fd);
    result.status = WaitChild(pid_);
    pid_ = -1;
    return result;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1, err_ = -1;
};

Output RunProgram(const std::vector<std::string>& argv, const Env& env) { return Process(argv, env).Wait(); }

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Polls `done` every 20 ms for up to `seconds`; whether it came true.
template <typename Predicate>
bool Eventually(Predicate done, double seconds) {
  const double give_up = MonotonicSeconds() + seconds;
  while (!done()) {
    if (MonotonicSeconds() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// How many processes have `word` as one of their arguments (a runtime
// directory in a watchdog's command line, a socket in redis-server's title).
int ProcessesMentioning(const std::string& word) {
  int count = 0;
  DIR* proc = opendir("/proc");
  for (dirent* e; (e = readdir(proc)) != nullptr;) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (Contains(cmdline, word) && !Contains(cmdline, "cli_test")) ++count;
  }
  closedir(proc);
  return count;
}

// One line of demo_worker's output: NAME MODE t_request t_acquired t_released value t_closing.
struct WorkerLine {
  std::string name, mode;
  double acquired = 0, closing = 0;
  long long value = -1;
};

WorkerLine ParseWorker(const std::string& out) {
  std::istringstream in(out);
  WorkerLine line;
  double request = 0, released = 0;
  in >> line.name >> line.mode >> request >> line.acquired >> released >> line.value >> line.closing;
  return line;
}

class CliTest : public ::testing::Test {
 protected:
  CliTest() {
    // Nothing of the machine's environment may choose a server or a driver.
    env_ = {{"H5REDISLOCK_RUNTIME_DIR", runtime_.path() + "/rt"},
            {"H5REDISLOCK_URL", std::nullopt},
            {"H5REDISLOCK_PASSWORD", std::nullopt},
            {"H5REDISLOCK_IDLE_TIMEOUT", std::nullopt},
            {"HDF5_DRIVER", std::nullopt},
            {"HDF5_DRIVER_CONFIG", std::nullopt}};
  }
  ~CliTest() override {
    // No embedded server outlives its test.
    Cli({"server", "stop", "--force"});
  }

  std::string RuntimeDir() const { return runtime_.path() + "/rt"; }
  std::string Socket() const { return RuntimeDir() + "/redis.sock"; }

  Output Cli(const std::vector<std::string>& args, const Env& extra = {}) {
    return RunProgram(CliArgv(args), WithEnv(extra));
  }
  std::vector<std::string> CliArgv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {H5REDISLOCK_CLI};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  Env WithEnv(const Env& extra) const {
    Env env = env_;
    for (const auto& [name, value] : extra) env[name] = value;
    return env;
  }
  // `h5redislock run [options] -- demo_worker ARGS`, started.
  std::unique_ptr<Process> StartWorker(const std::vector<std::string>& options,
                                       const std::vector<std::string>& worker_args, const Env& extra = {}) {
    std::vector<std::string> args = {"run"};
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), {"--", DEMO_WORKER});
    args.insert(args.end(), worker_args.begin(), worker_args.end());
    return std::make_unique<Process>(CliArgv(args), WithEnv(extra));
  }
  // A demo file made without any lock (plain sec2).
  std::string MakeDemoFile(const std::string& name) {
    const std::string path = files_.File(name);
    Output init = RunProgram({DEMO_WORKER, "init", path}, env_);
    EXPECT_EQ(init.status, 0) << init.err;
    return path;
  }

  // The state of `path`'s lock in the private server.
  LockSnapshot Snapshot(const std::string& path) {
    std::string name;
    EXPECT_TRUE(CanonicalPath(path, &name).ok());
    RedisEndpoint endpoint;
    std::unique_ptr<RedisConnection> conn;
    LockSnapshot snap;
    EXPECT_TRUE(ParseRedisUrl(redis_.url(), &endpoint).ok());
    Status s = RedisConnection::Open(endpoint, 5, &conn);
    if (s.ok()) s = ReadLockSnapshot(*conn, LockKeys("h5redislock:", name), &snap);
    EXPECT_TRUE(s.ok()) << s.message();
    return snap;
  }
  // Waits until `path` has `holders` holders and `waiters` waiters.
  bool WaitForLock(const std::string& path, size_t holders, size_t waiters) {
    return Eventually(
        [&] {
          LockSnapshot snap = Snapshot(path);
          return snap.holders.size() == holders && snap.waiters.size() == waiters;
        },
        10);
  }

  TempDir runtime_;
  TempDir files_;
  RedisServer redis_;
  Env env_;
};

// ---------------------------------------------------------------------------
// run
// ---------------------------------------------------------------------------

// Two independent `run`s started at the same moment, with no server named:
// they start one embedded server between them, share it, and their writes
// exclude each other (the read-modify-writes neither overlap nor lose an
// update). The server then stays up until `server stop`.
TEST_F(CliTest, RunsShareOneEmbeddedServerAndExcludeEachOther) {
  const std::string path = MakeDemoFile("shared.h5");
  auto first = StartWorker({}, {"write", path, "first", "0.5"});
  auto second = StartWorker({}, {"write", path, "second", "0.5"});
  Output a = first->Wait(), b = second->Wait();
  ASSERT_EQ(a.status, 0) << a.err;
  ASSERT_EQ(b.status, 0) << b.err;
  WorkerLine x = ParseWorker(a.out), y = ParseWorker(b.out);
  EXPECT_TRUE(x.closing <= y.acquired || y.closing <= x.acquired)
      << "the writers overlapped: " << a.out << b.out;
  EXPECT_EQ(std::min(x.value, y.value), 1);
  EXPECT_EQ(std::max(x.value, y.value), 2);

  EXPECT_EQ(ProcessesMentioning(RuntimeDir()), 2) << "one watchdog and one redis-server";
  Output status = Cli({"server", "status"});
  EXPECT_EQ(status.status, 0) << status.out << status.err;
  EXPECT_TRUE(Contains(status.out, "unix://" + Socket())) << status.out;
  // Both went through the same server: it counted both acquisitions.
  Output locks = Cli({"status", path});
  EXPECT_EQ(locks.status, 0) << locks.err;
  EXPECT_TRUE(Contains(locks.out, "free; 2 acquisitions")) << locks.out;

  Output stop = Cli({"server", "stop"});
  EXPECT_EQ(stop.status, 0) << stop.err;
  EXPECT_TRUE(Contains(stop.out, "stopped")) << stop.out;
  EXPECT_EQ(Cli({"server", "status"}).status, 3);
  EXPECT_TRUE(Eventually([&] { return ProcessesMentioning(RuntimeDir()) == 0; }, 5));
  EXPECT_NE(access(Socket().c_str(), F_OK), 0);
}

// With --url, `run` uses that server and never starts the embedded one.
TEST_F(CliTest, RunUsesTheNamedServer) {
  const std::string path = MakeDemoFile("named.h5");
  auto worker = StartWorker({"--url", redis_.url()}, {"write", path, "w", "0"});
  Output out = worker->Wait();
  ASSERT_EQ(out.status, 0) << out.err;
  EXPECT_EQ(ParseWorker(out.out).value, 1);
  EXPECT_EQ(Snapshot(path).acquisitions, 1);
  EXPECT_EQ(access(Socket().c_str(), F_OK), -1) << "the embedded server was started";
  EXPECT_EQ(ProcessesMentioning(RuntimeDir()), 0);
}

// The program gets exactly the driver's variables; a password of the url
// goes into H5REDISLOCK_PASSWORD, never into HDF5_DRIVER_CONFIG or output,
// and still opens the lock (by_name passes HDF5_DRIVER_CONFIG to the driver).
TEST_F(CliTest, RunPassesThePasswordThroughTheEnvironmentOnly) {
  RedisServer guarded({"--requirepass", "s3cret-pw"}, /*tcp=*/true);
  const std::string url = "redis://:s3cret-pw@127.0.0.1:" + std::to_string(guarded.port()) + "/0";
  const std::string script =
      "printf '%s\\n' \"$HDF5_DRIVER\" \"$HDF5_DRIVER_CONFIG\" \"$H5REDISLOCK_PASSWORD\" \"$HDF5_PLUGIN_PATH\"; "
      "exec \"$0\" \"$HDF5_DRIVER_CONFIG\" \"$1\"";
  Output out = Cli({"run", "--url", url, "--config", "timeout=5", "--", "sh", "-c", script, BY_NAME,
                    files_.File("by_name.h5")});
  ASSERT_EQ(out.status, 0) << out.out << out.err;
  std::istringstream lines(out.out);
  std::string driver, config, password, plugin_path;
  std::getline(lines, driver);
  std::getline(lines, config);
  std::getline(lines, password);
  std::getline(lines, plugin_path);
  EXPECT_EQ(driver, "redislock");
  EXPECT_EQ(config, "url=redis://127.0.0.1:" + std::to_string(guarded.port()) + "/0;timeout=5");
  EXPECT_EQ(password, "s3cret-pw");
  // The build for other HDF5 libraries first, where it is built (plugin_dir.h);
  // the test's own HDF5_PLUGIN_PATH is the linked plugin's: no repeat.
  const std::string dl_dir = DL_PLUGIN_DIR;
  EXPECT_EQ(plugin_path, (dl_dir.empty() ? "" : dl_dir + ":") + PluginDir());
  EXPECT_TRUE(Contains(out.out, "by_name: wrote and read back")) << out.out;
  EXPECT_FALSE(Contains(out.err, "s3cret")) << out.err;

  const std::vector<std::vector<std::string>> shows_url = {
      {"status", "--url", url}, {"status", "--url", url, "--json"}, {"doctor", "--url", url}};
  for (const std::vector<std::string>& args : shows_url) {
    Output shown = Cli(args);
    EXPECT_EQ(shown.status, 0) << args[0] << ": " << shown.out << shown.err;
    EXPECT_FALSE(Contains(shown.out + shown.err, "s3cret")) << shown.out << shown.err;
  }
}

// A password on the command line is visible to every user in `ps` while the
// command runs: h5redislock overwrites it in its own argv at once. Shown with
// a server that accepts the connection and never answers, so that the
// command waits (for AUTH) long enough to be looked at.
TEST_F(CliTest, PasswordsLeaveTheProcessListing) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string url = "redis://:hunter2@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/0";
  Process doctor(CliArgv({"doctor", "--url", url, "--config", "connect_timeout=2;url=" + url}), env_);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::ifstream in("/proc/" + std::to_string(doctor.pid()) + "/cmdline");
  std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(Contains(cmdline, "redis://:*******@127.0.0.1")) << cmdline;
  EXPECT_FALSE(Contains(cmdline, "hunter2")) << cmdline;
  Output out = doctor.Wait();
  close(listener);
  EXPECT_EQ(out.status, 1);
  EXPECT_FALSE(Contains(out.out + out.err, "hunter2")) << out.out << out.err;
}

TEST_F(CliTest, RunReportsAProgramItCannotStart) {
  Output out = Cli({"run", "--url", redis_.url(), "--", files_.File("no-such-program")});
  EXPECT_EQ(out.status, 127);
  EXPECT_TRUE(Contains(out.err, "cannot run")) << out.err;
  EXPECT_EQ(Cli({"run", "--url", redis_.url()}).status, 2) << "no program is a usage error";
}

// A server nobody uses stops by itself after the idle timeout; the next
// `run` starts a new one.
TEST_F(CliTest, IdleEmbeddedServerStopsByItself) {
  const Env quick = {{"H5REDISLOCK_IDLE_TIMEOUT", "1"}};
  ASSERT_EQ(Cli({"run", "--", "true"}, quick).status, 0);
  EXPECT_EQ(Cli({"server", "status"}).status, 0);
  EXPECT_TRUE(Eventually([&] { return Cli({"server", "status"}).status == 3; }, 6));
  EXPECT_TRUE(Eventually([&] { return ProcessesMentioning(RuntimeDir()) == 0; }, 5));
  std::ifstream log(RuntimeDir() + "/watchdog.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(Contains(text, "idle for")) << text;
  ASSERT_EQ(Cli({"run", "--", "true"}, quick).status, 0);
}

// A program under `run` keeps the server up: `server stop` refuses while it
// runs (naming it) unless forced, and the idle timeout does not stop it.
TEST_F(CliTest, ServerStaysUpForItsPrograms) {
  Process sleeper(CliArgv({"run", "--", "sleep", "30"}), WithEnv({{"H5REDISLOCK_IDLE_TIMEOUT", "0.2"}}));
  ASSERT_TRUE(Eventually([&] { return access(Socket().c_str(), F_OK) == 0; }, 10));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // five idle timeouts
  EXPECT_EQ(Cli({"server", "status"}).status, 0) << "the server stopped under a running program";
  Output refused = Cli({"server", "stop"});
  EXPECT_EQ(refused.status, 1);
  EXPECT_TRUE(Contains(refused.err, "pid " + std::to_string(sleeper.pid()))) << refused.err;
  Output forced = Cli({"server", "stop", "--force"});
  EXPECT_EQ(forced.status, 0) << forced.err;
  EXPECT_EQ(Cli({"server", "status"}).status, 3);
}

// ---------------------------------------------------------------------------
// status
// ---------------------------------------------------------------------------

// A writer holds, a reader and then a writer wait: the table and the JSON
// show them in that order, with the counters; without FILEs every lock is
// listed.
TEST_F(CliTest, StatusShowsHoldersWaitersAndCounters) {
  const std::string path = MakeDemoFile("status.h5");
  const std::string other = MakeDemoFile("other.h5");
  const std::vector<std::string> url = {"--url", redis_.url()};
  ASSERT_EQ(StartWorker(url, {"read", other, "earlier", "0"})->Wait().status, 0);
  auto holder = StartWorker(url, {"write", path, "holder", "4"});
  ASSERT_TRUE(WaitForLock(path, 1, 0));
  auto reader = StartWorker(url, {"read", path, "reader", "0"});
  ASSERT_TRUE(WaitForLock(path, 1, 1));
  auto writer = StartWorker(url, {"write", path, "writer", "0"});
  ASSERT_TRUE(WaitForLock(path, 1, 2));

  Output text = Cli({"status", path, "--url", redis_.url()});
  ASSERT_EQ(text.status, 0) << text.err;
  std::string canonical;
  ASSERT_TRUE(CanonicalPath(path, &canonical).ok());
  EXPECT_TRUE(Contains(text.out, canonical + ": held for writing by 1 process, 2 waiting; 1 acquisition")) << text.out;
  const size_t h = text.out.find("holder    " + std::to_string(holder->pid()));
  const size_t r = text.out.find("waiter 1  " + std::to_string(reader->pid()));
  const size_t w = text.out.find("waiter 2  " + std::to_string(writer->pid()));
  EXPECT_TRUE(h != std::string::npos && r != std::string::npos && w != std::string::npos) << text.out;
  EXPECT_TRUE(Contains(text.out.substr(h), "write")) << text.out;
  EXPECT_TRUE(Contains(text.out.substr(r), "read")) << text.out;
  EXPECT_TRUE(Contains(text.out.substr(h), "alive")) << text.out;
  EXPECT_FALSE(Contains(text.out, other)) << "only the named file";

  // The JSON, through a real JSON parser.
  Output json = Cli({"status", "--json", "--url", redis_.url()});
  ASSERT_EQ(json.status, 0) << json.err;
  const std::string json_file = files_.File("status.json");
  std::ofstream(json_file) << json.out;
  const char* kPrintLocks =
      "import json, sys\n"
      "d = json.load(open(sys.argv[1]))\n"
      "for l in d['locks']:\n"
      "  print('lock', l['name'], l['acquisitions'], l['wait_max_ms'] >= 0)\n"
      "  for e in l['holders']:\n"
      "    print('holder', e['pid'], e['mode'], e['process'], e['broken'], e['lease_left_ms'] > 0, e['for_ms'] >= 0)\n"
      "  for e in l['waiters']: print('waiter', e['pid'], e['mode'])\n";
  Output parsed = RunProgram({"python3", "-c", kPrintLocks, json_file}, env_);
  ASSERT_EQ(parsed.status, 0) << parsed.err << json.out;
  std::string other_canonical;
  ASSERT_TRUE(CanonicalPath(other, &other_canonical).ok());
  const std::string expected = "lock " + other_canonical + " 1 True\n" +  // names sorted
                               "lock " + canonical + " 1 True\n" + "holder " + std::to_string(holder->pid()) +
                               " write alive False True True\n" + "waiter " + std::to_string(reader->pid()) +
                               " read\n" + "waiter " + std::to_string(writer->pid()) + " write\n";
  EXPECT_EQ(parsed.out, expected) << json.out;

  EXPECT_EQ(holder->Wait().status, 0);
  EXPECT_EQ(reader->Wait().status, 0);
  EXPECT_EQ(writer->Wait().status, 0);
  Output after = Cli({"status", path, "--url", redis_.url()});
  EXPECT_TRUE(Contains(after.out, canonical + ": free; 3 acquisitions")) << after.out;
}

// With the embedded server not running, nothing is locked, and status does
// not start it.
TEST_F(CliTest, StatusOfAStoppedEmbeddedServerStartsNothing) {
  Output out = Cli({"status", files_.File("x.h5")});
  EXPECT_EQ(out.status, 0) << out.err;
  EXPECT_TRUE(Contains(out.out, "not running")) << out.out;
  EXPECT_TRUE(Contains(out.out, "x.h5: free")) << out.out;
  EXPECT_EQ(ProcessesMentioning(RuntimeDir()), 0);
}

// ---------------------------------------------------------------------------
// break
// ---------------------------------------------------------------------------

// A holder killed with SIGKILL left its entry (its lease is long, and no
// waiter of this host has reaped it): break removes it at once.
TEST_F(CliTest, BreakRemovesAKilledHolderAtOnce) {
  const std::string path = MakeDemoFile("killed.h5");
  auto holder = StartWorker({"--url", redis_.url(), "--config", "lease=60"}, {"write", path, "holder", "60"});
  ASSERT_TRUE(WaitForLock(path, 1, 0));
  const pid_t pid = holder->pid();
  kill(pid, SIGKILL);
  EXPECT_EQ(holder->Wait().status, 128 + SIGKILL);
  ASSERT_EQ(Snapshot(path).holders.size(), 1u) << "the dead holder's entry should still be there";

  Output broke = Cli({"break", path, "--yes", "--url", redis_.url()});
  ASSERT_EQ(broke.status, 0) << broke.err;
  EXPECT_TRUE(Contains(broke.out, "dead")) << broke.out;
  EXPECT_TRUE(Contains(broke.out, "removed pid " + std::to_string(pid))) << broke.out;
  EXPECT_TRUE(Contains(broke.out, "now ")) << broke.out;
  EXPECT_TRUE(Snapshot(path).holders.empty());
  // timeout=0: the lock must be free right now.
  Output next = StartWorker({"--url", redis_.url(), "--config", "timeout=0"}, {"write", path, "next", "0"})->Wait();
  EXPECT_EQ(next.status, 0) << next.err;
  EXPECT_EQ(ParseWorker(next.out).value, 1);
}

class BreakFencesTest : public CliTest, public ::testing::WithParamInterface<bool> {};

// A holder that may still be alive, stopped (SIGSTOP) or running, is marked
// broken: the waiter gets the lock only when the holder's lease ends, and the
// holder, continued, finds its writes refused. The file has only the
// waiter's update.
TEST_P(BreakFencesTest, BreakFencesAHolderThatMayBeAlive) {
  const bool stopped = GetParam();
  const std::string path = MakeDemoFile("fenced.h5");
  const std::vector<std::string> options = {"--url", redis_.url(), "--config", "lease=2;timeout=30"};
  // It reads the counter, holds the file 8 s, then writes: after the break,
  // and long after its broken lease let the waiter in. Fenced by then, it
  // cannot close the file, so HDF5 cannot free it: under ASan, that leak is
  // expected.
  const char* asan = std::getenv("ASAN_OPTIONS");
  auto holder = StartWorker(options, {"write", path, "holder", "8"},
                            {{"ASAN_OPTIONS", std::string(asan ? asan : "") + ":detect_leaks=0"}});
  ASSERT_TRUE(WaitForLock(path, 1, 0));
  if (stopped) kill(holder->pid(), SIGSTOP);

  Output broke = Cli({"break", path, "--yes", "--url", redis_.url()});
  const double broken_at = MonotonicSeconds();
  ASSERT_EQ(broke.status, 0) << broke.err;
  EXPECT_TRUE(Contains(broke.out, "marked broken pid " + std::to_string(holder->pid()))) << broke.out;
  EXPECT_TRUE(Contains(broke.out, "its reads and writes fail")) << broke.out;
  LockSnapshot snap = Snapshot(path);
  ASSERT_EQ(snap.holders.size(), 1u);
  EXPECT_TRUE(snap.holders[0].broken);
  Output shown = Cli({"status", path, "--url", redis_.url()});
  EXPECT_TRUE(Contains(shown.out, "broken")) << shown.out;

  auto waiter = StartWorker(options, {"write", path, "waiter", "0"});
  Output next = waiter->Wait();
  ASSERT_EQ(next.status, 0) << next.err;
  const double waited = MonotonicSeconds() - broken_at;
  EXPECT_LT(waited, 5.5) << "the waiter should get the lock when the broken lease ends (2 s), not when "
                            "the holder gives up (8 s)";
  EXPECT_EQ(ParseWorker(next.out).value, 1);

  if (stopped) kill(holder->pid(), SIGCONT);
  Output old = holder->Wait();
  EXPECT_EQ(old.status, 1) << "the broken holder wrote: " << old.out << old.err;
  EXPECT_TRUE(Contains(old.err, "demo_worker holder")) << old.err;
  Output final_read = StartWorker(options, {"read", path, "final", "0"})->Wait();
  ASSERT_EQ(final_read.status, 0) << final_read.err;
  EXPECT_EQ(ParseWorker(final_read.out).value, 1) << "only the waiter's update is in the file";
}

INSTANTIATE_TEST_SUITE_P(StoppedOrRunning, BreakFencesTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& test) {
                           return test.param ? "Stopped" : "Running";
                         });

// break asks on a terminal, and without one does nothing unless told --yes.
TEST_F(CliTest, BreakAsksFirst) {
  const std::string path = MakeDemoFile("asked.h5");
  auto holder = StartWorker({"--url", redis_.url()}, {"write", path, "holder", "2"});
  ASSERT_TRUE(WaitForLock(path, 1, 0));
  Output refused = Cli({"break", path, "--url", redis_.url()});
  EXPECT_EQ(refused.status, 1);
  EXPECT_TRUE(Contains(refused.err, "--yes")) << refused.err;
  // On a terminal it asks; "n" leaves the lock alone.
  int terminal = posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_TRUE(terminal >= 0 && grantpt(terminal) == 0 && unlockpt(terminal) == 0);
  ASSERT_EQ(write(terminal, "n\n", 2), 2);  // waits in the terminal's line buffer
  Output declined = Process(CliArgv({"break", path, "--url", redis_.url()}), env_, ptsname(terminal)).Wait();
  close(terminal);
  EXPECT_EQ(declined.status, 1);
  EXPECT_TRUE(Contains(declined.err, "Break the lock of")) << declined.err;
  EXPECT_TRUE(Contains(declined.out, "left the lock alone")) << declined.out;

  LockSnapshot snap = Snapshot(path);
  ASSERT_EQ(snap.holders.size(), 1u);
  EXPECT_FALSE(snap.holders[0].broken);
  EXPECT_EQ(holder->Wait().status, 0);
  Output nothing = Cli({"break", path, "--yes", "--url", redis_.url()});
  EXPECT_EQ(nothing.status, 0);
  EXPECT_TRUE(Contains(nothing.out, "nothing to break")) << nothing.out;
}

// ---------------------------------------------------------------------------
// doctor
// ---------------------------------------------------------------------------

TEST_F(CliTest, DoctorPassesAGoodSetUp) {
  Output out = Cli({"doctor", "--url", redis_.url(), files_.path()},
                   {{"HDF5_PLUGIN_PATH", PluginDir()}, {"HDF5_USE_FILE_LOCKING", std::nullopt}});
  EXPECT_EQ(out.status, 0) << out.out << out.err;
  EXPECT_FALSE(Contains(out.out, "FAIL")) << out.out;
  for (const char* topic : {"HDF5 ", "plugin ", "plugin path ", "config ", "Redis ", "Redis login ",
                            "Redis version ", "round trip ", "lock scripts ", "file system ",
                            "HDF5_USE_FILE_LOCKING "})
    EXPECT_TRUE(Contains(out.out, std::string("ok    ") + topic)) << topic << " is not ok:\n" << out.out;
}

TEST_F(CliTest, DoctorReportsAMissingPlugin) {
  TempDir empty;
  Output out = Cli({"doctor", "--url", redis_.url()}, {{"HDF5_PLUGIN_PATH", empty.path()}});
  EXPECT_EQ(out.status, 1) << out.out;
  EXPECT_TRUE(Contains(out.out, "FAIL  plugin path")) << out.out;
  EXPECT_TRUE(Contains(out.out, "export HDF5_PLUGIN_PATH=" + PluginDir())) << out.out;
}

TEST_F(CliTest, DoctorReportsAnUnreachableRedis) {
  Output out = Cli({"doctor", "--url", "unix://" + files_.File("nobody.sock")});
  EXPECT_EQ(out.status, 1) << out.out;
  EXPECT_TRUE(Contains(out.out, "FAIL  Redis")) << out.out;
  EXPECT_TRUE(Contains(out.out, "unreachable")) << out.out;
}

// The commands speak to one server; a cluster or Sentinel url is refused
// with what to give instead, not sent to a node or a Sentinel that would
// answer something else.
TEST_F(CliTest, ClusterAndSentinelUrlsAreRefusedClearly) {
  for (const std::string url : {"redis-cluster://127.0.0.1:1,127.0.0.1:2", "redis-sentinel://127.0.0.1:1/m"}) {
    Output out = Cli({"status", "--url", url});
    EXPECT_NE(out.status, 0) << out.out;
    EXPECT_TRUE(Contains(out.err, "speak to one Redis server")) << out.err;
  }
}

// ---------------------------------------------------------------------------
// every command
// ---------------------------------------------------------------------------

TEST_F(CliTest, EveryCommandHasHelp) {
  for (const std::string command : {"run", "server", "status", "break", "doctor"}) {
    Output out = Cli({command, "--help"});
    EXPECT_EQ(out.status, 0) << command;
    EXPECT_TRUE(Contains(out.out, "usage: h5redislock " + command)) << out.out;
  }
  EXPECT_EQ(Cli({"frobnicate"}).status, 2);
  EXPECT_EQ(Cli({"status", "--no-such-option"}).status, 2);
}

}  // namespace
}  // namespace testing
}  // namespace h5redislock
