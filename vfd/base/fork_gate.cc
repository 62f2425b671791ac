#include "base/fork_gate.h"

#include <pthread.h>

#include <mutex>

namespace h5redislock {
namespace {

// Busy threads hold it for reading; fork holds it for writing from its
// prepare handler until its parent and child handlers. glibc's rwlock
// prefers readers by default, so a Busy nested in another never waits for a
// fork that waits for the outer one.
pthread_rwlock_t gate = PTHREAD_RWLOCK_INITIALIZER;

void InstallForkHandlers() {
  static std::once_flag installed;
  std::call_once(installed, [] {
    // The child has a thread of another id than the one that locked the
    // gate, which glibc's unlock would take for a reader: it gets a new
    // gate instead (no other thread is there to hold it).
    pthread_atfork([] { pthread_rwlock_wrlock(&gate); }, [] { pthread_rwlock_unlock(&gate); },
                   [] { pthread_rwlock_init(&gate, nullptr); });
  });
}

}  // namespace

void ForkGate::Busy::Enter() {
  if (inside_) return;
  InstallForkHandlers();
  pthread_rwlock_rdlock(&gate);
  inside_ = true;
}

void ForkGate::Busy::Leave() {
  if (!inside_) return;
  pthread_rwlock_unlock(&gate);
  inside_ = false;
}

}  // namespace h5redislock
