"""Mode "a" with a held lock, and with several processes creating one file.

h5py does mode "a" (open read-write, else create) properly only for its own
drivers: for any other, every failure of the read-write open, a lock timeout
included, is retried as an exclusive create. h5redislock.File does "a"
itself. The tests show both: h5redislock.File waits for the lock once, and
concurrent creators all get the file; plain h5py.File(..., "a",
driver="redislock") waits twice and, when the lock comes free during the
second wait, fails with the create's error (the README says so). To watch
the first two fail, let h5redislock.File hand "a" to h5py
(h5redislock/__init__.py, File).
"""

import multiprocessing
import os
import time

import pytest

import h5redislock
from h5redislock import h5py
from h5redislock.testing import run_all, wait_all

CTX = multiprocessing.get_context("fork")


def _hold(path, ready, release):
    with h5redislock.File(path, "r+"):
        ready.set()
        release.wait(60)


def _release_after(release, seconds):
    time.sleep(seconds)
    release.set()


@pytest.fixture
def held(tmp_path, redis_server):
    """A file held for writing by another process: (path, pid, release)."""
    path = str(tmp_path / "held.h5")
    with h5redislock.File(path, "w") as f:
        f["x"] = 1
    ready, release = CTX.Event(), CTX.Event()
    holder = CTX.Process(target=_hold, args=(path, ready, release))
    holder.start()
    assert ready.wait(30)
    yield path, holder.pid, release
    release.set()
    wait_all([holder], 30)


def test_a_waits_for_the_lock_once(held):
    path, pid, _ = held
    start = time.monotonic()
    with pytest.raises(h5redislock.LockTimeout) as failure:
        h5redislock.File(path, "a", timeout=0.5)
    elapsed = time.monotonic() - start
    assert str(pid) in str(failure.value) and "write lock" in str(failure.value)
    assert elapsed < 0.9, "waited %.2f s for a timeout of 0.5 s" % elapsed


def _append(path, index):
    with h5redislock.File(path, "a", timeout=60) as f:
        f.attrs["writer%d" % index] = index


def test_a_by_many_processes_creates_the_file_once(tmp_path, redis_server):
    """All open or create the missing file at once: one creates it, the
    others open it, and every one's write is in it."""
    path = str(tmp_path / "new.h5")
    assert run_all(_append, [(path, i) for i in range(6)], 120) == 0
    with h5redislock.File(path) as f:
        assert sorted(f.attrs) == ["writer%d" % i for i in range(6)]


def test_plain_h5py_a_waits_twice_and_meets_the_create_error(held, redis_server):
    """What the README says of h5py.File(..., "a", driver="redislock")."""
    path, _, release = held
    start = time.monotonic()
    with pytest.raises(OSError):
        h5py.File(path, "a", driver="redislock", timeout=0.5)
    assert time.monotonic() - start >= 0.95, "h5py waited only once"
    # The lock comes free during h5py's second wait (its exclusive create):
    # the file exists, so the create fails, although the file is free now.
    # (Released by another process: h5py keeps the GIL while HDF5 waits.)
    releaser = CTX.Process(target=_release_after, args=(release, 1.5))
    releaser.start()
    with pytest.raises(OSError) as failure:
        h5py.File(path, "a", driver="redislock", timeout=1)
    wait_all([releaser], 30)
    # The create's own error: the file exists (errno 17, EEXIST).
    assert isinstance(failure.value, FileExistsError) and "File exists" in str(failure.value), failure.value
    with h5redislock.File(path, "a", timeout=5) as f:  # while this one opens it
        assert f["x"][()] == 1
    assert os.path.exists(path)
