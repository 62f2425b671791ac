// tls_transport.cc: h5redislock_tls.so, hiredis's TLS layer on the system's
// OpenSSL, loaded by the driver only for rediss:// (tls_library.h says why;
// tls_transport.h is its whole interface). The library links its own static
// copy of hiredis for the few functions the TLS layer calls back into; its
// symbols stay local, as the driver's do.
#include "redis/tls_transport.h"

#include <hiredis/hiredis.h>
#include <hiredis/hiredis_ssl.h>
#include <openssl/crypto.h>

#include <cstdio>
#include <mutex>

extern "C" {

__attribute__((visibility("default"))) int h5redislock_tls_hiredis_version(void) {
  return HIREDIS_MAJOR * 10000 + HIREDIS_MINOR * 100 + HIREDIS_PATCH;
}

__attribute__((visibility("default"))) void* h5redislock_tls_start(redisContext* ctx, const char* ca_file,
                                                                    const char* cert_file, const char* key_file,
                                                                    const char* server_name, char* error,
                                                                    size_t error_size) {
  static std::once_flag once;
  std::call_once(once, [] {
    // The driver's threads (lease keeper, server watch) may still use
    // OpenSSL while the process exits: it must not free its state from an
    // atexit handler.
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
    redisInitOpenSSL();
  });
  redisSSLContextError ssl_error = REDIS_SSL_CTX_NONE;
  redisSSLContext* ssl = redisCreateSSLContext(ca_file, nullptr, cert_file, key_file, server_name, &ssl_error);
  if (!ssl) {
    std::snprintf(error, error_size, "TLS set-up failed: %s", redisSSLContextGetError(ssl_error));
    return nullptr;
  }
  if (redisInitiateSSLWithContext(ctx, ssl) != REDIS_OK) {
    std::snprintf(error, error_size, "TLS handshake failed: %s", ctx->errstr);
    redisFreeSSLContext(ssl);
    return nullptr;
  }
  return ssl;
}

__attribute__((visibility("default"))) void h5redislock_tls_free(void* tls) {
  redisFreeSSLContext(static_cast<redisSSLContext*>(tls));
}

}  // extern "C"
