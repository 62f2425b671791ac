"""The seed's lock test, on a real file: 100 processes, every 6th a writer,
the others readers, some of which terminate themselves with SIGTERM while
they hold the lock. Afterwards no lock may be left behind.

Stronger than the seed's: every holder records itself in shared memory while
it has the file open, so a writer overlapping anybody, or a reader
overlapping a writer, is counted; and each writer increments a counter in
the file, so a lost update shows.
"""

import multiprocessing
import os
import random
import signal
import time

import h5redislock
from h5redislock.testing import wait_all

NO_WORKERS = 100
READERS, WRITERS, OVERLAPS, MAX_READERS = range(4)


def _enter(state, writer):
    with state.get_lock():
        if writer:
            if state[READERS] or state[WRITERS]:
                state[OVERLAPS] += 1
            state[WRITERS] += 1
        else:
            if state[WRITERS]:
                state[OVERLAPS] += 1
            state[READERS] += 1
            state[MAX_READERS] = max(state[MAX_READERS], state[READERS])


def _leave(state, writer):
    with state.get_lock():
        state[WRITERS if writer else READERS] -= 1


def worker_read(i, filename, state, suicide):
    random.seed(os.getpid())
    time.sleep(random.random() * 2)
    with h5redislock.File(filename, "r") as f:
        _enter(state, False)
        f["counter"][()]
        if suicide:
            # Die holding the lock (after leaving the bookkeeping, which
            # cannot be undone by a dead process): the others must go on.
            _leave(state, False)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)
        time.sleep(random.random() * 0.5)
        _leave(state, False)


def worker_write(i, filename, state):
    random.seed(os.getpid())
    time.sleep(random.random() * 2.4)
    with h5redislock.File(filename, "r+") as f:
        _enter(state, True)
        value = f["counter"][()]
        time.sleep(random.random() * 0.3)
        f["counter"][()] = value + 1
        _leave(state, True)


def test_locks(tmp_path, redis_server):
    filename = str(tmp_path / "test1234.h5")
    with h5redislock.File(filename, "w") as f:
        f["counter"] = 0
    ctx = multiprocessing.get_context("fork")
    state = ctx.Array("i", 4)
    jobs, writers, suicides = [], 0, set()
    for i in range(NO_WORKERS):
        if i % 6 == 1:
            p = ctx.Process(target=worker_write, args=(i, filename, state))
            writers += 1
        else:
            suicide = i % 13 == 1
            p = ctx.Process(target=worker_read, args=(i, filename, state, suicide))
            if suicide:
                suicides.add(i)
        p.start()
        jobs.append(p)

    wait_all(jobs, timeout=120)
    codes = {i: p.exitcode for i, p in enumerate(jobs)}
    assert {i for i, code in codes.items() if code == -signal.SIGTERM} == suicides
    assert all(code == 0 for i, code in codes.items() if i not in suicides), codes
    assert state[OVERLAPS] == 0, "a writer overlapped another holder %d times" % state[OVERLAPS]
    assert state[MAX_READERS] > 1, "readers never shared the file"

    # Verify that all locks have been released: the dead readers' entries go
    # as soon as someone waits behind them (same host: their pids are gone),
    # so an exclusive open succeeds at once and leaves nothing behind (this
    # process's own lock is not cached: linger=0).
    with h5redislock.File(filename, "r", timeout=10, linger=0) as f:
        assert f["counter"][()] == writers
    with h5redislock.File(filename, "r+", timeout=10, linger=0):
        pass
    for part in ("held", "queue", "lease"):
        assert redis_server.lock_entries(filename, part) == 0, "lock %s entries left" % part
