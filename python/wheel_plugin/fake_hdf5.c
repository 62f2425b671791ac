/*
 * fake_hdf5.c: a stand-in "libhdf5" that reports HDF5 1.12.3, an ABI the
 * plugin for h5py's wheels does not serve, for the tests of its refusal
 * (python/h5redislock/tests/test_wheel_plugin.py). It defines only what the
 * plugin looks at before it refuses, records what is pushed onto its "error
 * stack", and loads a plugin the way HDF5's plugin loader does (the plugin's
 * exports are called from inside this library).
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

typedef int64_t hid_t;

hid_t H5E_ERR_CLS_g = 1;
hid_t H5E_PLUGIN_g = 2;
hid_t H5E_CANTINIT_g = 3;
hid_t H5E_VFL_g = 4;

static char last_error[4096];

int H5open(void) { return 0; }

int H5get_libversion(unsigned *major, unsigned *minor, unsigned *release) {
    *major = 1;
    *minor = 12;
    *release = 3;
    return 0;
}

hid_t H5FDregister(const void *cls) {
    (void)cls;
    return -1;
}

int H5Epush2(hid_t stack, const char *file, const char *func, unsigned line, hid_t cls, hid_t major,
             hid_t minor, const char *format, ...) {
    (void)stack, (void)file, (void)func, (void)line, (void)cls, (void)major, (void)minor;
    va_list ap;
    va_start(ap, format);
    vsnprintf(last_error, sizeof last_error, format, ap);
    va_end(ap);
    return 0;
}

const char *fake_hdf5_last_error(void) { return last_error; }

/* As H5PL__open: dlopen, then the two exports. Returns the plugin info. */
const void *fake_hdf5_load_plugin(const char *path) {
    void *handle = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    if (!handle) return NULL;
    int (*type)(void) = (int (*)(void))dlsym(handle, "H5PLget_plugin_type");
    const void *(*info)(void) = (const void *(*)(void))dlsym(handle, "H5PLget_plugin_info");
    if (!type || !info) return NULL;
    type();
    const void *volatile result = info(); /* volatile: a call, not a tail jump */
    return result;
}
