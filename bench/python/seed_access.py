#!/usr/bin/env python3
"""Case 11: the seed's access pattern, through h5pyswmr, against plain h5py
and against the seed's own polling lock (issue 14's Python targets).

The seed's users open and close the file on every access: with
f = h5pyswmr.File(path), `f['/d'][0:1]` opens the file to look '/d' up, then
again to read the row; `f['/d'][0:1] = i` looks up under the shared lock,
then writes under the exclusive one. This program times that, one access at
a time, on a 100x100 float64 dataset, for these schemes:

  plain/read, plain/write           h5py alone: open, d[0:1] (= i), close;
                                    no lock (the baseline; h5py's defaults,
                                    HDF5's flock included, as its users have)
  h5pyswmr/read, h5pyswmr/write     f['/d'][0:1] (= i): two opens through the
                                    redislock driver (python/h5pyswmr)
  h5pyswmr_dataset/read, /write     d[0:1] (= i) on a Dataset held from
                                    f['/d']: one open through the driver
  h5redislock/read, /write          h5redislock.File: open, access, close
                                    (the driver's default linger=1: the
                                    lock stays cached between accesses)
  h5py_driver/read, /write          h5py.File(driver="redislock") directly:
                                    what the driver costs without the
                                    package's Python around it
  polling/read, polling/write       the seed's way: f['/d'][0:1] (= i) as the
                                    seed did it, each open inside the seed's
                                    polling lock (seed_polling_lock.py)
  polling_dataset/read, /write      one open inside it, as h5pyswmr_dataset
  ping/redis-py, ping/raw           a Redis PING through redis-py, and as
                                    bytes on a socket: the round trip

in interleaved rounds: every round runs a batch of each scheme, in a fresh
random order, so a slow spell of the shared machine falls on all of them.
Each access is timed alone (perf_counter_ns); Python's garbage collector
runs between batches, not inside them. Afterwards each scheme runs once more
between two INFO commandstats, for the Redis commands an access costs
(commands that scripts run included).

The raw results (every access's time, per round; the process's CPU time per
batch; commands per access; the versions) go to OUT/python.json;
bench/summarize.py makes the table from it, and this program prints that
table. scripts/bench runs it (`scripts/bench --only python`); by hand:

  HDF5_PLUGIN_PATH=build-bench/python/wheel_plugin \\
  PYTHONPATH=python:$H5RL_BENCH_PYTHON $H5RL_WHEEL_VENV/bin/python \\
      bench/python/seed_access.py --url unix:///tmp/r.sock --out /tmp/pybench
"""

import argparse
import cProfile
import gc
import json
import os
import pstats
import random
import shutil
import socket
import sys
import tempfile
import time
import urllib.parse

import h5py
import numpy

try:
    import redis
except ImportError:
    sys.exit("seed_access.py: redis-py is missing; scripts/bootstrap installs it into "
             "~/.cache/h5redislock/bench-python ($H5RL_BENCH_PYTHON), which goes on PYTHONPATH")

import h5pyswmr
import h5redislock

from seed_polling_lock import SeedPollingLock

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, BENCH_DIR)
import summarize  # noqa: E402  (bench/summarize.py: the table)

DATASET = "/d"
SHAPE = (100, 100)


class RawPing:
    """PING as bytes on a socket of its own: the round trip without a client
    library's Python."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "unix":
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._sock.connect(parts.path)
        else:
            self._sock = socket.create_connection((parts.hostname, parts.port or 6379))
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def __call__(self, _):
        self._sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = self._sock.recv(64)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            reply += chunk
        if reply != b"+PONG\r\n":
            raise ConnectionError("PING answered %r" % reply)

    def close(self):
        self._sock.close()


def schemes(path, url, client):
    """{name: access(i)}: each call is one access (see the module's docstring)."""
    h5pyswmr.configure(url=url)
    # h5pyswmr keeps a read file open between accesses (h5pyswmr/_kept.py):
    # in this one process it would keep the other schemes' writers out of
    # the file (HDF5's flock; the driver's "open read-only" refusal). So it
    # has a copy of its own.
    swmr_path = path + ".h5pyswmr.h5"
    shutil.copyfile(path, swmr_path)
    swmr_file = h5pyswmr.File(swmr_path, "r")
    swmr_dataset = swmr_file[DATASET]
    lock = SeedPollingLock(client)
    resource = os.path.abspath(path)

    def plain_read(_):
        with h5py.File(path, "r") as f:
            return f[DATASET][0:1]

    def plain_write(i):
        with h5py.File(path, "r+") as f:
            f[DATASET][0:1] = i

    def h5redislock_read(_):
        with h5redislock.File(path, "r", url=url) as f:
            return f[DATASET][0:1]

    def h5redislock_write(i):
        with h5redislock.File(path, "r+", url=url) as f:
            f[DATASET][0:1] = i

    def driver_read(_):
        with h5py.File(path, "r", driver=h5redislock.DRIVER_NAME, url=url) as f:
            return f[DATASET][0:1]

    def driver_write(i):
        with h5py.File(path, "r+", driver=h5redislock.DRIVER_NAME, url=url) as f:
            f[DATASET][0:1] = i

    # The seed looked the node up in its own locked open (Node.__getitem__
    # checked that it is a Dataset), then read or wrote in another.
    def polling_lookup():
        with lock.shared(resource), h5py.File(path, "r") as f:
            if not isinstance(f[DATASET], h5py.Dataset):
                raise TypeError("%s is not a dataset" % DATASET)

    def polling_dataset_read(_):
        with lock.shared(resource), h5py.File(path, "r") as f:
            return f[DATASET][0:1]

    def polling_dataset_write(i):
        with lock.exclusive(resource), h5py.File(path, "r+") as f:
            f[DATASET][0:1] = i

    def polling_read(i):
        polling_lookup()
        return polling_dataset_read(i)

    def polling_write(i):
        polling_lookup()
        polling_dataset_write(i)

    def swmr_write(i):
        swmr_file[DATASET][0:1] = i

    def swmr_dataset_write(i):
        swmr_dataset[0:1] = i

    return {
        "plain/read": plain_read,
        "plain/write": plain_write,
        "h5pyswmr/read": lambda _: swmr_file[DATASET][0:1],
        "h5pyswmr/write": swmr_write,
        "h5pyswmr_dataset/read": lambda _: swmr_dataset[0:1],
        "h5pyswmr_dataset/write": swmr_dataset_write,
        "h5redislock/read": h5redislock_read,
        "h5redislock/write": h5redislock_write,
        "h5py_driver/read": driver_read,
        "h5py_driver/write": driver_write,
        "polling/read": polling_read,
        "polling/write": polling_write,
        "polling_dataset/read": polling_dataset_read,
        "polling_dataset/write": polling_dataset_write,
        "ping/redis-py": lambda _: client.ping(),
    }


def batch(access, first, count):
    """Runs `count` accesses; (each one's time in µs, the mean time and the
    process's mean CPU time per access, µs). `first` numbers the values
    written. The CPU time is all of the process's threads': h5py's, and the
    driver's lease keeper and watch threads."""
    times = []
    gc.collect()
    gc.disable()
    try:
        cpu, wall = time.process_time_ns(), time.perf_counter_ns()
        for i in range(first, first + count):
            start = time.perf_counter_ns()
            access(i)
            times.append((time.perf_counter_ns() - start) / 1e3)
        cpu, wall = time.process_time_ns() - cpu, time.perf_counter_ns() - wall
    finally:
        gc.enable()
    return times, wall / 1e3 / count, cpu / 1e3 / count


def commands_per_access(client, access, count):
    """Redis commands (INFO commandstats, scripts' included, INFO's own left
    out) per call of `access`."""
    def calls():
        stats = client.info("commandstats")
        return sum(v["calls"] for k, v in stats.items() if k != "cmdstat_info")
    before = calls()
    for i in range(count):
        access(i)
    return (calls() - before) / count


def profile(accesses, name, warmup, count):
    """Prints cProfile's view of `count` accesses of scheme `name`."""
    if name not in accesses:
        sys.exit("no scheme %r; the schemes: %s" % (name, " ".join(accesses)))
    access = accesses[name]
    for i in range(warmup):
        access(i)
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [access(i) for i in range(count)])
    print("%d accesses of %s; times in seconds, for all of them:" % (count, name))
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("H5REDISLOCK_BENCH_URL"),
                        help="the Redis server, unix:///path or redis://host:port "
                             "(default: $H5REDISLOCK_BENCH_URL)")
    parser.add_argument("--out", help="results directory: python.json goes there")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--per-round", type=int, default=20, help="accesses per scheme and round")
    parser.add_argument("--warmup", type=int, default=20, help="untimed accesses per scheme first")
    parser.add_argument("--seed", type=int, default=1, help="of the rounds' random orders")
    parser.add_argument("--profile", metavar="SCHEME",
                        help="instead: run SCHEME's accesses under cProfile and print where they spend "
                             "their time (Python functions, h5py's C calls among them)")
    args = parser.parse_args()
    if not args.url:
        parser.error("no Redis server: --url or $H5REDISLOCK_BENCH_URL")
    if args.out is None and args.profile is None:
        parser.error("--out is needed (where python.json goes)")

    client = redis.Redis.from_url(args.url, decode_responses=True)
    client.ping()  # a missing server fails here, with redis-py's message
    raw_ping = RawPing(args.url)
    scratch = tempfile.mkdtemp(prefix="h5rl-pybench-")
    try:
        path = os.path.join(scratch, "seed_access.h5")
        with h5py.File(path, "w") as f:
            f.create_dataset(DATASET, data=numpy.random.default_rng(0).random(SHAPE))
        accesses = schemes(path, args.url, client)
        accesses["ping/raw"] = raw_ping
        if args.profile is not None:
            return profile(accesses, args.profile, args.warmup, args.rounds * args.per_round)
        load_at_start = os.getloadavg()
        started = time.time()
        for access in accesses.values():
            for i in range(args.warmup):
                access(i)
        order = random.Random(args.seed)
        samples = {name: [] for name in accesses}
        means = {name: {"wall_us_per_access": [], "cpu_us_per_access": []} for name in accesses}
        for round_index in range(args.rounds):
            names = list(accesses)
            order.shuffle(names)
            for name in names:
                times, wall, cpu = batch(accesses[name], round_index * args.per_round, args.per_round)
                samples[name].append(times)
                means[name]["wall_us_per_access"].append(wall)
                means[name]["cpu_us_per_access"].append(cpu)
        commands = {name: commands_per_access(client, access, 20) for name, access in accesses.items()}
        result = {
            "meta": {
                "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                "elapsed_s": round(time.time() - started, 1),
                "load_average_at_start": load_at_start,
                "load_average_at_end": os.getloadavg(),
                "url": args.url.split("://")[0],
                "python": sys.version.split()[0],
                "h5py": h5py.__version__,
                "hdf5": h5py.version.hdf5_version,
                "numpy": numpy.__version__,
                "redis-py": redis.__version__,
                "redis": client.info("server")["redis_version"],
                "plugin": h5redislock.plugin().path,
                "dataset": "%dx%d float64, rows [0:1]" % SHAPE,
                "rounds": args.rounds,
                "per_round": args.per_round,
                "warmup": args.warmup,
            },
            "schemes": {name: {"us": samples[name], **means[name], "commands_per_access": commands[name]}
                        for name in accesses},
        }
    finally:
        raw_ping.close()
        shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "python.json"), "w") as f:
        json.dump(result, f)
    summarize.print_table(args.out, ["python"])


if __name__ == "__main__":
    main()
