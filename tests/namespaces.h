// namespaces.h: the kernel's namespaces as fault injectors, for the forked
// children of a test: a /proc mounted hidepid=2, or none at all; another
// user; a pid namespace of its own; a time namespace whose boot clock is
// offset, as after a suspend.
//
// Each Enter*/Become* call changes the calling process (mount namespace,
// credentials) or the namespace of the children it forks afterwards (pid
// and time namespaces): call them in a child right after fork, while it has
// one thread, never in the test's own process. They return false (and leave
// errno) where the kernel or a sandbox forbids them; NamespacesSupported
// asks that once, in a child, so that a test can skip with the reason.
#ifndef H5REDISLOCK_TESTS_NAMESPACES_H_
#define H5REDISLOCK_TESTS_NAMESPACES_H_

#include <sys/types.h>

#include <functional>
#include <string>

namespace h5redislock {
namespace testing {

// A mount namespace of its own in which /proc is a fresh procfs mounted
// with `options` ("hidepid=2": other users' processes are invisible), or,
// with `options` null, in which /proc is not mounted at all.
bool EnterMountNamespaceWithProc(const char* options);

// Drops root for `uid` (and gid `uid`, no supplementary groups): no
// capability is left, so kill() and /proc treat the process as that user.
bool BecomeUser(uid_t uid);

// Children forked after this run in a new pid namespace (the first one is
// its pid 1; when it exits, the kernel kills the rest).
bool EnterPidNamespaceForChildren();

// The next process this pid namespace creates gets `pid` if it is free
// (/proc/sys/kernel/ns_last_pid, which counts in the caller's namespace
// whichever /proc it is reached through).
bool SetNextPid(pid_t pid);

// Children forked after this run in a new time namespace whose
// CLOCK_BOOTTIME is `boottime_offset_s` seconds ahead of ours, while
// CLOCK_MONOTONIC stays as it is: the two clocks then differ as they do
// after a suspend of that length.
bool EnterTimeNamespaceForChildren(long boottime_offset_s);

// Forks a child that runs `setup` (any of the above) and then `body` in a
// grandchild, so that namespaces "for children" apply to `body`; the
// child's exit status is the grandchild's (WaitChild). 77 when `setup`
// failed.
pid_t RunInNewNamespaces(const std::function<bool()>& setup, const std::function<int()>& body);

// "" if this kernel and sandbox allow all of the above to a child of this
// process; otherwise what failed, for GTEST_SKIP. Linux 5.8 at least: an
// older one shares /proc's options (hidepid) across all mounts.
std::string NamespacesUnsupported();

}  // namespace testing
}  // namespace h5redislock

#endif  // H5REDISLOCK_TESTS_NAMESPACES_H_
