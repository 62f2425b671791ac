#include "namespaces.h"

#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>

#include "test_support.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080  // Linux 5.6; older C libraries lack the name
#endif

namespace h5redislock {
namespace testing {

bool EnterMountNamespaceWithProc(const char* options) {
  if (unshare(CLONE_NEWNS) != 0) return false;
  // Private, so that nothing done here reaches the machine's mounts.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
  if (umount2("/proc", MNT_DETACH) != 0) return false;
  return !options || mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, options) == 0;
}

bool BecomeUser(uid_t uid) {
  if (setgroups(0, nullptr) != 0 || setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0) return false;
  // A change of credentials makes a process undumpable, which hides its
  // /proc files from its own user too; a process a user starts is not.
  return prctl(PR_SET_DUMPABLE, 1) == 0;
}

bool EnterPidNamespaceForChildren() { return unshare(CLONE_NEWPID) == 0; }

bool SetNextPid(pid_t pid) {
  FILE* last = std::fopen("/proc/sys/kernel/ns_last_pid", "w");
  if (!last) return false;
  const bool written = std::fprintf(last, "%d\n", static_cast<int>(pid) - 1) > 0;
  return std::fclose(last) == 0 && written;
}

bool EnterTimeNamespaceForChildren(long boottime_offset_s) {
  if (unshare(CLONE_NEWTIME) != 0) return false;
  // The offsets can be set only until the first process enters it.
  FILE* offsets = std::fopen("/proc/self/timens_offsets", "w");
  if (!offsets) return false;
  const bool written = std::fprintf(offsets, "boottime %ld 0\n", boottime_offset_s) > 0;
  return std::fclose(offsets) == 0 && written;
}

pid_t RunInNewNamespaces(const std::function<bool()>& setup, const std::function<int()>& body) {
  return RunChild([&] {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with the test, and its child with it
    if (!setup()) return 77;
    return WaitChild(RunChild([&] {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      return body();
    }));
  });
}

std::string NamespacesUnsupported() {
  // Before 5.8 every /proc of a pid namespace shared one set of options: a
  // hidepid mount here would hide processes on the whole machine.
  struct utsname kernel;
  int major = 0, minor = 0;
  if (uname(&kernel) != 0 || std::sscanf(kernel.release, "%d.%d", &major, &minor) != 2 ||
      major * 100 + minor < 508)
    return "needs Linux 5.8 for a /proc of its own options";
  const int rc = WaitChild(RunChild([] {
    if (!EnterMountNamespaceWithProc("hidepid=2")) return 1;
    if (!EnterPidNamespaceForChildren()) return 2;
    if (!EnterTimeNamespaceForChildren(1)) return 3;
    if (WaitChild(RunChild([] { return BecomeUser(65534) ? 0 : 4; })) != 0) return 4;
    return 0;
  }));
  switch (rc) {
    case 0: return "";
    case 1: return "cannot mount /proc in a mount namespace of its own (needs root)";
    case 2: return "cannot make a pid namespace (needs root)";
    case 3: return "cannot make a time namespace (needs Linux 5.6 and root)";
    case 4: return "cannot change to another user (needs root)";
  }
  return "the namespace probe failed with status " + std::to_string(rc);
}

}  // namespace testing
}  // namespace h5redislock
