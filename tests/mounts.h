// mounts.h: file systems the tests mount for real, to inject the faults of
// shared clusters' storage:
//
//   Tmpfs          a small tmpfs, which fills up (ENOSPC) as a quota or a
//                  full disk does
//   CachingMount   a FUSE passthrough of a directory (tests/caching_passthrough.cc)
//                  that caches names as an NFS client does: a lookup's answer,
//                  also "no such file", is trusted for `cache_seconds`, while
//                  file data and attributes are read afresh (close-to-open).
//                  Two of them over one directory are two client hosts.
//
// Both need root. They are mounted in a mount namespace of the test process's
// own (EnterPrivateMountNamespace), so that no mount outlives the test however
// it ends; the FUSE server is a child that dies with the test.
#ifndef H5REDISLOCK_TESTS_MOUNTS_H_
#define H5REDISLOCK_TESTS_MOUNTS_H_

#include <sys/types.h>

#include <string>

namespace h5redislock {
namespace testing {

// Moves the calling thread (and the children it forks from then on) into a
// new mount namespace whose mounts do not propagate back. False, with the
// reason, where that is not allowed (not root, a sandbox).
bool EnterPrivateMountNamespace(std::string* why);

class Tmpfs {
 public:
  // Mounts a tmpfs of `bytes` on the existing directory `dir`.
  Tmpfs(std::string dir, long long bytes);
  ~Tmpfs();
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;
  bool ok() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

// Fills the file system of `path` (a new file) until a write fails with
// ENOSPC, then frees `leave` bytes of it. False if it never filled.
bool FillFileSystem(const std::string& path, long long leave);

// Whether this build has the FUSE passthrough (libfuse3 was found).
bool HaveCachingPassthrough();

class CachingMount {
 public:
  // Mounts `source` on the existing directory `mountpoint`. If `op_log` is
  // given, the server appends one line per operation that changes a file
  // ("create", "write", "truncate", "fsync", "fsyncdir", "unlink", "rename"
  // with the path below the mount) to it, in the order it serves them.
  CachingMount(std::string source, std::string mountpoint, int cache_seconds, std::string op_log = {});
  ~CachingMount();
  CachingMount(const CachingMount&) = delete;
  CachingMount& operator=(const CachingMount&) = delete;
  bool ok() const { return server_ > 0; }
  const std::string& error() const { return error_; }

 private:
  std::string mountpoint_;
  pid_t server_ = 0;
  std::string error_;
};

}  // namespace testing
}  // namespace h5redislock

#endif  // H5REDISLOCK_TESTS_MOUNTS_H_
