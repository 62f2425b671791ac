/* demo_worker: one participant in scripts/demo.
 *
 *   demo_worker init FILE                      create FILE: counter 0, empty history
 *   demo_worker read|write FILE NAME HOLD_SECONDS
 *
 * It is plain HDF5 and knows nothing of the redislock driver: it uses
 * H5P_DEFAULT everywhere, and the driver is chosen from outside through
 * HDF5_PLUGIN_PATH, HDF5_DRIVER=redislock and HDF5_DRIVER_CONFIG. That is the
 * point of the demo: an unmodified program gets the lock.
 *
 * The file holds /counter (one int64) and /history (int64 rows, extendible).
 * A writer reads the counter, holds the file HOLD_SECONDS, then writes
 * counter+1 and appends that value as a row: a read-modify-write spread over
 * the hold, so two writers inside at once would lose an update. A reader
 * checks that history is exactly 1..counter (no torn write visible), then
 * holds the file HOLD_SECONDS.
 *
 * Output, one line on stdout (times in seconds on CLOCK_MONOTONIC, which is
 * shared by all processes on the machine, so lines from different workers
 * compare):
 *
 *   NAME MODE t_request t_acquired t_released value t_closing
 *
 * t_request is just before H5Fopen, t_acquired just after it returns (the lock
 * is held from then on), t_closing just before H5Fclose and t_released just
 * after it. The lock is released somewhere inside H5Fclose, so the interval
 * [t_acquired, t_closing] is certainly held; that is what scripts/demo uses to
 * judge overlap, while [t_acquired, t_released] is what it draws. value is the
 * counter as read (reader) or written (writer).
 *
 * Exit status: 0 on success, 1 on any HDF5 failure or inconsistency.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hdf5.h>

static double Now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void Hold(double seconds) {
  struct timespec ts;
  ts.tv_sec = (time_t)seconds;
  ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static int Fail(const char* name, const char* what) {
  fprintf(stderr, "demo_worker %s: %s failed\n", name, what);
  return 1;
}

static int Init(const char* path) {
  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) return Fail("init", "H5Fcreate");
  long long zero = 0;
  hid_t scalar = H5Screate(H5S_SCALAR);
  hid_t counter = H5Dcreate2(file, "counter", H5T_NATIVE_LLONG, scalar, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = counter < 0 ? -1 : H5Dwrite(counter, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, &zero);
  /* history must be chunked to be extendible; it starts empty. */
  hsize_t dims = 0, maxdims = H5S_UNLIMITED, chunk = 16;
  hid_t space = H5Screate_simple(1, &dims, &maxdims);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, &chunk);
  hid_t history = H5Dcreate2(file, "history", H5T_NATIVE_LLONG, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (history < 0) st = -1;
  H5Dclose(history);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Dclose(counter);
  H5Sclose(scalar);
  if (H5Fclose(file) < 0) st = -1;
  return st < 0 ? Fail("init", "creating the datasets") : 0;
}

/* Reads /counter into *value and checks /history is 1..*value. */
static int ReadAndCheck(hid_t file, const char* name, long long* value) {
  hid_t counter = H5Dopen2(file, "counter", H5P_DEFAULT);
  if (counter < 0 || H5Dread(counter, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, value) < 0)
    return Fail(name, "reading /counter");
  H5Dclose(counter);
  hid_t history = H5Dopen2(file, "history", H5P_DEFAULT);
  hid_t space = history < 0 ? -1 : H5Dget_space(history);
  hsize_t n = 0;
  if (space < 0 || H5Sget_simple_extent_dims(space, &n, NULL) < 0) return Fail(name, "sizing /history");
  H5Sclose(space);
  long long* rows = malloc((n ? n : 1) * sizeof *rows);
  if (n > 0 && H5Dread(history, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0)
    return Fail(name, "reading /history");
  H5Dclose(history);
  int ok = (long long)n == *value;
  for (hsize_t i = 0; ok && i < n; ++i) ok = rows[i] == (long long)i + 1;
  free(rows);
  if (!ok) fprintf(stderr, "demo_worker %s: counter %lld but history has %llu rows out of order\n", name, *value,
                   (unsigned long long)n);
  return ok ? 0 : 1;
}

/* Writes value to /counter and appends it as a row of /history. */
static int Append(hid_t file, const char* name, long long value) {
  hid_t counter = H5Dopen2(file, "counter", H5P_DEFAULT);
  if (counter < 0 || H5Dwrite(counter, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) < 0)
    return Fail(name, "writing /counter");
  H5Dclose(counter);
  hid_t history = H5Dopen2(file, "history", H5P_DEFAULT);
  hid_t space = history < 0 ? -1 : H5Dget_space(history);
  hsize_t n = 0, one = 1;
  if (space < 0 || H5Sget_simple_extent_dims(space, &n, NULL) < 0) return Fail(name, "sizing /history");
  H5Sclose(space);
  hsize_t grown = n + 1;
  if (H5Dset_extent(history, &grown) < 0) return Fail(name, "extending /history");
  space = H5Dget_space(history);
  hid_t mem = H5Screate_simple(1, &one, NULL);
  herr_t st = H5Sselect_hyperslab(space, H5S_SELECT_SET, &n, NULL, &one, NULL);
  if (st >= 0) st = H5Dwrite(history, H5T_NATIVE_LLONG, mem, space, H5P_DEFAULT, &value);
  H5Sclose(mem);
  H5Sclose(space);
  H5Dclose(history);
  return st < 0 ? Fail(name, "appending to /history") : 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "init") == 0) return Init(argv[2]);
  if (argc != 5 || (strcmp(argv[1], "read") != 0 && strcmp(argv[1], "write") != 0)) {
    fprintf(stderr, "usage: demo_worker init FILE\n       demo_worker read|write FILE NAME HOLD_SECONDS\n");
    return 2;
  }
  const int writing = strcmp(argv[1], "write") == 0;
  const char* path = argv[2];
  const char* name = argv[3];
  const double hold = atof(argv[4]);

  double t_request = Now();
  hid_t file = H5Fopen(path, writing ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
  double t_acquired = Now();
  if (file < 0) return Fail(name, "H5Fopen");

  long long value = 0;
  int rc = ReadAndCheck(file, name, &value);
  Hold(hold);  /* inside the lock, so that overlaps (or their absence) show */
  if (rc == 0 && writing) rc = Append(file, name, ++value);

  double t_closing = Now();
  if (H5Fclose(file) < 0) rc = Fail(name, "H5Fclose");
  double t_released = Now();
  if (rc != 0) return 1;
  printf("%s %s %.6f %.6f %.6f %lld %.6f\n", name, argv[1], t_request, t_acquired, t_released, value, t_closing);
  return 0;
}
