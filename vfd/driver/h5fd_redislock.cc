// h5fd_redislock.cc: the HDF5 face of the driver.
//
// The class table, one small extern "C" function per callback, the two plugin
// exports, and the typed C API of H5FDredislock.h. Each callback casts, calls
// one method of RedisLockFile or the inner driver, turns a Status into
// herr_t (pushing it onto the HDF5 error stack) and lets no exception escape
// into C. Like H5FDsplitter.c, everything that is not about the lock is
// forwarded to the inner driver, here by calling its class's callbacks
// directly, as HDF5's own internal layer would.
//
// Divisions: 1. the file struct; 2. configuration from a fapl; 3. callbacks;
// 4. the class table and plugin exports; 5. the typed API.

#include <hdf5.h>
#include <H5FDdevelop.h>
#include <H5PLextern.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "H5FDredislock.h"
#include "driver/hdf5_errors.h"
#include "driver/inner_fapl.h"
#include "driver/redislock_file.h"
#include "lock/config.h"
#include "lock/lock_name.h"
#include "lock/lock_table.h"

namespace h5redislock {
namespace {

// ============================================================================
// 1. The file struct: HDF5's public part first, so the library's casts work.
// ============================================================================
struct H5FD_redislock_t {
  H5FD_t pub;
  std::unique_ptr<RedisLockFile> file;
};

RedisLockFile& FileOf(const H5FD_t* f) { return *reinterpret_cast<const H5FD_redislock_t*>(f)->file; }
H5FD_t* InnerOf(const H5FD_t* f) { return FileOf(f).inner(); }

// Runs `body` (returning Status) as callback `name`; failures are pushed
// with `minor` and become -1.
template <typename Body>
herr_t Guarded(const char* name, hid_t minor, Body body) {
  try {
    Status s = body();
    if (s.ok()) return 0;
    PushError(s, name, minor);
  } catch (const std::exception& e) {
    PushError(Status::Internal(e.what()), name, minor);
  } catch (...) {
    PushError(Status::Internal("unknown exception"), name, minor);
  }
  return -1;
}

// ============================================================================
// 2. Configuration from a fapl
// ============================================================================

// The configuration string equivalent to a typed configuration.
Status ConfigTextOf(const H5FD_redislock_config_t& c, std::string* out) {
  if (c.magic != H5FD_REDISLOCK_CONFIG_MAGIC || c.version != H5FD_REDISLOCK_CONFIG_VERSION)
    return Status::InvalidArgument(
        "the H5FD_redislock_config_t was not set up with H5FD_redislock_config_init (bad magic or version)");
  std::string text;
  auto add_string = [&](const char* key, const char* value, size_t size) {
    size_t len = strnlen(value, size);
    if (len == size) return false;
    if (len) text += std::string(key) + "=" + std::string(value, len) + ";";
    return true;
  };
  auto add_number = [&](const char* key, double value) {
    if (!std::isnan(value)) text += std::string(key) + "=" + std::to_string(value) + ";";
  };
  if (!add_string("url", c.url, sizeof c.url) || !add_string("prefix", c.prefix, sizeof c.prefix) ||
      !add_string("key", c.key, sizeof c.key) || !add_string("inner", c.inner, sizeof c.inner))
    return Status::InvalidArgument("a string in H5FD_redislock_config_t is not NUL-terminated");
  add_number("timeout", c.timeout);
  add_number("lease", c.lease);
  size_t len = strnlen(c.options, sizeof c.options);
  if (len == sizeof c.options) return Status::InvalidArgument("H5FD_redislock_config_t.options is not NUL-terminated");
  *out = text + std::string(c.options, len);
  return Status::OK();
}

// The configuration of `fapl`: typed driver info if it has some, otherwise
// its configuration string (H5Pset_driver_by_name, HDF5_DRIVER_CONFIG).
Status ConfigFromFapl(hid_t fapl, Config* config, std::string* text) {
  const H5FD_redislock_config_t* typed = nullptr;
  {
    QuietErrors no_info_is_no_error;
    typed = static_cast<const H5FD_redislock_config_t*>(H5Pget_driver_info(fapl));
  }
  Status s;
  if (typed) {
    s = ConfigTextOf(*typed, text);
  } else {
    ssize_t size = H5Pget_driver_config_str(fapl, nullptr, 0);
    text->clear();
    if (size > 0) {
      std::vector<char> buf(static_cast<size_t>(size) + 1);
      if (H5Pget_driver_config_str(fapl, buf.data(), buf.size()) < 0)
        return Status::Internal("cannot read the driver configuration string");
      text->assign(buf.data());
    }
  }
  if (s.ok()) s = ParseConfig(*text, config);
  return s.WithContext("invalid redislock configuration");
}

// ============================================================================
// 3. Callbacks
// ============================================================================

herr_t Terminate() {
  // A program that ends HDF5 (H5close, or HDF5's own atexit) is done with
  // its files: the locks it cached after their last close go now.
  LockTable::ForThisProcess().ReleaseCached(false);
  ForgetErrorClass();
  ForgetInnerFapls();
  return 0;
}

void* FaplGet(H5FD_t* f) {
  auto info = static_cast<H5FD_redislock_config_t*>(std::malloc(sizeof(H5FD_redislock_config_t)));
  if (!info) return nullptr;
  H5FD_redislock_config_init(info);
  const std::string& text = FileOf(f).config_text();
  if (text.size() >= sizeof info->options) {
    std::free(info);
    PushError(Status::InvalidArgument("the configuration string is too long for H5FD_redislock_config_t"),
              "H5FD_redislock_fapl_get", H5E_CANTGET);
    return nullptr;
  }
  std::memcpy(info->options, text.c_str(), text.size() + 1);
  return info;
}

void* FaplCopy(const void* info) {
  void* copy = std::malloc(sizeof(H5FD_redislock_config_t));
  if (copy) std::memcpy(copy, info, sizeof(H5FD_redislock_config_t));
  return copy;
}

herr_t FaplFree(void* info) {
  std::free(info);
  return 0;
}

H5FD_t* Open(const char* name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
  EnsureErrorClass();
  std::unique_ptr<H5FD_redislock_t> handle;
  herr_t rc = Guarded("H5FD_redislock_open", H5E_CANTOPENFILE, [&] {
    Config config;
    std::string text;
    Status s = ConfigFromFapl(fapl, &config, &text);
    if (!s.ok()) return s.WithContext(std::string("cannot open '") + (name ? name : "") + "'");
    std::unique_ptr<RedisLockFile> file;
    s = RedisLockFile::Open(name, flags, config, text, maxaddr, &file);
    if (!s.ok()) return s;
    handle = std::make_unique<H5FD_redislock_t>();
    handle->file = std::move(file);
    return Status::OK();
  });
  return rc < 0 ? nullptr : &handle.release()->pub;
}

herr_t Close(H5FD_t* f) {
  std::unique_ptr<H5FD_redislock_t> handle(reinterpret_cast<H5FD_redislock_t*>(f));
  return Guarded("H5FD_redislock_close", H5E_CANTCLOSEFILE, [&] { return handle->file->Close(); });
}

int Cmp(const H5FD_t* a, const H5FD_t* b) {
  const H5FD_t* ia = InnerOf(a);
  const H5FD_t* ib = InnerOf(b);
  if (ia->cls != ib->cls) return ia->cls < ib->cls ? -1 : 1;
  if (ia->cls->cmp) return ia->cls->cmp(ia, ib);
  return ia < ib ? -1 : (ia > ib ? 1 : 0);
}

herr_t Query(const H5FD_t* f, unsigned long* flags) {
  *flags = 0;
  if (!f) return 0;  // asked of the driver, not of a file: no features promised
  const H5FD_t* inner = InnerOf(f);
  return inner->cls->query ? inner->cls->query(inner, flags) : 0;
}

haddr_t GetEoa(const H5FD_t* f, H5FD_mem_t type) {
  const H5FD_t* inner = InnerOf(f);
  return inner->cls->get_eoa(inner, type);
}

herr_t SetEoa(H5FD_t* f, H5FD_mem_t type, haddr_t addr) {
  H5FD_t* inner = InnerOf(f);
  return inner->cls->set_eoa(inner, type, addr);
}

haddr_t GetEof(const H5FD_t* f, H5FD_mem_t type) {
  const H5FD_t* inner = InnerOf(f);
  return inner->cls->get_eof ? inner->cls->get_eof(inner, type) : inner->maxaddr;
}

herr_t GetHandle(H5FD_t* f, hid_t fapl, void** handle) {
  H5FD_t* inner = InnerOf(f);
  if (!inner->cls->get_handle) {
    PushError(Status::Internal("the inner driver has no file handle"), "H5FD_redislock_get_handle", H5E_CANTGET);
    return -1;
  }
  return inner->cls->get_handle(inner, fapl, handle);
}

herr_t Read(H5FD_t* f, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void* buf) {
  return Guarded("H5FD_redislock_read", H5E_READERROR, [&] { return FileOf(f).Read(type, dxpl, addr, size, buf); });
}

herr_t Write(H5FD_t* f, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void* buf) {
  return Guarded("H5FD_redislock_write", H5E_WRITEERROR, [&] { return FileOf(f).Write(type, dxpl, addr, size, buf); });
}

herr_t Flush(H5FD_t* f, hid_t dxpl, hbool_t closing) {
  return Guarded("H5FD_redislock_flush", H5E_WRITEERROR, [&] { return FileOf(f).Flush(dxpl, closing); });
}

herr_t Truncate(H5FD_t* f, hid_t dxpl, hbool_t closing) {
  return Guarded("H5FD_redislock_truncate", H5E_WRITEERROR, [&] { return FileOf(f).Truncate(dxpl, closing); });
}

herr_t Delete(const char* name, hid_t fapl) {
  return Guarded("H5FD_redislock_delete", H5E_CANTDELETEFILE, [&] {
    Config config;
    std::string text;
    Status s = ConfigFromFapl(fapl, &config, &text);
    if (!s.ok()) return s;
    return RedisLockFile::Delete(name, config, text);
  });
}

herr_t Ctl(H5FD_t* f, uint64_t op, uint64_t flags, const void* input, void** output) {
  if (flags & H5FD_CTL_ROUTE_TO_TERMINAL_VFD_FLAG) {
    H5FD_t* inner = InnerOf(f);
    if (inner->cls->ctl) return inner->cls->ctl(inner, op, flags, input, output);
  }
  if (flags & H5FD_CTL_FAIL_IF_UNKNOWN_FLAG) {
    PushError(Status::InvalidArgument("unknown ctl operation " + std::to_string(op)), "H5FD_redislock_ctl",
              H5E_FCNTL);
    return -1;
  }
  return 0;
}

// ============================================================================
// 4. The class table and the plugin exports
// ============================================================================
// No lock/unlock callbacks: the Redis lock is taken in open and released in
// close, which also works with HDF5_USE_FILE_LOCKING=FALSE; and a lock
// callback would make HDF5 mark v3 superblocks "open for writing", so that a
// writer's crash would leave a file nobody opens without h5clear.
const H5FD_class_t kRedisLockClass = {
    H5FD_CLASS_VERSION,                                  // version
    H5FD_REDISLOCK_VALUE,                                // value
    H5FD_REDISLOCK_NAME,                                 // name
    static_cast<haddr_t>((haddr_t{1} << 63) - 1),        // maxaddr (as sec2)
    H5F_CLOSE_WEAK,                                      // fc_degree
    Terminate,                                           // terminate
    nullptr,                                             // sb_size
    nullptr,                                             // sb_encode
    nullptr,                                             // sb_decode
    sizeof(H5FD_redislock_config_t),                     // fapl_size
    FaplGet,                                             // fapl_get
    FaplCopy,                                            // fapl_copy
    FaplFree,                                            // fapl_free
    0,                                                   // dxpl_size
    nullptr,                                             // dxpl_copy
    nullptr,                                             // dxpl_free
    Open,                                                // open
    Close,                                               // close
    Cmp,                                                 // cmp
    Query,                                               // query
    nullptr,                                             // get_type_map
    nullptr,                                             // alloc
    nullptr,                                             // free
    GetEoa,                                              // get_eoa
    SetEoa,                                              // set_eoa
    GetEof,                                              // get_eof
    GetHandle,                                           // get_handle
    Read,                                                // read
    Write,                                               // write
    nullptr,                                             // read_vector
    nullptr,                                             // write_vector
    nullptr,                                             // read_selection
    nullptr,                                             // write_selection
    Flush,                                               // flush
    Truncate,                                            // truncate
    nullptr,                                             // lock
    nullptr,                                             // unlock
    Delete,                                              // del
    Ctl,                                                 // ctl
    H5FD_FLMAP_DICHOTOMY                                 // fl_map
};

}  // namespace
}  // namespace h5redislock

using h5redislock::kRedisLockClass;

extern "C" {

H5PL_type_t H5PLget_plugin_type(void) { return H5PL_TYPE_VFD; }
const void* H5PLget_plugin_info(void) { return &kRedisLockClass; }

// ============================================================================
// 5. The typed API
// ============================================================================

herr_t H5FD_redislock_config_init(H5FD_redislock_config_t* config) {
  if (!config) return -1;
  std::memset(config, 0, sizeof *config);
  config->magic = H5FD_REDISLOCK_CONFIG_MAGIC;
  config->version = H5FD_REDISLOCK_CONFIG_VERSION;
  config->timeout = NAN;
  config->lease = NAN;
  return 0;
}

hid_t H5FD_redislock_init(void) {
  // Loaded as a plugin already (by HDF5_DRIVER or by name)? Then use that
  // registration: this library and the plugin are the same file.
  if (H5FDis_driver_registered_by_value(H5FD_REDISLOCK_VALUE) > 0) {
    hid_t probe = H5Pcreate(H5P_FILE_ACCESS);
    hid_t id = H5I_INVALID_HID;
    if (probe >= 0 && H5Pset_driver_by_value(probe, H5FD_REDISLOCK_VALUE, nullptr) >= 0) id = H5Pget_driver(probe);
    if (probe >= 0) H5Pclose(probe);
    return id;
  }
  return H5FDregister(&kRedisLockClass);
}

herr_t H5Pset_fapl_redislock(hid_t fapl_id, const H5FD_redislock_config_t* config) {
  std::string text;
  h5redislock::Config parsed;
  h5redislock::Status s = config ? h5redislock::ConfigTextOf(*config, &text)
                                 : h5redislock::Status::InvalidArgument("config is NULL");
  if (s.ok()) s = h5redislock::ParseConfig(text, &parsed);
  if (!s.ok()) {
    h5redislock::PushError(s.WithContext("H5Pset_fapl_redislock"), "H5Pset_fapl_redislock", H5E_BADVALUE);
    return -1;
  }
  hid_t driver = H5FD_redislock_init();
  if (driver < 0) return -1;
  return H5Pset_driver(fapl_id, driver, config);
}

herr_t H5Pget_fapl_redislock(hid_t fapl_id, H5FD_redislock_config_t* config_out) {
  if (!config_out) return -1;
  hid_t driver = H5Pget_driver(fapl_id);
  if (driver < 0) return -1;
  if (H5FDis_driver_registered_by_value(H5FD_REDISLOCK_VALUE) <= 0 || driver != H5FD_redislock_init()) {
    h5redislock::PushError(h5redislock::Status::InvalidArgument("the fapl does not use the redislock driver"),
                           "H5Pget_fapl_redislock", H5E_BADVALUE);
    return -1;
  }
  const void* info = nullptr;
  {
    h5redislock::QuietErrors no_info_is_no_error;
    info = H5Pget_driver_info(fapl_id);
  }
  if (info) {
    std::memcpy(config_out, info, sizeof *config_out);
    return 0;
  }
  H5FD_redislock_config_init(config_out);
  ssize_t size = H5Pget_driver_config_str(fapl_id, config_out->options, sizeof config_out->options);
  if (size < 0 || static_cast<size_t>(size) >= sizeof config_out->options) return -1;
  return 0;
}

int H5FD_redislock_revocation_fd(void) { return h5redislock::LockLease::WantedFd(); }

int H5FD_redislock_wanted(const char* file) {
  std::string name;
  if (!file || !h5redislock::CanonicalPath(file, &name).ok()) return 0;
  return h5redislock::LockTable::ForThisProcess().Wanted(name) ? 1 : 0;
}

unsigned long long H5FD_redislock_hold(const char* file) {
  std::string name;
  if (!file || !h5redislock::CanonicalPath(file, &name).ok()) return 0;
  return h5redislock::LockTable::ForThisProcess().HoldOf(name);
}

void H5FD_redislock_idle(const char* file) {
  std::string name;
  if (file && h5redislock::CanonicalPath(file, &name).ok()) h5redislock::LockTable::ForThisProcess().MarkIdle(name);
}

}  // extern "C"
