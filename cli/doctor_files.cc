// doctor_files.cc: the file system the HDF5 files live on, and HDF5's own
// file locking (HDF5_USE_FILE_LOCKING), which differ in what they need.
//
// The Redis lock does not depend on the file system. HDF5's own locking is
// flock(2), which the driver also takes, best effort; on network file
// systems flock may be unsupported (then HDF5's own open fails unless
// HDF5_USE_FILE_LOCKING is FALSE or BEST_EFFORT) or may not span hosts.
#include <sys/vfs.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "doctor_checks.h"

namespace h5redislock {
namespace cli {
namespace {

using Verdict = Finding::Verdict;

struct FileSystem {
  unsigned long magic;  // statfs f_type
  const char* name;
  const char* note;     // for network file systems: what to mind; nullptr for local ones
};

constexpr const char* kSharedNote =
    "the Redis lock spans hosts only if they all name a file by the same path (else give key=)";

const FileSystem kFileSystems[] = {
    {0xEF53, "ext4", nullptr},
    {0x58465342, "xfs", nullptr},
    {0x9123683E, "btrfs", nullptr},
    {0x2FC12FC1, "zfs", nullptr},
    {0x01021994, "tmpfs", nullptr},
    {0x794C7630, "overlayfs", nullptr},
    {0x6969, "NFS", "the NFS client emulates flock with POSIX locks, which need working NFS locking (lockd "
                    "for NFSv3)"},
    {0x0BD00BD0, "Lustre", "flock spans Lustre clients only when mounted with -o flock (-o localflock keeps it "
                           "per client)"},
    {0x47504653, "GPFS", "flock works on GPFS across nodes"},
    {0x00C36400, "CephFS", "flock works on CephFS across clients"},
    {0x19830326, "BeeGFS", "flock spans BeeGFS clients only with tuneUseGlobalFileLocks"},
    {0xFF534D42, "CIFS", "flock on SMB mounts depends on the mount options (nobrl turns it off)"},
    {0xFE534D42, "SMB2", "flock on SMB mounts depends on the mount options (nobrl turns it off)"},
    {0x65735546, "FUSE", "whether flock works depends on the FUSE file system"},
};

const FileSystem* FindFileSystem(unsigned long magic) {
  for (const FileSystem& fs : kFileSystems)
    if (fs.magic == magic) return &fs;
  return nullptr;
}

}  // namespace

void CheckFiles(const std::string& path, Findings* out) {
  struct statfs st;
  const FileSystem* fs = nullptr;
  if (statfs(path.c_str(), &st) != 0) {
    out->push_back({Verdict::kWarn, "file system", "cannot inspect " + path + ": " + std::strerror(errno), ""});
  } else if ((fs = FindFileSystem(static_cast<unsigned long>(st.f_type))) == nullptr) {
    char magic[32];
    std::snprintf(magic, sizeof magic, "0x%lX", static_cast<unsigned long>(st.f_type));
    out->push_back({Verdict::kOk, "file system", std::string("type ") + magic + " at " + path, ""});
  } else if (!fs->note) {
    out->push_back({Verdict::kOk, "file system", std::string(fs->name) + " (local) at " + path, ""});
  } else {
    out->push_back({Verdict::kNote, "file system",
                    std::string(fs->name) + " (shared) at " + path + ": " + kSharedNote + "; " + fs->note, ""});
  }
  const bool shared = fs && fs->note;

  const char* env = std::getenv("HDF5_USE_FILE_LOCKING");
  const std::string value = env ? env : "";
  if (value.empty() || value == "TRUE" || value == "1") {
    const std::string text = (env ? value : "unset (TRUE)") +
                             ": HDF5 flocks files too; programs outside the driver are kept out while a writer "
                             "of this host holds a file";
    if (shared)
      out->push_back({Verdict::kWarn, "HDF5_USE_FILE_LOCKING", text,
                      "if opens fail with \"unable to lock file\" here, set HDF5_USE_FILE_LOCKING=BEST_EFFORT "
                      "(the Redis lock still protects the files)"});
    else
      out->push_back({Verdict::kOk, "HDF5_USE_FILE_LOCKING", text, ""});
  } else if (value == "BEST_EFFORT") {
    out->push_back({Verdict::kOk, "HDF5_USE_FILE_LOCKING",
                    "BEST_EFFORT: HDF5 flocks files where the file system lets it", ""});
  } else if (value == "FALSE" || value == "0") {
    out->push_back({Verdict::kNote, "HDF5_USE_FILE_LOCKING",
                    value + ": HDF5 does not flock files; the Redis lock protects programs that use the driver, "
                            "but HDF5 tools that fall back to another driver read unlocked",
                    ""});
  } else {
    out->push_back({Verdict::kWarn, "HDF5_USE_FILE_LOCKING", "'" + value + "' is not a value HDF5 knows",
                    "use TRUE, FALSE or BEST_EFFORT"});
  }
}

}  // namespace cli
}  // namespace h5redislock
