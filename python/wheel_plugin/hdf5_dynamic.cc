// hdf5_dynamic.cc: the HDF5 C API for h5fd_redislock_dl, the build of the
// plugin that does not link libhdf5 and serves whichever libhdf5 loaded it.
//
// Why. h5py's wheels from PyPI bundle their own libhdf5 (a renamed copy, of
// another HDF5 version). The regular plugin is linked with -lhdf5: loaded in
// such a process it brings the project's libhdf5 as a second HDF5 library,
// with its own IDs, property lists, error stacks and driver registry, so its
// class would be registered with one library while its callbacks call the
// other. This build links no HDF5 at all.
//
// How (the way hdf5plugin ships filters for h5py's wheels, its src/hdf5_dl.c):
// this file defines every HDF5 function and variable that the driver's
// sources (vfd/driver/h5fd_redislock.cc, redislock_file.cc, hdf5_errors.cc) use,
// under HDF5's own names, so those sources compile unchanged. Each function
// forwards through a pointer found with dlsym in the bound libhdf5; each
// variable (the error classes, H5P_CLS_FILE_ACCESS_ID_g) is copied from there
// by H5open, which HDF5's headers call before every read of one (H5OPEN).
// The linker's --no-undefined catches an HDF5 call added to the driver and not
// listed here. A version script exports only the plugin's and our own entry
// points, so these definitions never interpose on a real HDF5.
//
// Which libhdf5 ("binding"), once per process:
//   1. The caller of H5PLget_plugin_type/H5PLget_plugin_info, when that
//      caller is an HDF5 library: HDF5's plugin loader, found through
//      HDF5_PLUGIN_PATH (HDF5_DRIVER, H5Pset_driver_by_name). dladdr() of the
//      return address names it, so two HDF5 libraries in one process are
//      told apart.
//   2. h5redislock_dl_bind(path): the Python package passes the libhdf5 that
//      h5py loaded, then registers the class itself (as hdf5plugin's
//      init_filter).
//   3. Otherwise the only libhdf5 mapped in the process.
// A second, different library is refused: the plugin's state (registered
// class, lock table, error class) belongs to one HDF5.
//
// One exception to case 1: `h5redislock run` may put this plugin's directory
// before that of the plugin linked against the project's libhdf5, and name
// that libhdf5 in $H5REDISLOCK_LINKED_HDF5. Loaded by that very library, this
// plugin declines (H5PLget_plugin_type answers "no type"), and HDF5's loader
// goes on to the linked plugin; any other libhdf5 gets this one.
//
// ABI. The driver is compiled against HDF5 1.14's headers. What it relies on,
// H5FD_class_t version 1 and its slots, H5FD_t, H5F_ACC_* and H5FD_mem_t, the
// error-class variables and the H5E, H5FD and H5P calls listed below, is the
// same in HDF5 1.14.x and 2.0.x to 2.2.x: read in HDF5's sources and change
// logs (2.0 removed H5FDperform_init and changed H5Dread_chunk, H5Iregister_type
// and H5Tdecode, none of which the driver calls; hbool_t became bool, the same
// type; 2.1 and 2.2 changed nothing here, and keep 2.0's SONAME), and tested
// with the libhdf5 of h5py 3.16 (2.0.0), netCDF4 1.7.5 (2.2.0) and tables
// 3.11.1 (1.14.6). Binding also checks that every function is there.
//
// A refusal (another version, a missing function, a second libhdf5) must not
// crash the program: when the driver named by HDF5_DRIVER fails to load while
// HDF5 2.x initialises, HDF5 is left half initialised and the first open
// crashes. So H5PLget_plugin_info never fails: a libhdf5 it refuses gets a
// stand-in class of the same name whose open fails, on every file, with the
// reason (which is also printed once on stderr).
//
// Thread-safety: binding is serialised by a mutex; after it, the table is
// read-only.

#include <dlfcn.h>
#include <link.h>

#include <hdf5.h>
#include <H5FDdevelop.h>
#include <H5PLextern.h>

#include "H5FDredislock.h"

#include <limits.h>
#include <stdlib.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

// The ABI verified (see the top of this file) is 1.14's headers' layout.
static_assert(H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 14, "h5fd_redislock_dl compiles against HDF5 1.14's headers");
static_assert(H5FD_CLASS_VERSION == 1, "the driver ABI served is H5FD_class_t version 1");

// The driver's own plugin exports, renamed when vfd/driver/h5fd_redislock.cc is
// compiled for this build (see python/wheel_plugin/CMakeLists.txt): the real
// exports below bind first.
extern "C" H5PL_type_t h5redislock_vfd_plugin_type(void);
extern "C" const void* h5redislock_vfd_plugin_info(void);

namespace {

// X(return type, name, parameters, arguments, value when no HDF5 is bound)
#define H5RL_FORWARDED(X)                                                                                       \
  X(herr_t, H5Eappend_stack, (hid_t dst, hid_t src, hbool_t close_src), (dst, src, close_src), -1)               \
  X(herr_t, H5Eclear2, (hid_t stack), (stack), -1)                                                               \
  X(herr_t, H5Eget_auto2, (hid_t stack, H5E_auto2_t * func, void** data), (stack, func, data), -1)               \
  X(hid_t, H5Eget_current_stack, (void), (), H5I_INVALID_HID)                                                    \
  X(ssize_t, H5Eget_num, (hid_t stack), (stack), -1)                                                             \
  X(hid_t, H5Eregister_class, (const char* cls, const char* lib, const char* version), (cls, lib, version),      \
    H5I_INVALID_HID)                                                                                             \
  X(herr_t, H5Eset_auto2, (hid_t stack, H5E_auto2_t func, void* data), (stack, func, data), -1)                  \
  X(herr_t, H5Eset_current_stack, (hid_t stack), (stack), -1)                                                    \
  X(herr_t, H5Ewalk2, (hid_t stack, H5E_direction_t direction, H5E_walk2_t func, void* data),                     \
    (stack, direction, func, data), -1)                                                                          \
  X(herr_t, H5FDclose, (H5FD_t * file), (file), -1)                                                              \
  X(herr_t, H5FDdelete, (const char* name, hid_t fapl), (name, fapl), -1)                                        \
  X(htri_t, H5FDis_driver_registered_by_value, (H5FD_class_value_t value), (value), -1)                         \
  X(H5FD_t*, H5FDopen, (const char* name, unsigned flags, hid_t fapl, haddr_t maxaddr),                         \
    (name, flags, fapl, maxaddr), nullptr)                                                                       \
  X(hid_t, H5FDregister, (const H5FD_class_t* cls), (cls), H5I_INVALID_HID)                                      \
  X(htri_t, H5Iis_valid, (hid_t id), (id), -1)                                                                   \
  X(herr_t, H5Pclose, (hid_t plist), (plist), -1)                                                                \
  X(hid_t, H5Pcreate, (hid_t cls), (cls), H5I_INVALID_HID)                                                       \
  X(hid_t, H5Pget_driver, (hid_t plist), (plist), H5I_INVALID_HID)                                               \
  X(ssize_t, H5Pget_driver_config_str, (hid_t fapl, char* buf, size_t size), (fapl, buf, size), -1)              \
  X(const void*, H5Pget_driver_info, (hid_t plist), (plist), nullptr)                                            \
  X(herr_t, H5Pset_driver, (hid_t plist, hid_t driver, const void* info), (plist, driver, info), -1)             \
  X(herr_t, H5Pset_driver_by_name, (hid_t plist, const char* name, const char* config), (plist, name, config),   \
    -1)                                                                                                          \
  X(herr_t, H5Pset_driver_by_value, (hid_t plist, H5FD_class_value_t value, const char* config),                \
    (plist, value, config), -1)                                                                                  \
  X(herr_t, H5Pset_fapl_sec2, (hid_t fapl), (fapl), -1)

// The variables behind HDF5's ID macros (H5E_VFL is `(H5OPEN H5E_VFL_g)`).
#define H5RL_VARIABLES(X)  \
  X(H5E_BADVALUE_g)        \
  X(H5E_CANTCLOSEFILE_g)   \
  X(H5E_CANTDELETEFILE_g)  \
  X(H5E_CANTGET_g)         \
  X(H5E_CANTOPENFILE_g)    \
  X(H5E_FCNTL_g)           \
  X(H5E_READERROR_g)       \
  X(H5E_VFL_g)             \
  X(H5E_WRITEERROR_g)      \
  X(H5P_CLS_FILE_ACCESS_ID_g)

// One bound libhdf5: its functions and the addresses of its variables.
struct Api {
  std::string path;  // the file that defines H5open
  unsigned major = 0, minor = 0, release = 0;
  herr_t (*H5open)(void) = nullptr;
  herr_t (*H5get_libversion)(unsigned*, unsigned*, unsigned*) = nullptr;
  herr_t (*H5Epush2)(hid_t, const char*, const char*, unsigned, hid_t, hid_t, hid_t, const char*, ...) = nullptr;
#define H5RL_POINTER(ret, name, params, args, fail) ret(*name) params = nullptr;
  H5RL_FORWARDED(H5RL_POINTER)
#undef H5RL_POINTER
#define H5RL_VARIABLE_POINTER(name) const hid_t* var_##name = nullptr;
  H5RL_VARIABLES(H5RL_VARIABLE_POINTER)
#undef H5RL_VARIABLE_POINTER
};

std::mutex g_mu;                          // guards binding, g_error and g_refused
std::atomic<const Api*> g_api{nullptr};     // set once, never freed
std::string g_error;                      // why binding failed, for h5redislock_dl_error
std::map<std::string, std::string> g_refused;  // libhdf5 -> why it is refused (printed once)

// The file of the loaded object that contains `addr`, or "".
std::string ObjectOf(const void* addr) {
  Dl_info info;
  if (addr && dladdr(addr, &info) && info.dli_fname) return info.dli_fname;
  return "";
}

// A handle of the already loaded object `path` (never loads anything), or
// nullptr.
void* HandleOf(const std::string& path) {
  return path.empty() ? nullptr : dlopen(path.c_str(), RTLD_LAZY | RTLD_NOLOAD);
}

// The libhdf5 that `handle` resolves HDF5's symbols to (the object itself or
// one of its dependencies: h5py passes an extension module), or "".
std::string HDF5Of(void* handle) {
  void* sym = handle ? dlsym(handle, "H5FDregister") : nullptr;
  return sym ? ObjectOf(sym) : "";
}

// The versions whose ABI was verified (see the top of this file).
constexpr const char* kSupported = "HDF5 1.14.x and 2.0.x to 2.2.x";
bool SupportedVersion(unsigned major, unsigned minor) {
  return (major == 1 && minor == 14) || (major == 2 && minor <= 2);
}

// Resolves everything from `handle`. REQUIRES g_mu. On failure sets g_error.
const Api* Resolve(void* handle, const std::string& how) {
  auto api = new Api;
  api->path = HDF5Of(handle);
  std::string missing;
  auto find = [&](const char* name) {
    void* sym = dlsym(handle, name);
    if (!sym && missing.empty()) missing = name;
    return sym;
  };
  api->H5open = reinterpret_cast<decltype(api->H5open)>(find("H5open"));
  api->H5get_libversion = reinterpret_cast<decltype(api->H5get_libversion)>(find("H5get_libversion"));
  api->H5Epush2 = reinterpret_cast<decltype(api->H5Epush2)>(find("H5Epush2"));
#define H5RL_FIND(ret, name, params, args, fail) api->name = reinterpret_cast<decltype(api->name)>(find(#name));
  H5RL_FORWARDED(H5RL_FIND)
#undef H5RL_FIND
#define H5RL_FIND_VARIABLE(name) api->var_##name = static_cast<const hid_t*>(find(#name));
  H5RL_VARIABLES(H5RL_FIND_VARIABLE)
#undef H5RL_FIND_VARIABLE
  std::string error;
  if (api->H5get_libversion) api->H5get_libversion(&api->major, &api->minor, &api->release);
  if (api->H5get_libversion && !SupportedVersion(api->major, api->minor)) {
    error = std::string("h5fd_redislock_dl serves ") + kSupported + " (H5FD_class_t version " +
            std::to_string(H5FD_CLASS_VERSION) + "), but the libhdf5 that loaded it (" + how + ", " + api->path +
            ") is HDF5 " + std::to_string(api->major) + "." + std::to_string(api->minor) + "." +
            std::to_string(api->release) + ": refusing to serve it";
  } else if (!missing.empty()) {
    error = "h5fd_redislock_dl: the libhdf5 that loaded it (" + how + ", " + api->path + ") has no " + missing +
            ": refusing to serve it";
  }
  if (!error.empty()) {
    g_error = error;
    delete api;
    return nullptr;
  }
  return api;
}

// Binds to the libhdf5 behind `handle` unless bound already; `how` says where
// it came from, for messages. Returns the table or nullptr (see g_error).
const Api* BindHandle(void* handle, const std::string& how) {
  std::lock_guard<std::mutex> lock(g_mu);
  const Api* bound = g_api.load(std::memory_order_acquire);
  std::string path = HDF5Of(handle);
  if (path.empty()) {
    if (bound) return bound;  // not an HDF5 library: keep the binding
    g_error = "h5fd_redislock_dl: " + how + " is not an HDF5 library (it resolves no H5FDregister)";
    return nullptr;
  }
  if (bound) {
    if (bound->path == path) return bound;
    g_error = "h5fd_redislock_dl serves the libhdf5 it was first loaded by (" + bound->path + "), not also " +
              path + " (" + how + "): two HDF5 libraries in one process";
    return nullptr;
  }
  const Api* api = Resolve(handle, how);
  if (api) g_api.store(api, std::memory_order_release);
  return api;
}

// dl_iterate_phdr callback: collects the loaded objects that define HDF5.
int CollectHDF5(struct dl_phdr_info* info, size_t, void* data) {
  auto found = static_cast<std::set<std::string>*>(data);
  if (!info->dlpi_name || !*info->dlpi_name) return 0;
  void* handle = HandleOf(info->dlpi_name);
  std::string path = HDF5Of(handle);  // the object itself, or a libhdf5 it needs
  if (!path.empty()) found->insert(path);
  if (handle) dlclose(handle);
  return 0;
}

// Case 3 of the header: the only libhdf5 in the process.
const Api* BindToOnlyLoaded() {
  const Api* bound = g_api.load(std::memory_order_acquire);
  if (bound) return bound;
  std::set<std::string> found;
  dl_iterate_phdr(CollectHDF5, &found);
  if (found.size() != 1) {
    std::lock_guard<std::mutex> lock(g_mu);
    g_error = found.empty() ? "h5fd_redislock_dl: no libhdf5 is loaded in this process"
                            : "h5fd_redislock_dl: " + std::to_string(found.size()) +
                                  " HDF5 libraries are loaded in this process; call h5redislock_dl_bind()";
    return nullptr;
  }
  void* handle = HandleOf(*found.begin());
  const Api* api = BindHandle(handle, "the only libhdf5 loaded");
  if (handle) dlclose(handle);
  return api;
}

// Case 1: the caller, if it is HDF5; otherwise as case 3.
const Api* BindToCaller(const void* return_address) {
  std::string caller = ObjectOf(return_address);
  void* handle = HandleOf(caller);
  const Api* api = nullptr;
  if (!HDF5Of(handle).empty()) api = BindHandle(handle, "its caller " + caller);
  else api = BindToOnlyLoaded();
  if (handle) dlclose(handle);
  return api;
}

const Api* Get() {
  const Api* api = g_api.load(std::memory_order_acquire);
  return api ? api : BindToOnlyLoaded();
}

// Whether `library` is the libhdf5 that the linked plugin, also on the plugin
// path, serves ($H5REDISLOCK_LINKED_HDF5, set by `h5redislock run`).
bool LeftToLinkedPlugin(const std::string& library) {
  const char* linked = std::getenv("H5REDISLOCK_LINKED_HDF5");
  if (!linked || !*linked || library.empty()) return false;
  char a[PATH_MAX], b[PATH_MAX];
  return realpath(library.c_str(), a) && realpath(linked, b) && std::string(a) == b;
}

// ---------------------------------------------------------------------------
// The stand-in class for a libhdf5 the plugin refuses (see the top of this
// file): registered in its place, so that HDF5 initialises, and failing every
// open with the reason. HDF5 requires these seven callbacks; only open runs.
// ---------------------------------------------------------------------------

// Records why `library` is refused and prints it on stderr, once per library.
void Refuse(const std::string& library) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_refused.count(library)) return;
  g_refused[library] = g_error;
  std::fprintf(stderr, "%s\n", g_error.c_str());
}

// Pushes `message` onto the error stack of the libhdf5 `library`, with its own
// error class and ids (this plugin is not bound to it).
void PushOnto(const std::string& library, const char* function, const std::string& message) {
  void* handle = HandleOf(library);
  if (!handle) return;
  auto push = reinterpret_cast<decltype(Api::H5Epush2)>(dlsym(handle, "H5Epush2"));
  auto cls = static_cast<const hid_t*>(dlsym(handle, "H5E_ERR_CLS_g"));
  auto major = static_cast<const hid_t*>(dlsym(handle, "H5E_VFL_g"));
  auto minor = static_cast<const hid_t*>(dlsym(handle, "H5E_CANTOPENFILE_g"));
  if (push && cls && major && minor)
    push(H5E_DEFAULT, __FILE__, function, __LINE__, *cls, *major, *minor, "%s", message.c_str());
  dlclose(handle);
}

H5FD_t* RefusedOpen(const char* name, unsigned, hid_t, haddr_t) {
  const std::string library = ObjectOf(__builtin_return_address(0));
  std::string why;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_refused.find(library);
    why = it != g_refused.end() ? it->second : g_error;
  }
  PushOnto(library, "H5FD_redislock_open", "cannot open '" + std::string(name ? name : "") +
                                               "' with the redislock driver: " + why);
  return nullptr;
}
herr_t RefusedClose(H5FD_t*) { return -1; }
haddr_t RefusedGetEoa(const H5FD_t*, H5FD_mem_t) { return HADDR_UNDEF; }
herr_t RefusedSetEoa(H5FD_t*, H5FD_mem_t, haddr_t) { return -1; }
haddr_t RefusedGetEof(const H5FD_t*, H5FD_mem_t) { return HADDR_UNDEF; }
herr_t RefusedRead(H5FD_t*, H5FD_mem_t, hid_t, haddr_t, size_t, void*) { return -1; }
herr_t RefusedWrite(H5FD_t*, H5FD_mem_t, hid_t, haddr_t, size_t, const void*) { return -1; }

const H5FD_class_t kRefusedClass = {
    H5FD_CLASS_VERSION,    // version
    H5FD_REDISLOCK_VALUE,  // value
    H5FD_REDISLOCK_NAME,   // name
    HADDR_MAX,             // maxaddr
    H5F_CLOSE_WEAK,        // fc_degree
    nullptr,               // terminate
    nullptr,               // sb_size
    nullptr,               // sb_encode
    nullptr,               // sb_decode
    0,                     // fapl_size
    nullptr,               // fapl_get
    nullptr,               // fapl_copy
    nullptr,               // fapl_free
    0,                     // dxpl_size
    nullptr,               // dxpl_copy
    nullptr,               // dxpl_free
    RefusedOpen,           // open
    RefusedClose,          // close
    nullptr,               // cmp
    nullptr,               // query
    nullptr,               // get_type_map
    nullptr,               // alloc
    nullptr,               // free
    RefusedGetEoa,         // get_eoa
    RefusedSetEoa,         // set_eoa
    RefusedGetEof,         // get_eof
    nullptr,               // get_handle
    RefusedRead,           // read
    RefusedWrite,          // write
    nullptr,               // read_vector
    nullptr,               // write_vector
    nullptr,               // read_selection
    nullptr,               // write_selection
    nullptr,               // flush
    nullptr,               // truncate
    nullptr,               // lock
    nullptr,               // unlock
    nullptr,               // del
    nullptr,               // ctl
    H5FD_FLMAP_DICHOTOMY   // fl_map
};

}  // namespace

extern "C" {

// ---------------------------------------------------------------------------
// HDF5's variables and functions, as the driver's sources see them.
// ---------------------------------------------------------------------------
#define H5RL_DEFINE_VARIABLE(name) hid_t name = H5I_INVALID_HID;
H5RL_VARIABLES(H5RL_DEFINE_VARIABLE)
#undef H5RL_DEFINE_VARIABLE

herr_t H5open(void) {
  const Api* api = Get();
  if (!api) return -1;
  herr_t rc = api->H5open();
  // HDF5 creates these IDs when it initialises (again after H5close).
#define H5RL_COPY_VARIABLE(name) name = *api->var_##name;
  H5RL_VARIABLES(H5RL_COPY_VARIABLE)
#undef H5RL_COPY_VARIABLE
  return rc;
}

// The H5F_ACC_* macros call H5check(), which would compare the headers' 1.14
// with the bound library and abort on 2.0: binding checks the ABI instead.
herr_t H5check_version(unsigned, unsigned, unsigned) { return 0; }

herr_t H5Epush2(hid_t stack, const char* file, const char* func, unsigned line, hid_t cls, hid_t major,
                hid_t minor, const char* format, ...) {
  const Api* api = Get();
  if (!api) return -1;
  va_list ap;
  va_start(ap, format);
  va_list again;
  va_copy(again, ap);
  int size = std::vsnprintf(nullptr, 0, format, ap);
  va_end(ap);
  std::vector<char> message(size > 0 ? static_cast<size_t>(size) + 1 : 1, '\0');
  if (size > 0) std::vsnprintf(message.data(), message.size(), format, again);
  va_end(again);
  return api->H5Epush2(stack, file, func, line, cls, major, minor, "%s", message.data());
}

#define H5RL_DEFINE_FORWARDER(ret, name, params, args, fail) \
  ret name params {                                          \
    const Api* api = Get();                                  \
    return api ? api->name args : fail;                      \
  }
H5RL_FORWARDED(H5RL_DEFINE_FORWARDER)
#undef H5RL_DEFINE_FORWARDER

// ---------------------------------------------------------------------------
// The plugin's exports, and ours.
// ---------------------------------------------------------------------------

H5PL_type_t H5PLget_plugin_type(void) {
  const void* caller = __builtin_return_address(0);
  if (LeftToLinkedPlugin(ObjectOf(caller))) return H5PL_TYPE_NONE;  // HDF5 looks further
  BindToCaller(caller);
  return h5redislock_vfd_plugin_type();  // a refusal is answered by _info
}

const void* H5PLget_plugin_info(void) {
  const void* caller = __builtin_return_address(0);
  if (BindToCaller(caller)) return h5redislock_vfd_plugin_info();
  Refuse(ObjectOf(caller));
  return &kRefusedClass;
}

// Binds the plugin to the libhdf5 that `path` (a libhdf5, or an object that
// links one, such as an h5py extension module) resolves HDF5 to. The object
// must be loaded already. 0 on success (also when already bound to it), -1
// otherwise: h5redislock_dl_error() says why.
__attribute__((visibility("default"))) int h5redislock_dl_bind(const char* path) {
  void* handle = HandleOf(path ? path : "");
  if (!handle) {
    std::lock_guard<std::mutex> lock(g_mu);
    g_error = std::string("h5fd_redislock_dl: ") + (path ? path : "(null)") + " is not loaded in this process";
    return -1;
  }
  const Api* api = BindHandle(handle, path);
  dlclose(handle);
  return api ? 0 : -1;
}

// Why the last binding failed ("" if it did not), valid until the next call.
__attribute__((visibility("default"))) const char* h5redislock_dl_error(void) {
  static thread_local std::string copy;
  std::lock_guard<std::mutex> lock(g_mu);
  copy = g_error;
  return copy.c_str();
}

// The bound libhdf5's file, or "" before binding.
__attribute__((visibility("default"))) const char* h5redislock_dl_library(void) {
  const Api* api = g_api.load(std::memory_order_acquire);
  return api ? api->path.c_str() : "";
}

}  // extern "C"
