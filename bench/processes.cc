#include "processes.h"

#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

namespace h5redislock {
namespace bench {

double Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

pid_t Spawn(const std::function<bool()>& body) {
  std::fflush(nullptr);  // or the child would print the parent's buffered output again
  pid_t pid = fork();
  if (pid != 0) return pid;
  bool ok = false;
  try {
    ok = body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child %d: %s\n", static_cast<int>(getpid()), e.what());
  }
  std::fflush(nullptr);
  _exit(ok ? 0 : 1);
}

bool WaitAll(const std::vector<pid_t>& pids, const std::function<void()>& meanwhile, double period) {
  bool all_ok = true;
  for (pid_t pid : pids) {
    int status = 0;
    pid_t done = 0;
    while (pid > 0 && meanwhile && (done = waitpid(pid, &status, WNOHANG)) == 0) {
      meanwhile();
      std::this_thread::sleep_for(std::chrono::duration<double>(period));
    }
    if (pid > 0 && done == 0) done = waitpid(pid, &status, 0);
    if (pid < 0 || done != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) all_ok = false;
  }
  return all_ok;
}

StartSignal::StartSignal() {
  if (pipe(fds_) != 0) throw std::runtime_error("pipe failed");
}

StartSignal::~StartSignal() {
  close(fds_[0]);
  if (fds_[1] >= 0) close(fds_[1]);
}

void StartSignal::Await() {
  // The pipe reads end of file once every copy of its write end is closed:
  // ours now, the parent's in Release().
  close(fds_[1]);
  fds_[1] = -1;
  ready_[0].fetch_add(1);
  char byte;
  while (read(fds_[0], &byte, 1) < 0) {
  }
}

bool StartSignal::AllReady(int children) {
  const double give_up = Now() + 60;
  while (ready_[0].load() < children) {
    if (Now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

double StartSignal::Release() {
  const double now = Now();
  if (fds_[1] >= 0) close(fds_[1]);
  fds_[1] = -1;
  return now;
}

double RunTogether(int n, const TimedWorker& worker) {
  SharedArray<double> finished(n);
  StartSignal start;
  std::vector<pid_t> children;
  for (int i = 0; i < n; ++i) children.push_back(Spawn([&, i] { return worker(i, start, &finished[i]); }));
  const bool ready = start.AllReady(n);
  const double started = start.Release();
  if (!WaitAll(children) || !ready) return -1;
  double last = started;
  for (int i = 0; i < n; ++i) last = std::max(last, finished[i]);
  return last - started;
}

double RunTogetherEachIteration(benchmark::State& state, int n, const TimedWorker& worker) {
  double seconds = 0;
  for (auto _ : state) {
    const double elapsed = RunTogether(n, worker);
    if (elapsed < 0) {
      state.SkipWithError("a process failed");
      return -1;
    }
    seconds += elapsed;
    state.SetIterationTime(elapsed);
  }
  return seconds;
}

}  // namespace bench
}  // namespace h5redislock
