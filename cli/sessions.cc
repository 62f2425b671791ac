#include "sessions.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace h5redislock {
namespace cli {

Status JoinSession(const ServerFiles& files, std::unique_ptr<FileLock>* session) {
  return FileLock::Wait(files.sessions, FileLock::Mode::kShared, session);
}

bool SessionsIdle(const ServerFiles& files) {
  struct stat st;
  if (stat(files.sessions.c_str(), &st) != 0 && errno == ENOENT) return true;  // nobody ever joined
  std::unique_ptr<FileLock> probe;
  return FileLock::Try(files.sessions, FileLock::Mode::kExclusive, &probe).ok() && probe != nullptr;
}

std::vector<long> SessionPids(const ServerFiles& files) {
  std::vector<long> pids;
  struct stat st;
  if (stat(files.sessions.c_str(), &st) != 0) return pids;
  // /proc/locks names the locked inode as MAJOR:MINOR:INODE (hex, hex, decimal).
  char id[64];
  std::snprintf(id, sizeof id, "%02x:%02x:%lu", major(st.st_dev), minor(st.st_dev),
                static_cast<unsigned long>(st.st_ino));
  std::ifstream locks("/proc/locks");
  // "1: FLOCK  ADVISORY  READ 6926 fe:00:9978256 0 EOF"; lines of waiters
  // carry "->" after the number and are not holders.
  for (std::string line; std::getline(locks, line);) {
    std::istringstream fields(line);
    std::string number, kind, advisory, access, inode;
    long pid = 0;
    if (fields >> number >> kind >> advisory >> access >> pid >> inode && kind == "FLOCK" && inode == id)
      pids.push_back(pid);
  }
  return pids;
}

}  // namespace cli
}  // namespace h5redislock
