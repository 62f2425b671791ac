"""h5redislock.File from the wheel, across processes: a writer holds the
file; an r+ and an r opener with timeout=0.5 raise LockTimeout naming the
holder's pid; once the writer closes, a waiting opener gets the file within
a second; two readers hold it at the same time."""

import subprocess
import sys
import time

import h5redislock

from support import Script, clean_env

HOLD = """
import h5redislock, os, sys, time
path, mode, ready, release = sys.argv[1:]
with h5redislock.File(path, mode, timeout=30) as f:
    if mode == "w":
        f["x"] = 1
    open(ready + ".tmp", "w").write(str(time.time()))
    os.rename(ready + ".tmp", ready)
    while not os.path.exists(release):
        time.sleep(0.01)
    print(os.getpid())
"""

TRY = """
import h5redislock, sys
try:
    h5redislock.File(sys.argv[1], sys.argv[2], timeout=0.5)
except h5redislock.LockTimeout as e:
    print("LockTimeout:", e)
"""


def _holder(work, env, mode, name):
    return Script([sys.executable, "-c", HOLD, str(work / "f.h5"), mode], env, str(work), name)


def test_writer_excludes_and_hands_over_within_a_second(work, redis_server):
    env = clean_env(H5REDISLOCK_URL=redis_server.url)
    writer = _holder(work, env, "w", "writer")
    assert writer.wait_ready(30)
    for mode in ("r+", "r"):
        out = subprocess.run([sys.executable, "-c", TRY, str(work / "f.h5"), mode], env=env, cwd=str(work),
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("LockTimeout:"), (mode, out.stdout, out.stderr)
        assert "pid %d" % writer.proc.pid in out.stdout, out.stdout
    waiter = _holder(work, env, "r+", "waiter")
    assert not waiter.wait_ready(1.0), "the waiter got the file while the writer held it"
    released = time.time()
    writer.finish()
    assert waiter.wait_ready(30)
    got = float(open(waiter.ready).read())
    assert got - released < 1.0, "the waiter got the file %.2f s after the release" % (got - released)
    waiter.finish()


def test_two_readers_overlap(work, redis_server):
    env = clean_env(H5REDISLOCK_URL=redis_server.url)
    with h5redislock.File(str(work / "f.h5"), "w", url=redis_server.url) as f:
        f["x"] = 1
    first = _holder(work, env, "r", "first")
    assert first.wait_ready(30)
    second = _holder(work, env, "r", "second")
    assert second.wait_ready(30), "the second reader waited for the first"
    first.finish()
    second.finish()
