/*
 * fake_hdf5.c: a stand-in "libhdf5" that reports HDF5 1.12.3, an ABI the
 * plugin for h5py's wheels does not serve, for the tests of its refusal
 * (python/h5redislock/tests/test_wheel_plugin.py). It defines only what the
 * plugin looks at, records what is pushed onto its "error stack", and loads
 * a plugin and opens a file through it the way HDF5 does (the plugin's
 * exports and the class's open are called from inside this library).
 * Compiled against HDF5's headers for the class layout; linked to no HDF5.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>

#include <hdf5.h>
#include <H5FDdevelop.h>

hid_t H5E_ERR_CLS_g = 1;
hid_t H5E_VFL_g = 2;
hid_t H5E_CANTOPENFILE_g = 3;

static char last_error[4096];

herr_t H5open(void) { return 0; }

herr_t H5get_libversion(unsigned *major, unsigned *minor, unsigned *release) {
    *major = 1;
    *minor = 12;
    *release = 3;
    return 0;
}

hid_t H5FDregister(const H5FD_class_t *cls) {
    (void)cls;
    return -1;
}

herr_t H5Epush2(hid_t stack, const char *file, const char *func, unsigned line, hid_t cls, hid_t major,
                hid_t minor, const char *format, ...) {
    (void)stack, (void)file, (void)func, (void)line, (void)cls, (void)major, (void)minor;
    va_list ap;
    va_start(ap, format);
    vsnprintf(last_error, sizeof last_error, format, ap);
    va_end(ap);
    return 0;
}

const char *fake_hdf5_last_error(void) { return last_error; }

/* As H5PL__open: dlopen, then the two exports. Returns the plugin info (a
 * driver class), or NULL. */
const H5FD_class_t *fake_hdf5_load_plugin(const char *path) {
    void *handle = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    if (!handle) return NULL;
    int (*type)(void) = (int (*)(void))dlsym(handle, "H5PLget_plugin_type");
    const void *(*info)(void) = (const void *(*)(void))dlsym(handle, "H5PLget_plugin_info");
    if (!type || !info || type() != H5PL_TYPE_VFD) return NULL;
    const void *volatile result = info(); /* volatile: a call, not a tail jump */
    return (const H5FD_class_t *)result;
}

/* As H5FD_open: the class's open callback. 1 if it opened the file. */
int fake_hdf5_open(const H5FD_class_t *cls, const char *name) {
    H5FD_t *volatile file = cls->open(name, 0x0001u /* H5F_ACC_RDWR, without its H5check() */, 0, HADDR_MAX);
    return file != NULL;
}
