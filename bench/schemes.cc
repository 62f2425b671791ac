#include "schemes.h"

#include <map>
#include <utility>

#include "environment.h"
#include "polling_lock.h"

namespace h5redislock {
namespace bench {
namespace {

// sec2 with HDF5's own file locking off (HDF5_USE_FILE_LOCKING=FALSE, in
// code): no lock of any kind, the baseline.
hid_t Sec2Fapl() {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0 || H5Pset_fapl_sec2(fapl) < 0 || H5Pset_file_locking(fapl, false, true) < 0)
    Fatal("cannot make a sec2 file access property list");
  return fapl;
}

hid_t RedisLockFapl(const std::string& options = "") {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  const std::string config = "url=" + RedisUrl() + options;
  if (fapl < 0 || H5Pset_driver_by_name(fapl, "redislock", config.c_str()) < 0)
    Fatal("HDF5 cannot load the redislock driver (is HDF5_PLUGIN_PATH set to the build's plugin directory?)");
  return fapl;
}

unsigned Flags(bool write) { return write ? H5F_ACC_RDWR : H5F_ACC_RDONLY; }

// The lock, if any, is the driver's: opening is all there is.
class DriverScheme : public Scheme {
 public:
  explicit DriverScheme(hid_t fapl) : fapl_(fapl) {}
  ~DriverScheme() override { H5Pclose(fapl_); }
  hid_t Open(const std::string& path, bool write) override { return H5Fopen(path.c_str(), Flags(write), fapl_); }
  bool Close(hid_t file) override { return H5Fclose(file) >= 0; }

 private:
  const hid_t fapl_;
};

// As the seed did: lock, then open; close, then unlock.
class PollingScheme : public Scheme {
 public:
  explicit PollingScheme(hid_t fapl) : fapl_(fapl), lock_(ConnectToRedis()) {}
  ~PollingScheme() override { H5Pclose(fapl_); }

  hid_t Open(const std::string& path, bool write) override {
    if (!(write ? lock_.LockExclusive(path) : lock_.LockShared(path))) return H5I_INVALID_HID;
    hid_t file = H5Fopen(path.c_str(), Flags(write), fapl_);
    if (file < 0) {
      Unlock(path, write);
      return file;
    }
    open_[file] = {path, write};
    return file;
  }

  bool Close(hid_t file) override {
    auto it = open_.find(file);
    if (it == open_.end()) return false;
    auto [path, write] = it->second;
    open_.erase(it);
    bool closed = H5Fclose(file) >= 0;
    return Unlock(path, write) && closed;
  }

 private:
  bool Unlock(const std::string& path, bool write) {
    return write ? lock_.UnlockExclusive(path) : lock_.UnlockShared(path);
  }

  const hid_t fapl_;
  PollingLock lock_;
  std::map<hid_t, std::pair<std::string, bool>> open_;  // file -> (path, write)
};

}  // namespace

const char* SchemeName(SchemeKind kind) {
  switch (kind) {
    case SchemeKind::kSec2: return "sec2";
    case SchemeKind::kRedisLock: return "redislock";
    case SchemeKind::kRedisLockCached: return "redislock_cached";
    case SchemeKind::kPolling: return "polling";
  }
  return "?";
}

std::unique_ptr<Scheme> Scheme::Make(SchemeKind kind, bool sieve) {
  const hid_t fapl = kind == SchemeKind::kRedisLock         ? RedisLockFapl(";linger=0")
                     : kind == SchemeKind::kRedisLockCached ? RedisLockFapl(";linger=30")
                                                            : Sec2Fapl();
  // A size of 0 turns sieving off: every raw-data request reaches the driver.
  if (!sieve && H5Pset_sieve_buf_size(fapl, 0) < 0) Fatal("cannot turn HDF5's sieve buffer off");
  if (kind == SchemeKind::kPolling) return std::make_unique<PollingScheme>(fapl);
  return std::make_unique<DriverScheme>(fapl);
}

}  // namespace bench
}  // namespace h5redislock
