#include "ping_pong.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "processes.h"

namespace h5redislock {
namespace bench {
namespace {

class FileTurn : public Turn {
 public:
  FileTurn(SchemeKind kind, const std::string& path, bool write)
      : scheme_(Scheme::Make(kind)), path_(path), write_(write) {}
  bool Take() override {
    file_ = scheme_->Open(path_, write_);
    return file_ >= 0;
  }
  bool Give() override { return scheme_->Close(file_); }

 private:
  std::unique_ptr<Scheme> scheme_;
  const std::string path_;
  const bool write_;
  hid_t file_ = H5I_INVALID_HID;
};

class LockTurn : public Turn {
 public:
  LockTurn(LockKind kind, const std::string& name, bool write)
      : lock_(LockClient::Make(kind)), name_(name), write_(write) {}
  bool Take() override { return lock_->Acquire(name_, write_); }
  bool Give() override { return lock_->Release(); }

 private:
  std::unique_ptr<LockClient> lock_;
  const std::string name_;
  const bool write_;
};

// What the two processes share.
struct Board {
  std::atomic<int> asked{-1};     // the last round whose asker has asked
  std::atomic<int> acquired{-2};  // the last round whose asker took it; -1: process 0 took it first
  std::atomic<bool> failed{false};
};

// Waits until `counter` reaches `round`; false if the other process failed
// or nothing happened for two minutes. It sleeps rather than spins, and not
// briefly: the two processes and Redis share the machine's cores, and how
// soon a player notices does not enter any measured time.
bool WaitFor(const std::atomic<int>& counter, int round, const Board& board) {
  const double give_up = Now() + 120;
  while (counter.load() < round) {
    if (board.failed.load() || Now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return true;
}

bool Play(const PingPong& spec, int me, Board& board, SharedArray<double>& released, SharedArray<double>& acquired) {
  std::unique_ptr<Turn> turn = spec.turns(spec.writes[me]);
  if (me == 0) {
    if (!turn->Take()) return false;
    board.acquired = -1;
  }
  for (int round = 0; round < spec.rounds; ++round) {
    const bool holder = round % 2 == me;
    if (holder) {
      if (!WaitFor(board.asked, round, board)) return false;
      std::this_thread::sleep_for(std::chrono::duration<double>(spec.hold_s));
      released[round] = Now();
      if (!turn->Give()) return false;
    } else {
      if (!WaitFor(board.acquired, round - 1, board)) return false;
      board.asked = round;
      const bool taken = turn->Take();
      acquired[round] = Now();
      if (!taken) return false;
      board.acquired = round;
    }
  }
  // The last round's asker holds it at the end.
  const bool holds = (spec.rounds - 1) % 2 != me;
  return !holds || turn->Give();
}

}  // namespace

TurnMaker FileTurns(SchemeKind scheme, const std::string& path) {
  return [=](bool write) { return std::make_unique<FileTurn>(scheme, path, write); };
}

TurnMaker LockTurns(LockKind lock, const std::string& name) {
  return [=](bool write) { return std::make_unique<LockTurn>(lock, name, write); };
}

bool RunPingPong(const PingPong& spec, std::vector<Handoff>* handoffs, const std::function<void()>& meanwhile) {
  SharedArray<Board> board(1);
  SharedArray<double> released(spec.rounds), acquired(spec.rounds);
  std::vector<pid_t> players;
  for (int me = 0; me < 2; ++me) {
    players.push_back(Spawn([&, me] {
      bool ok = Play(spec, me, board[0], released, acquired);
      if (!ok) board[0].failed = true;
      return ok;
    }));
  }
  if (!WaitAll(players, meanwhile)) return false;
  handoffs->clear();
  for (int round = 0; round < spec.rounds; ++round) {
    const int holder = round % 2;
    handoffs->push_back({acquired[round] - released[round], spec.writes[holder], spec.writes[1 - holder]});
  }
  return true;
}

}  // namespace bench
}  // namespace h5redislock
