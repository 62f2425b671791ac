#include "base/fork_gate.h"

#include <pthread.h>

#include <mutex>
#include <thread>

namespace h5redislock {
namespace {

// How many threads are inside the gate, and whether a fork is waiting for
// them or under way. Plain pthread objects, as pthread_atfork's handlers are
// plain functions: the prepare handler keeps `mu` locked through the fork,
// so that no thread is inside Enter or Leave at that instant, and the parent
// and the child handlers unlock it (the child, as the same thread's copy;
// its condition variable is made anew: the waiters it had are not there).
pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
int busy = 0;          // guarded by mu
bool forking = false;  // guarded by mu

void Prepare() {
  pthread_mutex_lock(&mu);
  forking = true;
  while (busy > 0) pthread_cond_wait(&changed, &mu);
}

void InParent() {
  forking = false;
  pthread_cond_broadcast(&changed);
  pthread_mutex_unlock(&mu);
}

void InChild() {
  forking = false;
  busy = 0;
  pthread_cond_init(&changed, nullptr);
  pthread_mutex_unlock(&mu);
}

void InstallForkHandlers() {
  static std::once_flag installed;
  std::call_once(installed, [] { pthread_atfork(Prepare, InParent, InChild); });
}

}  // namespace

void ForkGate::StartThread(std::function<void(Busy&)> body) {
  // Counted in before it exists: a fork from now on waits for the thread's
  // first Leave, start-up included. Never waits itself, so a thread inside
  // the gate may start another while a fork waits for it to leave.
  InstallForkHandlers();
  pthread_mutex_lock(&mu);
  ++busy;
  pthread_mutex_unlock(&mu);
  std::thread([body = std::move(body)] {
    Busy busy(Busy::kCountedIn);
    body(busy);
  }).detach();
}

void ForkGate::Busy::Enter() {
  if (inside_) return;
  InstallForkHandlers();
  pthread_mutex_lock(&mu);
  while (forking) pthread_cond_wait(&changed, &mu);
  ++busy;
  pthread_mutex_unlock(&mu);
  inside_ = true;
}

void ForkGate::Busy::Leave() {
  if (!inside_) return;
  pthread_mutex_lock(&mu);
  if (--busy == 0 && forking) pthread_cond_broadcast(&changed);
  pthread_mutex_unlock(&mu);
  inside_ = false;
}

}  // namespace h5redislock
