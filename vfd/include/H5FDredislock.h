/*
 * H5FDredislock.h: the public C API of the "redislock" HDF5 virtual file driver.
 *
 * The driver wraps another driver (sec2 by default) and holds a readers-writers
 * lock in Redis for as long as a file is open: a shared lock for read-only
 * opens, an exclusive lock for all others. Three ways to use it:
 *
 *   1. Unmodified programs, through the environment:
 *        HDF5_PLUGIN_PATH=<dir of the plugin> HDF5_DRIVER=redislock
 *        HDF5_DRIVER_CONFIG='url=unix:///run/redis.sock;timeout=30'
 *   2. By name:  H5Pset_driver_by_name(fapl, "redislock", "url=redis://db1:6379/0");
 *   3. Typed:    H5FD_redislock_config_t c; H5FD_redislock_config_init(&c);
 *                c.timeout = 30; H5Pset_fapl_redislock(fapl, &c);
 *
 * The configuration string and its keys are described in the README and in
 * vfd/config.h. This header needs only hdf5.h.
 */
#ifndef H5FDREDISLOCK_H
#define H5FDREDISLOCK_H

#include <stdint.h>

#include "hdf5.h"

#ifdef __cplusplus
extern "C" {
#endif

#define H5FD_REDISLOCK_NAME "redislock"
/* A value from the range HDF5 reserves for testing and unregistered drivers. */
#define H5FD_REDISLOCK_VALUE ((H5FD_class_value_t)468)

#define H5FD_REDISLOCK_CONFIG_MAGIC   0x52444C4B /* "RDLK" */
#define H5FD_REDISLOCK_CONFIG_VERSION 1

/*
 * Typed configuration. Fill it with H5FD_redislock_config_init(), then set the
 * fields you need: an empty string or a NaN number means "the default".
 * `options` takes any further key=value pairs of the configuration string
 * ("password_file=/etc/redis.pw;lease=20"); a key may not be given twice.
 */
typedef struct H5FD_redislock_config_t {
    int32_t magic;        /* H5FD_REDISLOCK_CONFIG_MAGIC */
    int32_t version;      /* H5FD_REDISLOCK_CONFIG_VERSION */
    char    url[1024];    /* redis://[[user]:password@]host[:port][/db], rediss://..., unix:///path[?db=N],
                             redis-cluster://host:port,..., redis-sentinel://host:port,.../mastername */
    double  timeout;      /* seconds to wait for the lock; 0 never wait; -1 forever */
    double  lease;        /* seconds a silent holder keeps the lock */
    char    prefix[256];  /* of every Redis key; default "h5redislock:" */
    char    key[1024];    /* the lock's name; default the file's canonical path */
    char    inner[64];    /* the driver doing the I/O; default "sec2" */
    char    options[4096];
} H5FD_redislock_config_t;

/* Fills *config with magic, version and "use the default" in every field. */
H5_DLL herr_t H5FD_redislock_config_init(H5FD_redislock_config_t *config);

/* Registers the driver (if needed) and returns its ID. */
H5_DLL hid_t H5FD_redislock_init(void);

/* Makes `fapl_id` use the redislock driver with `config`. */
H5_DLL herr_t H5Pset_fapl_redislock(hid_t fapl_id, const H5FD_redislock_config_t *config);

/* Copies the configuration of a redislock fapl into *config_out. A fapl set by
 * name or through HDF5_DRIVER_CONFIG comes back with its string in `options`. */
H5_DLL herr_t H5Pget_fapl_redislock(hid_t fapl_id, H5FD_redislock_config_t *config_out);

/*
 * Lock caching (the configuration's linger=; the README's "Lock caching"). A
 * program that keeps a file open between accesses while no other process
 * wants its lock (h5pyswmr does) learns when one does:
 *   H5FD_redislock_revocation_fd() returns a descriptor (an eventfd) that
 *     becomes readable when another process wants a lock this process holds,
 *     open or cached; read 8 bytes from it to clear it. -1 if there is none.
 *   H5FD_redislock_wanted(file) returns 1 if another process wants the lock
 *     of `file` (as given to H5Fopen; a lock named with key= is not found) that
 *     this process holds, else 0.
 *   H5FD_redislock_idle(file) says that this process keeps `file` open only
 *     until someone wants it: its lock shows as cached, and an opener with
 *     timeout=0 asks for it rather than fail.
 *   H5FD_redislock_hold(file) returns this process's number for its hold of
 *     the lock of `file`, open or cached, while nobody else wants it and its
 *     lease is sure; else 0. While it stays the same no other process has
 *     written the file, so what the program learnt of the file under it
 *     (its groups and datasets: h5pyswmr looks them up once) still holds,
 *     but for the program's own changes.
 */
H5_DLL int H5FD_redislock_revocation_fd(void);
H5_DLL int H5FD_redislock_wanted(const char *file);
H5_DLL void H5FD_redislock_idle(const char *file);
H5_DLL unsigned long long H5FD_redislock_hold(const char *file);

#ifdef __cplusplus
}
#endif

#endif /* H5FDREDISLOCK_H */
