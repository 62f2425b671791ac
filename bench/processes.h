// processes.h: plumbing for the cases run with real processes (hand-offs,
// readers, many processes): forked children, memory they share with the
// benchmark, a signal that starts them all at once, and the clock they all
// read alike.
//
// Children are forked from the benchmark after HDF5 and the plugin are
// loaded; the driver gives a forked child a lock table of its own, so a child
// opens files as any process would. A child creates its own Scheme (and so
// its own Redis connections) and exits with _exit, never running the
// parent's exit handlers.
#ifndef H5REDISLOCK_BENCH_PROCESSES_H_
#define H5REDISLOCK_BENCH_PROCESSES_H_

#include <benchmark/benchmark.h>
#include <sys/types.h>

#include <atomic>
#include <functional>
#include <vector>

#include "base/shared_array.h"

namespace h5redislock {
namespace bench {

// CLOCK_MONOTONIC in seconds: one clock for every process of the machine, so
// a time taken in one process can be subtracted from a time taken in another.
double Now();

// Forks a child that runs `body` and exits 0 if it returned true, 1 if it
// returned false or threw.
pid_t Spawn(const std::function<bool()>& body);

// Waits for every child; true if all exited 0. While any runs, calls
// `meanwhile` (if given) about every `period` seconds.
bool WaitAll(const std::vector<pid_t>& pids, const std::function<void()>& meanwhile = {}, double period = 0.005);

// Starts children together: each one, set up, calls Await(), which blocks
// until the parent, having seen them all ready, calls Release(), which lets
// them all go at once (it closes a pipe they all read: nobody spins).
class StartSignal {
 public:
  StartSignal();
  ~StartSignal();
  StartSignal(const StartSignal&) = delete;
  StartSignal& operator=(const StartSignal&) = delete;

  // In a child: reports ready and blocks until Release().
  void Await();
  // In the parent: waits until `children` have called Await(); false if they
  // did not within a minute.
  bool AllReady(int children);
  // In the parent: lets them go; returns the time (Now()) of the release.
  double Release();

 private:
  int fds_[2];
  SharedArray<std::atomic<int>> ready_{1};
};

// Runs `worker(i, start, &finished_i)` in `n` children released together,
// each noting in finished_i the time (Now()) it finished, and returns the
// seconds from the release to the last finish; negative if a child failed
// or they did not all get ready.
using TimedWorker = std::function<bool(int index, StartSignal& start, double* finished)>;
double RunTogether(int n, const TimedWorker& worker);

// The loop of a benchmark made of such runs: one RunTogether per iteration,
// its time the iteration's (manual time). Returns the seconds of all
// iterations; negative, with the benchmark marked as failed, if a run failed.
double RunTogetherEachIteration(benchmark::State& state, int n, const TimedWorker& worker);

}  // namespace bench
}  // namespace h5redislock

#endif  // H5REDISLOCK_BENCH_PROCESSES_H_
