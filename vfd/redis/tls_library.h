// tls_library.h: TLS for rediss:// urls, from a library loaded when first
// needed.
//
// Why. TLS needs OpenSSL, and the driver is loaded into processes that bring
// their own HDF5 and may not have, or may not want, ours: a Python wheel
// must not carry a copy of OpenSSL (it would look for CA certificates where
// the machine that built it keeps them, and its security fixes would need a
// new wheel), and a driver used only with redis:// and unix:// must load on a
// machine with no libssl at all. So the driver links no OpenSSL. hiredis's
// TLS layer, linked against the system's libssl.so.3, is a library of its
// own, h5redislock_tls.so (tls_transport.cc), that the driver dlopen()s the
// first time a connection needs TLS; the system's OpenSSL then brings its own
// CA store and its own security updates. (Its file name has no "lib" prefix:
// HDF5's plugin loader, which tries every lib*.so in a plugin directory,
// never opens it.)
//
// Where. Next to the code that needs it: in the directory of the object this
// code is linked into (the plugin, found with dladdr), then in that object's
// real directory (symlinks resolved: an installed plugin directory holds a
// link to ../libh5fd_redislock.so), then in the directories given to
// AddTlsLibraryDir (the h5redislock program names its plugin's).
//
// How. The library shares no symbols with the driver. It starts TLS on a
// hiredis context that the driver's hiredis created (same hiredis version,
// checked on load: the context's layout must agree) by installing its own
// read/write functions in it; hiredis calls them from then on, and they stay
// valid because the library is never unloaded.
//
// Thread-safety: thread-safe.
#ifndef H5REDISLOCK_TLS_LIBRARY_H_
#define H5REDISLOCK_TLS_LIBRARY_H_

#include <string>

#include "base/status.h"
#include "redis/redis_endpoint.h"

struct redisContext;

namespace h5redislock {

constexpr const char* kTlsLibraryFile = "h5redislock_tls.so";

// Makes `ctx` (connected to `endpoint`) speak TLS with the endpoint's TLS
// settings. On success *tls is the session state, for FreeTls after the
// context is freed. Errors name the endpoint, and say what is missing when
// the TLS library or the system's libssl cannot be loaded.
Status StartTls(redisContext* ctx, const RedisEndpoint& endpoint, void** tls);
void FreeTls(void* tls);

// One more directory to look for h5redislock_tls.so in.
void AddTlsLibraryDir(const std::string& dir);

}  // namespace h5redislock

#endif  // H5REDISLOCK_TLS_LIBRARY_H_
