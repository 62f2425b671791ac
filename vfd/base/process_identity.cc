#include "base/process_identity.h"

#include "base/hex.h"
#include "base/no_destructor.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <cstdlib>
#include <mutex>

namespace h5redislock {
namespace {

std::string ReadFirstLine(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The start of /proc/<pid>/<name>, NUL-terminated; false if unreadable. Plain
// read(2): a process exiting under us makes the read fail (ESRCH), which
// iostreams would turn into an exception.
bool ReadProcFile(long pid, const char* name, char* buf, size_t size) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%ld/%s", pid, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  return true;
}

// Fields of /proc/<pid>/stat after the command name, which may itself hold
// spaces and parentheses: the state is the first field after the last ')'.
bool ReadProcStat(long pid, char* state, unsigned long long* start) {
  char buf[1024];
  if (!ReadProcFile(pid, "stat", buf, sizeof buf)) return false;
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

// The threads of process `pid` that have not been released yet, a zombie
// main thread included (the "Threads:" line of /proc/<pid>/status); 0 if
// unreadable.
long ThreadCount(long pid) {
  char buf[4096];
  if (!ReadProcFile(pid, "status", buf, sizeof buf)) return 0;
  const char* line = std::strstr(buf, "\nThreads:");
  return line ? std::strtol(line + std::strlen("\nThreads:"), nullptr, 10) : 0;
}

// The kernel's word that no process has the pid (in our pid namespace),
// whatever /proc shows or hides.
bool PidIsFree(long pid) { return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH; }

// Whether /proc is this process's: mounted, and of its pid namespace. In a
// pid namespace entered without mounting its own /proc, /proc/<n> is the
// outer namespace's process n, not ours.
bool ProcIsOurs() {
  char link[32];
  ssize_t n = readlink("/proc/self", link, sizeof link - 1);
  if (n <= 0) return false;
  link[n] = '\0';
  return std::strtol(link, nullptr, 10) == static_cast<long>(getpid());
}

// The inode that names this process's namespace of `kind`; `absent` if the
// kernel has no such namespaces, "" if it cannot be read. Asked of the
// calling thread: once the main thread has exited (pthread_exit),
// /proc/self/ns/ is gone while the process lives on. /proc/self is for
// kernels before 3.17, which have no /proc/thread-self.
std::string NamespaceId(const char* kind, const char* absent) {
  struct stat st;
  for (const char* dir : {"/proc/thread-self/ns/", "/proc/self/ns/"}) {
    if (stat((dir + std::string(kind)).c_str(), &st) == 0) return std::to_string(st.st_ino);
    if (errno != ENOENT) return "";
  }
  return absent;
}

// A key no other process has: pid, wall-clock nanoseconds and 16 random
// bytes (as many as the kernel gives without blocking).
std::string PrivateKey() {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  unsigned char bytes[16] = {0};
  ssize_t got = getrandom(bytes, sizeof bytes, GRND_NONBLOCK);
  std::string key = "private/" + std::to_string(getpid()) + "/" +
                    std::to_string(now.tv_sec * 1000000000LL + now.tv_nsec) + "/";
  if (got > 0) key += HexString(bytes, static_cast<size_t>(got));
  return key;
}

// What this process is to other processes of its host: its host key and
// start time, as of one fork generation.
struct SelfIdentity {
  unsigned long generation = ~0ul;
  std::string host_key;
  unsigned long long start = 0;
};

// The key names the boot, the pid namespace and the time namespace (kernels
// without time namespaces have one clock for all: "-"); when /proc cannot
// vouch for them all, or for our own start time, the key is private.
SelfIdentity ReadSelfIdentity(unsigned long generation) {
  SelfIdentity self;
  self.generation = generation;
  const std::string boot = ReadFirstLine("/proc/sys/kernel/random/boot_id");
  const std::string pidns = NamespaceId("pid", ""), timens = NamespaceId("time", "-");
  char state = '?';
  const bool vouched = ProcIsOurs() && ReadProcStat(getpid(), &state, &self.start);
  if (vouched && !boot.empty() && !pidns.empty() && !timens.empty())
    self.host_key = boot + "/" + pidns + "/" + timens;
  else
    self.host_key = PrivateKey();
  return self;
}

std::atomic<unsigned long> g_fork_generation{0};

// Guards the identity. A fork takes it first and both sides let go after, so
// a child never inherits it held by a thread that the child does not have.
std::mutex g_self_mu;

void BeforeFork() { g_self_mu.lock(); }
void AfterForkInParent() { g_self_mu.unlock(); }
void AfterForkInChild() {
  g_fork_generation.fetch_add(1, std::memory_order_relaxed);
  g_self_mu.unlock();
}

// Registered when the library loads, so that no fork can slip past it.
const int g_atfork_registered = pthread_atfork(BeforeFork, AfterForkInParent, AfterForkInChild);

// The identity of this process. Read from /proc once per fork generation (an
// open takes a lock, and this is on that path): a child has another pid and
// start time, may be in another pid namespace, and draws its own private key.
SelfIdentity CurrentSelf() {
  std::lock_guard<std::mutex> lock(g_self_mu);
  static NoDestructor<SelfIdentity> self;  // guarded by g_self_mu
  const unsigned long generation = ForkGeneration();
  if (self->generation != generation) *self = ReadSelfIdentity(generation);
  return *self;
}

}  // namespace

unsigned long ForkGeneration() { return g_fork_generation.load(std::memory_order_relaxed); }

ProcessIdentity ThisProcess() {
  // The host name does not change with fork; the rest may.
  static NoDestructor<std::string> host([] {
    char name[HOST_NAME_MAX + 1] = {0};
    if (gethostname(name, sizeof name - 1) != 0) std::strcpy(name, "unknown");
    return std::string(name);
  }());
  SelfIdentity self = CurrentSelf();
  ProcessIdentity id;
  id.host = *host;
  id.host_key = std::move(self.host_key);
  id.pid = static_cast<long>(getpid());
  id.start = self.start;
  return id;
}

Liveness CheckLiveness(const std::string& host_key, long pid, unsigned long long start) {
  if (host_key != CurrentSelf().host_key || pid <= 0 || pid > INT_MAX) return Liveness::kUnknown;
  if (PidIsFree(pid)) return Liveness::kDead;
  char state = '?';
  unsigned long long actual_start = 0;
  // Some process has the pid. Unreadable: hidden from us (hidepid), or gone
  // since kill() asked; we cannot tell the holder from a reuse of its pid.
  if (!ReadProcStat(pid, &state, &actual_start)) return PidIsFree(pid) ? Liveness::kDead : Liveness::kUnknown;
  if (actual_start != start) return Liveness::kDead;  // the pid was reused
  if (state == 'X') return Liveness::kDead;
  if (state == 'Z') {
    // A zombie main thread: the process is dead only once no thread runs
    // (pthread_exit in main leaves the others running).
    const long threads = ThreadCount(pid);
    if (threads > 1) return Liveness::kAlive;
    if (threads == 1 || PidIsFree(pid)) return Liveness::kDead;
    return Liveness::kUnknown;
  }
  return Liveness::kAlive;
}

}  // namespace h5redislock
