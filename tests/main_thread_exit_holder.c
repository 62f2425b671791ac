/*
 * main_thread_exit_holder.c: a holder whose main thread is gone. A worker
 * thread opens FILE for writing (through the driver that HDF5_DRIVER and
 * HDF5_DRIVER_CONFIG name) and then writes its int dataset "x" and flushes,
 * over and over; main() calls pthread_exit as soon as the worker runs. The
 * process lives on in its worker, but /proc/<pid>/stat shows the main
 * thread's state: Z, a zombie. liveness_test.cc checks that no waiter takes
 * it for dead.
 *
 *   main_thread_exit_holder FILE
 *
 * Prints "opened" once the open returned, "w" after each write that
 * succeeded; at the first refused write it prints "refused" and exits 1.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hdf5.h"

static void say(const char *line) {
    puts(line);
    fflush(stdout);
}

static void *hold(void *path) {
    hid_t file = H5Fopen((const char *)path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (file < 0) exit(2);
    say("opened");
    for (int value = 0;; ++value) {
        int data[4] = {value, value, value, value};
        hid_t dset = H5Dopen2(file, "x", H5P_DEFAULT);
        int ok = dset >= 0 && H5Dwrite(dset, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
        if (dset >= 0 && H5Dclose(dset) < 0) ok = 0;
        if (!ok || H5Fflush(file, H5F_SCOPE_LOCAL) < 0) {
            say("refused");
            exit(1);
        }
        say("w");
        usleep(20000);
    }
    return NULL;
}

int main(int argc, char **argv) {
    pthread_t worker;
    if (argc != 2 || pthread_create(&worker, NULL, hold, argv[1]) != 0) return 2;
    pthread_exit(NULL);
}
