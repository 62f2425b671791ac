"""h5pyswmr's caching (h5pyswmr/_kept.py): a read file stays open between
accesses while nobody else wants to write it, and is closed as soon as
someone does; the lock goes with a process's normal exit."""

import multiprocessing
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import h5pyswmr
from h5pyswmr import File
from h5redislock.testing import child_env


@pytest.fixture
def filename(tmp_path, redis_server):
    name = str(tmp_path / "cached.h5")
    with File(name, "w") as f:
        f.create_dataset(name="/d", data=np.zeros((100, 100), dtype="i8"))
    h5pyswmr.File(name).close()  # nothing kept from the create
    return name


def _fcalls(redis_server):
    stats = redis_server.command("INFO", "commandstats")
    for line in stats.splitlines():
        if line.startswith("cmdstat_fcall:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


def test_reads_keep_the_file_open_and_talk_to_redis_once(filename, redis_server):
    dst = File(filename, "r")["d"]
    assert dst[0:1].tolist() == [[0] * 100]
    before = _fcalls(redis_server)
    for _ in range(50):
        dst[0:1]
    assert _fcalls(redis_server) == before, "a read of a kept file talked to Redis"
    assert redis_server.lock_entries(filename, "held") == 1
    File(filename).close()
    time.sleep(0.2)
    assert redis_server.lock_entries(filename, "held") <= 1  # at most the cached lock, until its linger ends


def _write(filename, value, queue):
    try:
        started = time.monotonic()
        File(filename, "r")["d"][0:1] = value
        queue.put(time.monotonic() - started)
    except Exception as e:  # noqa: BLE001 - reported to the parent
        queue.put("%s: %s" % (type(e).__name__, e))


def test_a_writer_closes_the_kept_file_and_the_next_read_sees_its_write(filename):
    dst = File(filename, "r")["d"]
    assert dst[0, 0] == 0  # kept open now
    queue = multiprocessing.get_context("spawn").Queue()
    child = multiprocessing.get_context("spawn").Process(target=_write, args=(filename, 7, queue))
    child.start()
    took = queue.get(timeout=60)
    child.join()
    assert not isinstance(took, str), took
    assert took < 5.0, "the writer waited %.3f s for the kept file" % took
    assert dst[0, 0] == 7, "the read after the write used the stale kept file"


def test_a_write_is_committed_when_it_returns(filename, redis_server):
    """The kept write lock's session is committed at the close: a SIGKILL of
    the writer after the write returned never rolls it back."""
    script = textwrap.dedent("""
        import os, signal, sys
        import h5pyswmr
        h5pyswmr.File(sys.argv[1], "r")["d"][0:1] = 5
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script, filename], env=child_env(), timeout=60)
    assert done.returncode == -9
    assert File(filename, "r")["d"][0, 0] == 5


def test_a_normal_exit_lets_the_cached_lock_go(filename, redis_server):
    script = textwrap.dedent("""
        import sys
        import h5pyswmr
        h5pyswmr.configure(linger=600)
        assert h5pyswmr.File(sys.argv[1], "r")["d"][0, 0] == 0
    """)
    done = subprocess.run([sys.executable, "-c", script, filename], env=child_env(), timeout=60)
    assert done.returncode == 0
    assert redis_server.lock_entries(filename, "lease") == 0, "the exited process's lock is still in Redis"


def _replace_with_a_group(filename, queue):
    try:
        with h5pyswmr.File(filename, "r+") as f:
            del f["d"]
            f.create_group("d")
        queue.put("done")
    except Exception as e:  # noqa: BLE001 - reported to the parent
        queue.put("%s: %s" % (type(e).__name__, e))


def test_a_node_another_process_replaced_is_looked_up_again(filename):
    """A node's kind is looked up once per hold of the lock (_known.py): the
    other process's write ends this process's hold, and the next lookup
    sees the group that replaced the dataset."""
    f = File(filename, "r")
    assert isinstance(f["d"], h5pyswmr.Dataset)
    assert isinstance(f["d"], h5pyswmr.Dataset)  # known now, under this hold
    queue = multiprocessing.get_context("spawn").Queue()
    child = multiprocessing.get_context("spawn").Process(target=_replace_with_a_group, args=(filename, queue))
    child.start()
    outcome = queue.get(timeout=60)
    child.join()
    assert outcome == "done", outcome
    assert list(f.attrs.keys()) == []  # takes the lock again: a new hold
    assert isinstance(f["d"], h5pyswmr.Group), "the lookup used what it learnt under an earlier hold"


def test_own_changes_of_the_structure_are_looked_up_again(filename):
    f = File(filename, "r+")
    assert isinstance(f["d"], h5pyswmr.Dataset)
    del f["d"]
    f.create_group("d")
    assert isinstance(f["d"], h5pyswmr.Group)
