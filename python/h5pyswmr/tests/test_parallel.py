"""The seed's parallel test: many processes share one File object (forked)
on a file of large float32 datasets; every 4th writes dst[0:50] = i into its
dataset while the others read theirs; the parent then verifies every write.

Scaled from the seed's 40 workers on 8000x1500 datasets (1.9 GB) to 24 on
1000x1000 (96 MB), so it runs in seconds. Added: each reader also reads the
first rows of a writer's dataset and checks they are all old or all new.
"""

import multiprocessing
import random
import time

import numpy as np
import pytest

from h5pyswmr import File
from h5redislock.testing import wait_all

NO_WORKERS = 24
SHAPE = (1000, 1000)


def worker_read(i, hdf5file):
    random.seed(i)
    time.sleep(random.random())
    data = hdf5file["/testgrp/dataset{}".format(i)][:]
    assert data.shape == SHAPE
    j = i - i % 4  # a writer's dataset
    block = hdf5file["/testgrp/dataset{}".format(j)][0:50, ]
    assert np.all(block == -1) or np.all(block == j), "torn read of dataset %d" % j


def worker_write(i, hdf5file):
    random.seed(i)
    time.sleep(random.random())
    dst = hdf5file["/testgrp/dataset{}".format(i)]
    dst[0:50, ] = i


@pytest.fixture
def parallel_file(tmp_path, redis_server):
    f = File(str(tmp_path / "paralleltest827348723.h5"), "w")
    rng = np.random.default_rng(0)
    for i in range(NO_WORKERS):
        data = rng.random(SHAPE, dtype=np.float32)
        data[0:50] = -1
        f.create_dataset(name="/testgrp/dataset{}".format(i), data=data)
    return f


def test_parallel(parallel_file):
    f = parallel_file
    ctx = multiprocessing.get_context("fork")
    jobs, writers = [], []
    for i in range(NO_WORKERS):
        if i % 4 == 0:
            p = ctx.Process(target=worker_write, args=(i, f))
            writers.append(i)
        else:
            p = ctx.Process(target=worker_read, args=(i, f))
        jobs.append(p)
        p.start()
    wait_all(jobs, timeout=120)
    assert [p.exitcode for p in jobs] == [0] * NO_WORKERS

    # then test if data was written correctly
    for i in writers:
        dst = f["/testgrp/dataset{}".format(i)]
        assert np.all(dst[0:50, ] == i)
        assert np.all(dst[50:51, ] != i)
