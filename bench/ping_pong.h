// ping_pong.h: two processes that take turns holding one thing, a file or a
// bare lock; the machinery of cases 3 (hand-off latency) and 5 (commands per
// acquire while waiting).
//
// Process 0 takes it first. Then, round after round, the process that does
// not hold it asks for it (and so waits), and the holder, once the asker has
// asked, keeps it `hold_s` longer (long enough for the asker to be waiting),
// notes the time and gives it back; the asker notes the time its taking
// returned. Their difference is the hand-off latency: from the start of the
// release to the end of the waiter's acquire, on CLOCK_MONOTONIC in both
// processes. The asker asks only after the holder has it, so a polling lock's
// quick re-acquire cannot jump the turn.
#ifndef H5REDISLOCK_BENCH_PING_PONG_H_
#define H5REDISLOCK_BENCH_PING_PONG_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lock_clients.h"
#include "schemes.h"

namespace h5redislock {
namespace bench {

// One process's way to take the shared thing (waiting) and give it back.
class Turn {
 public:
  virtual ~Turn() = default;
  virtual bool Take() = 0;
  virtual bool Give() = 0;
};
// Makes a process's Turn, in that process, for its mode.
using TurnMaker = std::function<std::unique_ptr<Turn>(bool write)>;

// Turns that open and close the file `path` through a scheme (HDF5 included).
TurnMaker FileTurns(SchemeKind scheme, const std::string& path);
// Turns that take and release the lock `name` alone.
TurnMaker LockTurns(LockKind lock, const std::string& name);

struct PingPong {
  TurnMaker turns;
  bool writes[2] = {true, true};  // the mode of each process
  int rounds = 0;                 // hand-offs
  double hold_s = 0;              // how long the holder keeps it once asked
};

struct Handoff {
  double latency_s = 0;
  bool from_writer = false;
  bool to_writer = false;
};

// Runs the ping-pong; false if a process failed. *handoffs gets one entry per
// round. Meanwhile this process calls `meanwhile` (if given) every few
// milliseconds.
bool RunPingPong(const PingPong& spec, std::vector<Handoff>* handoffs, const std::function<void()>& meanwhile = {});

}  // namespace bench
}  // namespace h5redislock

#endif  // H5REDISLOCK_BENCH_PING_PONG_H_
