"""unmodified_h5py.py: an ordinary h5py script that knows nothing of the
redislock driver. Run it with the driver named in the environment

    HDF5_PLUGIN_PATH=<dir of libh5fd_redislock.so> HDF5_DRIVER=redislock \
    HDF5_DRIVER_CONFIG='url=unix:///run/redis.sock;timeout=30' \
    python unmodified_h5py.py counter.h5 20

(for h5py from a PyPI wheel, the directory of libh5fd_redislock_dl.so) and
HDF5 holds the lock while the file is open. It adds 1 to the dataset
"counter" of FILE, N times, each a read, a pause and a write in one open:
run it in several processes at once and the final count is exact with the
driver, and short (or the file damaged) without it.

    python unmodified_h5py.py FILE N [PAUSE]   increment FILE's counter N times
    python unmodified_h5py.py FILE             print the counter
"""

import sys
import time

import h5py


def main(argv):
    path = argv[1]
    if len(argv) == 2:
        with h5py.File(path, "r") as f:
            print(int(f["counter"][()]))
        return 0
    times, pause = int(argv[2]), float(argv[3]) if len(argv) > 3 else 0.005
    for _ in range(times):
        with h5py.File(path, "a") as f:
            if "counter" not in f:
                f["counter"] = 0
            value = f["counter"][()]
            time.sleep(pause)  # others would read the same value now
            f["counter"][()] = value + 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
