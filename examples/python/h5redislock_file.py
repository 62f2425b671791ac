"""h5redislock_file.py: h5py through the redislock driver, chosen in code.

    PYTHONPATH=<repo>/python HDF5_PLUGIN_PATH=<dir of the plugin> \
    python h5redislock_file.py data.h5 unix:///run/redis.sock

h5redislock.File takes h5py.File's arguments plus the driver's (url=,
timeout=, lease=, ...) and returns an h5py.File: mode "r" holds the shared
lock, every other mode the exclusive one, until the file is closed. Importing
h5redislock also lets plain h5py.File use the driver by name.
"""

import subprocess
import sys

import h5py
import numpy as np

import h5redislock


def main(path, url=None):
    # Exclusive: nobody else reads or writes the file until the block ends.
    with h5redislock.File(path, "w", url=url, timeout=30) as f:
        f.create_dataset("temperature", data=np.linspace(10.0, 20.0, 11))
        f.attrs["station"] = "Bern"

    # Shared with any other readers; the same, with h5py's own File.
    with h5py.File(path, "r", driver="redislock", url=url) as f:
        print(f.attrs["station"], f["temperature"][:3])

    # While we read, a writer in another process that must not wait fails
    # at once, with an exception naming the file and the holder.
    writer = ("import h5redislock, sys\n"
              "try:\n"
              "    h5redislock.File(sys.argv[1], 'r+', url=sys.argv[2] or None, timeout=0)\n"
              "except h5redislock.LockTimeout as e:\n"
              "    print('the writer:', type(e).__name__, e)\n")
    with h5redislock.File(path, "r", url=url):
        subprocess.run([sys.executable, "-c", writer, path, url or ""], check=True)
    print("plugin:", h5redislock.plugin().path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
