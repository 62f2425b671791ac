/*
 * plain_hdf5.c: an ordinary HDF5 program that knows nothing of the redislock
 * driver. It opens files with H5P_DEFAULT, so HDF5 picks the driver from the
 * environment; run it with
 *
 *   HDF5_PLUGIN_PATH=<dir of libh5fd_redislock.so> HDF5_DRIVER=redislock
 *   HDF5_DRIVER_CONFIG='url=unix:///run/redis.sock;timeout=30'
 *
 * and it holds the lock while its file is open.
 *
 *   plain_hdf5 write FILE VALUE   create (or overwrite) FILE with an int "value"
 *   plain_hdf5 read FILE          print that value
 *
 * Exits non-zero on any failure; HDF5 prints its error stack itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdf5.h"

static int write_value(const char *path, int value) {
    int ok = 0;
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) return 0;
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t dset = H5Dcreate2(file, "value", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (dset >= 0 && H5Dwrite(dset, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) >= 0) ok = 1;
    if (dset >= 0 && H5Dclose(dset) < 0) ok = 0;
    H5Sclose(space);
    /* The close writes the metadata: a failure here loses the write. */
    if (H5Fclose(file) < 0) ok = 0;
    return ok;
}

static int read_value(const char *path, int *value) {
    int ok = 0;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return 0;
    hid_t dset = H5Dopen2(file, "value", H5P_DEFAULT);
    if (dset >= 0 && H5Dread(dset, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, value) >= 0) ok = 1;
    if (dset >= 0) H5Dclose(dset);
    if (H5Fclose(file) < 0) ok = 0;
    return ok;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "write") == 0) {
        char *end = NULL;
        long value = strtol(argv[3], &end, 10);
        if (*argv[3] == '\0' || *end != '\0') {
            fprintf(stderr, "plain_hdf5: VALUE must be an integer, not '%s'\n", argv[3]);
            return 2;
        }
        if (!write_value(argv[2], (int)value)) {
            fprintf(stderr, "plain_hdf5: cannot write %s\n", argv[2]);
            return 1;
        }
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "read") == 0) {
        int value = 0;
        if (!read_value(argv[2], &value)) {
            fprintf(stderr, "plain_hdf5: cannot read %s\n", argv[2]);
            return 1;
        }
        printf("%d\n", value);
        return 0;
    }
    fprintf(stderr, "usage: plain_hdf5 write FILE VALUE | plain_hdf5 read FILE\n");
    return 2;
}
