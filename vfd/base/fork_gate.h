// fork_gate.h: the driver's own threads stand still while the process forks.
//
// A child of fork() has only the thread that forked. Whatever another thread
// was doing at that instant stays half-done in the child, and the locks it
// held stay held there, by nobody. glibc's malloc survives that (it takes its
// arenas' locks around fork), but not every allocator does: GCC 12's
// AddressSanitizer does not, and a test's child forked while the server
// watch was inside malloc spun forever on ASan's stack depot lock. The
// driver's forked users (h5pyswmr's multiprocessing, the tests) must not
// depend on where its threads happen to be.
//
// So each of the driver's background threads (the lease keeper's lanes, the
// server watches, the cache sweeper) does its work inside a ForkGate::Busy
// and leaves it before every wait (a condition variable, poll, sleep), and
// fork, through pthread_atfork, waits until no thread is inside one and
// keeps them out until it returns. A fork therefore waits at most for one
// step of theirs: a round trip to Redis, bounded by connect_timeout. A
// thread that forks must not be inside a Busy itself (none of the driver's
// threads forks). A new thread's start-up (the C library's and a sanitizer's
// own allocations) comes before its first Busy: StartThread counts the thread
// in before it creates it, so a fork that follows waits for it.
#ifndef H5REDISLOCK_BASE_FORK_GATE_H_
#define H5REDISLOCK_BASE_FORK_GATE_H_

#include <functional>

namespace h5redislock {

class ForkGate {
 public:
  class Busy;
  // Runs body(busy) on a new, detached thread that is inside the gate from
  // before it starts.
  static void StartThread(std::function<void(Busy&)> body);

  // Inside the gate from construction until Leave (or destruction); Enter
  // again after a wait.
  class Busy {
   public:
    Busy() { Enter(); }
    ~Busy() { Leave(); }
    Busy(const Busy&) = delete;
    Busy& operator=(const Busy&) = delete;

    void Enter();
    void Leave();

   private:
    friend class ForkGate;
    enum CountedIn { kCountedIn };
    explicit Busy(CountedIn) : inside_(true) {}  // StartThread counted it in

    bool inside_ = false;
  };
};

}  // namespace h5redislock

#endif  // H5REDISLOCK_BASE_FORK_GATE_H_
