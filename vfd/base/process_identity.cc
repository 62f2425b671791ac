#include "base/process_identity.h"

#include "base/no_destructor.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <cstdlib>

namespace h5redislock {
namespace {

std::string ReadFirstLine(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Fields of /proc/<pid>/stat after the command name, which may itself hold
// spaces and parentheses: the state is the first field after the last ')'.
bool ReadProcStat(long pid, char* state, unsigned long long* start) {
  // Plain read(2): a process exiting under us makes the read fail (ESRCH),
  // which iostreams would turn into an exception.
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');
  if (!paren) return false;
  // Fields after the command name: 3 is the state, 22 the start time.
  char* cursor = const_cast<char*>(paren + 1);
  for (int index = 3; index <= 22; ++index) {
    char* field = strtok_r(cursor, " ", &cursor);
    if (!field) return false;
    if (index == 3) *state = field[0];
    if (index == 22) *start = std::strtoull(field, nullptr, 10);
  }
  return true;
}

const std::string& HostKey() {
  static NoDestructor<std::string> key([] {
    std::string boot = ReadFirstLine("/proc/sys/kernel/random/boot_id");
    struct stat st;
    std::string pidns = stat("/proc/self/ns/pid", &st) == 0 ? std::to_string(st.st_ino) : "?";
    return boot + "/" + pidns;
  }());
  return *key;
}

std::atomic<unsigned long> g_fork_generation{0};

void OnForkInChild() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

// Registered when the library loads, so that no fork can slip past it.
const int g_atfork_registered = pthread_atfork(nullptr, nullptr, OnForkInChild);

}  // namespace

unsigned long ForkGeneration() { return g_fork_generation.load(std::memory_order_relaxed); }

ProcessIdentity ThisProcess() {
  // Host name and host key do not change with fork; pid and start time do.
  static NoDestructor<std::string> host([] {
    char name[HOST_NAME_MAX + 1] = {0};
    if (gethostname(name, sizeof name - 1) != 0) std::strcpy(name, "unknown");
    return std::string(name);
  }());
  ProcessIdentity id;
  id.host = *host;
  id.host_key = HostKey();
  id.pid = static_cast<long>(getpid());
  // The start time changes only with fork: read /proc once per generation
  // (an open takes a lock, and this is on that path). Lock-free, because a
  // mutex might be held by a parent thread that does not exist in the child;
  // two threads racing here both compute the same value.
  static std::atomic<unsigned long> cached_generation{~0ul};
  static std::atomic<unsigned long long> cached_start{0};
  unsigned long generation = ForkGeneration();
  if (cached_generation.load(std::memory_order_acquire) == generation) {
    id.start = cached_start.load(std::memory_order_relaxed);
  } else {
    char state = '?';
    ReadProcStat(id.pid, &state, &id.start);
    cached_start.store(id.start, std::memory_order_relaxed);
    cached_generation.store(generation, std::memory_order_release);
  }
  return id;
}

Liveness CheckLiveness(const std::string& host_key, long pid, unsigned long long start) {
  if (host_key != HostKey() || pid <= 0) return Liveness::kUnknown;
  if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return Liveness::kDead;
  char state = '?';
  unsigned long long actual_start = 0;
  if (!ReadProcStat(pid, &state, &actual_start)) return Liveness::kDead;  // gone since kill()
  if (actual_start != start) return Liveness::kDead;                       // pid reused
  if (state == 'Z' || state == 'X') return Liveness::kDead;                // exited, not reaped
  return Liveness::kAlive;
}

}  // namespace h5redislock
