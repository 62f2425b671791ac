// tls_transport.h: the C interface of h5redislock_tls.so (tls_transport.cc),
// which the driver loads with dlopen when a connection first needs TLS
// (tls_library.h says why). Nothing else of the library is visible.
#ifndef H5REDISLOCK_TLS_TRANSPORT_H_
#define H5REDISLOCK_TLS_TRANSPORT_H_

#include <stddef.h>

struct redisContext;

extern "C" {

// The hiredis version the library was built with (major * 10000 + minor *
// 100 + patch): the driver's must be the same, for they share redisContext.
int h5redislock_tls_hiredis_version(void);

// Starts TLS on the connected `ctx`, verifying the server against `ca_file`
// (NULL: the system's CA store) and its name against `server_name`, and
// presenting `cert_file`/`key_file` if given. Returns the session state for
// h5redislock_tls_free, or NULL with the reason in `error`.
void* h5redislock_tls_start(redisContext* ctx, const char* ca_file, const char* cert_file, const char* key_file,
                            const char* server_name, char* error, size_t error_size);

// Frees what h5redislock_tls_start returned, after the context is freed.
void h5redislock_tls_free(void* tls);

}  // extern "C"

#endif  // H5REDISLOCK_TLS_TRANSPORT_H_
