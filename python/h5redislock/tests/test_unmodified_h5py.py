"""An unmodified h5py script (examples/python/unmodified_h5py.py), run in
several processes at once with only the environment naming the driver, is
synchronized: every read-pause-write increment survives. The control run
without the driver shows the same workload loses updates (or fails), so the
first test would fail without the driver."""

import os
import subprocess
import sys

import pytest

import h5redislock
from h5redislock.testing import child_env, examples_dir

PROCESSES = 6
INCREMENTS = 15


def _script():
    return os.path.join(examples_dir(), "unmodified_h5py.py")


def _run_all(filename, env):
    """Creates the file, then runs the script in PROCESSES processes at once;
    their exit codes and the failures' error output. (Not created first,
    processes would race in h5py's mode "a": open fails, then create with
    EXCL fails for all but one; two opens, which no lock makes one.)"""
    with h5redislock.File(filename, "w") as f:
        f["counter"] = 0
    procs = [subprocess.Popen([sys.executable, _script(), filename, str(INCREMENTS)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for _ in range(PROCESSES)]
    codes, errors = [], []
    for p in procs:
        _, err = p.communicate(timeout=240)
        codes.append(p.returncode)
        if p.returncode:
            errors.append(err.decode(errors="replace")[-2000:])
    return codes, errors


@pytest.mark.parametrize("linger", ["", ";linger=0"], ids=["cached", "uncached"])
def test_unmodified_script_is_synchronized(tmp_path, redis_server, linger):
    filename = str(tmp_path / "counter.h5")
    env = child_env(HDF5_DRIVER="redislock",
                       HDF5_DRIVER_CONFIG="url=%s;timeout=120%s" % (redis_server.url, linger))
    codes, errors = _run_all(filename, env)
    assert codes == [0] * PROCESSES, errors
    with h5redislock.File(filename, "r") as f:
        assert f["counter"][()] == PROCESSES * INCREMENTS
    # Every open went through the lock (the state hash counts the grants):
    # each of a process's opens uncached, at least its first one cached.
    wanted = PROCESSES * INCREMENTS if linger else PROCESSES
    assert redis_server.acquisitions(filename) >= wanted


def test_control_without_the_driver_updates_are_lost(tmp_path, redis_server):
    """The same run with plain h5py (and HDF5's own file locking off, as on
    many network file systems): increments are lost or processes fail."""
    filename = str(tmp_path / "counter.h5")
    codes, errors = _run_all(filename, child_env(HDF5_USE_FILE_LOCKING="FALSE"))
    # Failures must be HDF5's (a damaged file), not a script that did not run.
    assert all("h5py" in text or "HDF5" in text for text in errors), errors
    try:
        with h5redislock.File(filename, "r") as f:
            final = int(f["counter"][()])
    except Exception:  # noqa: BLE001 - a damaged file is a failure too
        final = None
    assert final != PROCESSES * INCREMENTS or errors, \
        "without the driver the run came out right: the test above proves nothing"
