"""h5pyswmr's mode "a" is h5redislock.File's (see h5redislock's
test_append_mode.py): processes that open-or-create one missing file at
once all get it, one creating it, and a held file is waited for once."""

import multiprocessing
import time

import pytest

import h5pyswmr
import h5redislock
from h5redislock.testing import run_all, wait_all

CTX = multiprocessing.get_context("fork")


def _append(path, index):
    h5pyswmr.File(path, "a").attrs["writer%d" % index] = index


def test_a_by_many_processes(tmp_path, redis_server):
    path = str(tmp_path / "new.h5")
    assert run_all(_append, [(path, i) for i in range(6)], 120) == 0
    assert sorted(h5pyswmr.File(path).attrs.keys()) == ["writer%d" % i for i in range(6)]


def _hold(path, ready, release):
    with h5redislock.File(path, "r+"):
        ready.set()
        release.wait(60)


def test_a_on_a_held_file_waits_once(tmp_path, redis_server):
    path = str(tmp_path / "held.h5")
    h5pyswmr.File(path, "w")
    ready, release = CTX.Event(), CTX.Event()
    holder = CTX.Process(target=_hold, args=(path, ready, release))
    holder.start()
    h5pyswmr.configure(timeout=0.5)
    try:
        assert ready.wait(30)
        start = time.monotonic()
        with pytest.raises(h5redislock.LockTimeout):
            h5pyswmr.File(path, "a")
        assert time.monotonic() - start < 0.9
    finally:
        h5pyswmr.configure(timeout=None)
        release.set()
        wait_all([holder], 30)
