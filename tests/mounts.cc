#include "mounts.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

namespace h5redislock {
namespace testing {
namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

dev_t DeviceOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_dev : 0;
}

// Waits up to `seconds` for our child `pid` to end, reaping it.
bool Ended(pid_t pid, double seconds) {
  for (int i = 0; i < seconds * 100; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) != 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

bool EnterPrivateMountNamespace(std::string* why) {
  if (unshare(CLONE_NEWNS) != 0) {
    *why = Errno("unshare(CLONE_NEWNS)");
    return false;
  }
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    *why = Errno("making / private in the new mount namespace");
    return false;
  }
  return true;
}

Tmpfs::Tmpfs(std::string dir, long long bytes) : dir_(std::move(dir)) {
  const std::string options = "size=" + std::to_string(bytes);
  mounted_ = mount("tmpfs", dir_.c_str(), "tmpfs", 0, options.c_str()) == 0;
  if (!mounted_) error_ = Errno("mount -t tmpfs -o " + options + " " + dir_);
}

Tmpfs::~Tmpfs() {
  if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
}

bool FillFileSystem(const std::string& path, long long leave) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  std::vector<char> chunk(64 * 1024, 'f');
  long long size = 0;
  bool full = false;
  while (!full) {
    ssize_t n = write(fd, chunk.data(), chunk.size());
    if (n > 0) size += n;
    else full = n < 0 && errno == ENOSPC;
    if (n <= 0 && !full) break;
  }
  bool freed = full && ftruncate(fd, size > leave ? size - leave : 0) == 0;
  close(fd);
  return freed;
}

bool HaveCachingPassthrough() { return std::strlen(H5REDISLOCK_CACHING_PASSTHROUGH) > 0; }

CachingMount::CachingMount(std::string source, std::string mountpoint, int cache_seconds, std::string op_log)
    : mountpoint_(std::move(mountpoint)) {
  if (!HaveCachingPassthrough()) {
    error_ = "this build has no FUSE passthrough (libfuse3 was not found)";
    return;
  }
  const dev_t before = DeviceOf(mountpoint_);
  const std::string program = H5REDISLOCK_CACHING_PASSTHROUGH;
  const std::string seconds = std::to_string(cache_seconds);
  const pid_t test = getpid();
  pid_t child = fork();
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // no FUSE server outlives its test
    if (getppid() != test) _exit(127);
    execl(program.c_str(), program.c_str(), source.c_str(), mountpoint_.c_str(), seconds.c_str(),
          op_log.empty() ? nullptr : op_log.c_str(), nullptr);
    _exit(127);
  }
  if (child < 0) {
    error_ = Errno("fork");
    return;
  }
  for (int i = 0; i < 500; ++i) {  // up to 5 s for the mount to appear
    if (DeviceOf(mountpoint_) != before) {
      server_ = child;
      return;
    }
    if (Ended(child, 0)) {
      error_ = program + " exited before it mounted " + mountpoint_;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  error_ = program + " did not mount " + mountpoint_ + " within 5 s";
}

CachingMount::~CachingMount() {
  if (server_ <= 0) return;
  // The server unmounts when told to stop; a stuck one is killed and its
  // mount detached.
  kill(server_, SIGTERM);
  if (!Ended(server_, 5)) {
    kill(server_, SIGKILL);
    waitpid(server_, nullptr, 0);
  }
  umount2(mountpoint_.c_str(), MNT_DETACH);
}

}  // namespace testing
}  // namespace h5redislock
