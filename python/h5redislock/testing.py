"""Test support: a private redis-server per test session, and what the tests
ask of it. Nothing here is a mock.

RedisServer starts `redis-server` on a unix socket in its own temporary
directory (no TCP port, no persistence, daemonized with a pid file) and
stops it by that pid. The pytest fixtures below hand one server to a test
session and point the driver at it through $H5REDISLOCK_URL, which child
processes inherit.
"""

import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest


class RedisServer:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="h5rl-redis-")
        self.socket = os.path.join(self.dir, "redis.sock")
        self.pidfile = os.path.join(self.dir, "redis.pid")
        self.pid = None
        # scripts/test --valkey runs every test against valkey-server.
        program = os.environ.get("H5REDISLOCK_TEST_SERVER", "redis") + "-server"
        server = shutil.which(program) or "/usr/bin/" + program
        subprocess.run([server, "--port", "0", "--unixsocket", self.socket, "--save", "",
                        "--appendonly", "no", "--daemonize", "yes", "--pidfile", self.pidfile,
                        "--dir", self.dir, "--logfile", os.path.join(self.dir, "redis.log")],
                       check=True, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if os.path.exists(self.pidfile) and self.command("PING") == "PONG":
                    with open(self.pidfile) as f:
                        self.pid = int(f.read().strip())
                    return
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not start in %s" % self.dir)

    @property
    def url(self):
        return "unix://" + self.socket

    def command(self, *args):
        """One command on a fresh connection; the reply (bulk strings as str,
        arrays as lists, integers as int, nil as None)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self.socket)
            out = b"*%d\r\n" % len(args)
            for arg in args:
                data = str(arg).encode()
                out += b"$%d\r\n%s\r\n" % (len(data), data)
            s.sendall(out)
            return _read_reply(s.makefile("rb"))

    def lock_key(self, path, part="lock", prefix="h5redislock:"):
        """A key of the lock on the file `path` (vfd/lock/lock_keys.h)."""
        name = os.path.realpath(path).replace("%", "%25").replace("{", "%7B").replace("}", "%7D")
        return "%s{%s}:%s" % (prefix, name, part)

    def lock_entries(self, path, part, prefix="h5redislock:"):
        """How many entries of the lock on the file `path` are "held" (its
        holders), "queue" (its waiters) or "lease" (all of them): see the
        lock's hash in vfd/lock/lock_protocol.cc."""
        key = self.lock_key(path, prefix=prefix)
        if part == "held":
            mode = self.command("HGET", key, "m")
            return int(mode[1:]) if mode else 0
        if part == "queue":
            return int(self.command("HGET", key, "n") or 0)
        fields = self.command("HKEYS", key) or []
        return sum(1 for f in fields if f.startswith("e:"))

    def acquisitions(self, path, prefix="h5redislock:"):
        """How often the lock on the file `path` was granted (while Redis
        keeps its counters)."""
        return int(self.command("HGET", self.lock_key(path, prefix=prefix), "a") or 0)

    def stop(self):
        if self.pid is None and os.path.exists(self.pidfile):
            with open(self.pidfile) as f:
                self.pid = int(f.read().strip() or 0) or None
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGTERM)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    os.kill(self.pid, 0)
                    time.sleep(0.02)
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None
        shutil.rmtree(self.dir, ignore_errors=True)


def _read_reply(f):
    line = f.readline()
    if not line:
        raise OSError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError("redis: " + rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode("utf-8", "replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise RuntimeError("unexpected redis reply %r" % line)


@pytest.fixture(scope="session")
def redis_server():
    """A private redis-server for the session; $H5REDISLOCK_URL points at it."""
    server = RedisServer()
    saved = os.environ.get("H5REDISLOCK_URL")
    os.environ["H5REDISLOCK_URL"] = server.url
    try:
        yield server
    finally:
        if saved is None:
            os.environ.pop("H5REDISLOCK_URL", None)
        else:
            os.environ["H5REDISLOCK_URL"] = saved
        server.stop()


def child_env(**changes):
    """os.environ for a child process, without the variables that would pick
    the driver or the plugin behind a test's back, with `changes` applied
    (None removes a variable)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("HDF5_DRIVER", "HDF5_DRIVER_CONFIG", "H5REDISLOCK_PLUGIN")}
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def examples_dir():
    """examples/python of the source tree ($H5RL_EXAMPLES_DIR, else beside
    this package in the repository); skips the test when there is none."""
    here = os.path.dirname(os.path.abspath(__file__))
    for directory in (os.environ.get("H5RL_EXAMPLES_DIR"), os.path.join(here, "..", "..", "examples", "python")):
        if directory and os.path.isfile(os.path.join(directory, "unmodified_h5py.py")):
            return os.path.abspath(directory)
    pytest.skip("examples/python is not beside this installation")


def run_all(target, args_list, timeout):
    """Runs target(*args) for each args in a forked process, all at once;
    returns how many failed (raised, or exited non-zero)."""
    ctx = multiprocessing.get_context("fork")
    processes = [ctx.Process(target=target, args=args) for args in args_list]
    for p in processes:
        p.start()
    wait_all(processes, timeout)
    return sum(1 for p in processes if p.exitcode != 0)


def wait_all(processes, timeout):
    """Joins multiprocessing processes; fails the test if one is left running."""
    deadline = time.monotonic() + timeout
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
    stuck = [p for p in processes if p.is_alive()]
    for p in stuck:
        p.kill()
        p.join()
    assert not stuck, "%d processes still ran after %s s" % (len(stuck), timeout)
