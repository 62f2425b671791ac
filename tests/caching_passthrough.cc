// caching_passthrough.cc: a FUSE file system that passes every operation on
// to a directory, and lets the kernel cache names as an NFS client does, for
// the tests' stand-ins of two client hosts sharing one file server
// (tests/mounts.h).
//
//   usage: caching_passthrough SOURCE MOUNTPOINT CACHE_SECONDS [OP_LOG]
//
// What is cached, and what is not, is the point:
//   names        a lookup's answer is trusted for CACHE_SECONDS, "no such
//                file" included (entry_timeout, negative_timeout), as an NFS
//                client trusts its dentries, negative ones too, until the
//                directory's attribute cache expires (acdirmin..acdirmax,
//                30-60 s by default);
//   attributes   never cached (attr_timeout 0);
//   data         never cached (direct_io): as NFS's close-to-open gives
//                fresh data to every open.
// Unlike NFS, opening the directory does not revalidate its names, so a
// name cached as absent stays so for CACHE_SECONDS whatever the opener does:
// the worst case a client's cache can produce.
//
// With OP_LOG, one line is appended per operation that changes a file, in
// the order they are served (the server runs single-threaded): what a test
// needs to check that syncs come before the writes they protect.
#define FUSE_USE_VERSION 31
#include <fuse.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

std::string g_source;
double g_cache_seconds = 0;
FILE* g_log = nullptr;

std::string Real(const char* path) { return g_source + path; }

// The result of a system call as FUSE wants it: 0 or -errno.
int Result(int rc) { return rc < 0 ? -errno : 0; }

void Log(const char* op, const char* path, const std::string& detail = "") {
  if (!g_log) return;
  std::fprintf(g_log, "%s %s%s%s\n", op, path, detail.empty() ? "" : " ", detail.c_str());
  std::fflush(g_log);
}

void* Init(fuse_conn_info*, fuse_config* cfg) {
  cfg->entry_timeout = g_cache_seconds;
  cfg->negative_timeout = g_cache_seconds;
  cfg->attr_timeout = 0;
  cfg->direct_io = 1;
  cfg->kernel_cache = 0;
  cfg->hard_remove = 1;  // unlink means unlink, as on the server
  return nullptr;
}

int GetAttr(const char* path, struct stat* st, fuse_file_info* fi) {
  return Result(fi ? fstat(static_cast<int>(fi->fh), st) : lstat(Real(path).c_str(), st));
}

int ReadDir(const char* path, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info*, fuse_readdir_flags) {
  DIR* dir = opendir(Real(path).c_str());
  if (!dir) return -errno;
  while (dirent* e = readdir(dir)) {
    struct stat st {};
    st.st_ino = e->d_ino;
    st.st_mode = static_cast<mode_t>(e->d_type) << 12;
    if (fill(buf, e->d_name, &st, 0, static_cast<fuse_fill_dir_flags>(0))) break;
  }
  closedir(dir);
  return 0;
}

int MkDir(const char* path, mode_t mode) { return Result(mkdir(Real(path).c_str(), mode)); }
int RmDir(const char* path) { return Result(rmdir(Real(path).c_str())); }

int Unlink(const char* path) {
  Log("unlink", path);
  return Result(unlink(Real(path).c_str()));
}

int Rename(const char* from, const char* to, unsigned int flags) {
  if (flags) return -EINVAL;
  Log("rename", from, to);
  return Result(rename(Real(from).c_str(), Real(to).c_str()));
}

int ChMod(const char* path, mode_t mode, fuse_file_info*) { return Result(chmod(Real(path).c_str(), mode)); }

int Truncate(const char* path, off_t size, fuse_file_info* fi) {
  Log("truncate", path, std::to_string(size));
  return Result(fi ? ftruncate(static_cast<int>(fi->fh), size) : truncate(Real(path).c_str(), size));
}

int UTimeNs(const char* path, const struct timespec tv[2], fuse_file_info*) {
  return Result(utimensat(AT_FDCWD, Real(path).c_str(), tv, AT_SYMLINK_NOFOLLOW));
}

int Open(const char* path, fuse_file_info* fi) {
  int fd = open(Real(path).c_str(), fi->flags);
  if (fd < 0) return -errno;
  fi->fh = static_cast<uint64_t>(fd);
  return 0;
}

int Create(const char* path, mode_t mode, fuse_file_info* fi) {
  Log("create", path);
  int fd = open(Real(path).c_str(), fi->flags | O_CREAT, mode);
  if (fd < 0) return -errno;
  fi->fh = static_cast<uint64_t>(fd);
  return 0;
}

int Read(const char*, char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  ssize_t n = pread(static_cast<int>(fi->fh), buf, size, offset);
  return n < 0 ? -errno : static_cast<int>(n);
}

int Write(const char* path, const char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  Log("write", path, std::to_string(offset) + " " + std::to_string(size));
  ssize_t n = pwrite(static_cast<int>(fi->fh), buf, size, offset);
  return n < 0 ? -errno : static_cast<int>(n);
}

int StatFs(const char* path, struct statvfs* st) { return Result(statvfs(Real(path).c_str(), st)); }

int Release(const char*, fuse_file_info* fi) { return Result(close(static_cast<int>(fi->fh))); }

int FSync(const char* path, int datasync, fuse_file_info* fi) {
  Log("fsync", path);
  int fd = static_cast<int>(fi->fh);
  return Result(datasync ? fdatasync(fd) : fsync(fd));
}

int FSyncDir(const char* path, int, fuse_file_info*) {
  Log("fsyncdir", path);
  int fd = open(Real(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return -errno;
  int rc = Result(fsync(fd));
  close(fd);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: %s SOURCE MOUNTPOINT CACHE_SECONDS [OP_LOG]\n", argv[0]);
    return 2;
  }
  g_source = argv[1];
  g_cache_seconds = std::atof(argv[3]);
  if (argc == 5 && !(g_log = std::fopen(argv[4], "a"))) {
    std::perror(argv[4]);
    return 1;
  }
  fuse_operations ops{};
  ops.init = Init;
  ops.getattr = GetAttr;
  ops.readdir = ReadDir;
  ops.mkdir = MkDir;
  ops.rmdir = RmDir;
  ops.unlink = Unlink;
  ops.rename = Rename;
  ops.chmod = ChMod;
  ops.truncate = Truncate;
  ops.utimens = UTimeNs;
  ops.open = Open;
  ops.create = Create;
  ops.read = Read;
  ops.write = Write;
  ops.statfs = StatFs;
  ops.release = Release;
  ops.fsync = FSync;
  ops.fsyncdir = FSyncDir;
  // Foreground, single-threaded (the op log's order is the order served).
  char fsname[] = "-ofsname=caching_passthrough";
  char foreground[] = "-f", single[] = "-s";
  char* fuse_argv[] = {argv[0], foreground, single, fsname, argv[2], nullptr};
  return fuse_main(5, fuse_argv, &ops, nullptr);
}
