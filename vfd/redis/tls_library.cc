#include "redis/tls_library.h"

#include <dlfcn.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "base/no_destructor.h"
#include "redis/tls_transport.h"

namespace h5redislock {
namespace {

struct TlsApi {
  decltype(&h5redislock_tls_start) start = nullptr;
  decltype(&h5redislock_tls_free) free = nullptr;
};

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// h5redislock_tls.so, loaded at most once (a failure is not remembered: it
// costs a few stat calls to find it again).
class TlsLibrary {
 public:
  void AddDir(const std::string& dir) {
    std::lock_guard<std::mutex> lock(mu_);
    extra_dirs_.push_back(dir);
  }

  Status Load(TlsApi* api) {
    std::lock_guard<std::mutex> lock(mu_);
    if (api_.start) {
      *api = api_;
      return Status::OK();
    }
    std::string self;
    std::vector<std::string> dirs = Dirs(&self);
    for (const std::string& dir : dirs) {
      const std::string path = dir + "/" + kTlsLibraryFile;
      if (access(path.c_str(), F_OK) != 0) continue;
      Status s = Open(path);
      if (s.ok()) *api = api_;
      return s;
    }
    std::string looked;
    for (const std::string& dir : dirs) looked += (looked.empty() ? "" : ", ") + dir;
    return Status::InvalidArgument(std::string("TLS (rediss://) needs ") + kTlsLibraryFile + ", installed next to " +
                                   (self.empty() ? "the redislock plugin" : self) + ", but it is not there (looked in " +
                                   looked + "); reinstall h5redislock");
  }

 private:
  // Where to look, in order, without repeats; *self is the object we are in.
  std::vector<std::string> Dirs(std::string* self) const {
    std::vector<std::string> dirs;
    Dl_info info;
    if (dladdr(reinterpret_cast<const void*>(&StartTls), &info) && info.dli_fname && *info.dli_fname) {
      *self = info.dli_fname;
      dirs.push_back(DirOf(*self));
      char real[PATH_MAX];
      if (realpath(self->c_str(), real)) dirs.push_back(DirOf(real));
    }
    dirs.insert(dirs.end(), extra_dirs_.begin(), extra_dirs_.end());
    std::vector<std::string> unique;
    for (const std::string& dir : dirs)
      if (std::find(unique.begin(), unique.end(), dir) == unique.end()) unique.push_back(dir);
    return unique;
  }

  // REQUIRES mu_. Never unloaded: hiredis calls into it for as long as a TLS
  // connection lives, which may be until the process exits.
  Status Open(const std::string& path) {
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!handle) {
      const std::string why = dlerror();
      std::string text = "TLS (rediss://) is not available: cannot load " + path + ": " + why;
      if (why.find("libssl") != std::string::npos || why.find("libcrypto") != std::string::npos)
        text += ". It uses the system's OpenSSL 3 (libssl.so.3), which this machine lacks: install it "
                "(Debian, Ubuntu: libssl3; RHEL, Fedora: openssl-libs; conda: openssl)";
      return Status::InvalidArgument(text);
    }
    auto version = reinterpret_cast<decltype(&h5redislock_tls_hiredis_version)>(
        dlsym(handle, "h5redislock_tls_hiredis_version"));
    TlsApi api;
    api.start = reinterpret_cast<decltype(api.start)>(dlsym(handle, "h5redislock_tls_start"));
    api.free = reinterpret_cast<decltype(api.free)>(dlsym(handle, "h5redislock_tls_free"));
    if (!version || !api.start || !api.free)
      return Status::InvalidArgument("TLS (rediss://) is not available: " + path +
                                     " is not h5redislock's TLS library; reinstall h5redislock");
    const int ours = HIREDIS_MAJOR * 10000 + HIREDIS_MINOR * 100 + HIREDIS_PATCH;
    if (version() != ours)
      return Status::InvalidArgument("TLS (rediss://) is not available: " + path + " was built with hiredis " +
                                     std::to_string(version()) + ", the driver with " + std::to_string(ours) +
                                     "; reinstall h5redislock");
    api_ = api;
    return Status::OK();
  }

  std::mutex mu_;
  TlsApi api_;                           // guarded by mu_; set once
  std::vector<std::string> extra_dirs_;  // guarded by mu_
};

TlsLibrary& Library() {
  static NoDestructor<TlsLibrary> library;
  return *library;
}

}  // namespace

Status StartTls(redisContext* ctx, const RedisEndpoint& endpoint, void** tls) {
  const std::string where = "Redis at " + endpoint.Describe();
  TlsApi api;
  Status s = Library().Load(&api);
  if (!s.ok()) return s.WithContext(where);
  const TlsOptions& t = endpoint.tls;
  auto opt = [](const std::string& text) { return text.empty() ? nullptr : text.c_str(); };
  char error[512] = "";
  *tls = api.start(ctx, opt(t.ca_file), opt(t.cert_file), opt(t.key_file),
                   opt(t.server_name.empty() ? endpoint.host : t.server_name), error, sizeof error);
  if (!*tls) return Status::Unavailable(where + ": " + error);
  return Status::OK();
}

void FreeTls(void* tls) {
  TlsApi api;
  if (tls && Library().Load(&api).ok()) api.free(tls);
}

void AddTlsLibraryDir(const std::string& dir) { Library().AddDir(dir); }

}  // namespace h5redislock
