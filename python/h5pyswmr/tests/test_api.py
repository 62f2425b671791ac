"""The seed's API test (attributes, items, resize), its README example, and
the rest of the API the seed offered, on the redislock driver."""

import multiprocessing
import os

import numpy as np
import pytest

import h5pyswmr
import h5redislock
from h5pyswmr import Dataset, File, Group


@pytest.fixture
def filename(tmp_path, redis_server):
    """As the seed's setUp: a file with a 30x30 dataset /bla."""
    name = str(tmp_path / "test_attrs.h5")
    with File(name, "w") as f:
        f.create_dataset(name="/bla", shape=(30, 30))
    return name


def test_attrs(filename):
    attrs = {"bla": 3, "blu": "asasdfsa"}
    with File(filename, "w") as f:
        dst = f.create_dataset(name="/testgrp/dataset", shape=(30, 30))
        for key, value in attrs.items():
            dst.attrs[key] = value

    with File(filename, "r") as f:
        dst = f["/testgrp/dataset"]
        assert "bla" in dst.attrs
        assert dst.attrs["bla"] == attrs["bla"]
        for key in dst.attrs:
            assert key in attrs

    # same test with a group
    with File(filename, "a") as f:
        grp = f["/testgrp"]
        grp.attrs["bla"] = 3
        grp.create_dataset(name="dataset2", shape=(30, 30))
        assert "bla" in grp.attrs
        assert grp.attrs.keys() == ["bla"]
        assert grp.attrs["bla"] == 3


def test_items(filename):
    with File(filename, "a") as f:
        f.create_group("/a/b/g1")
        f.create_group("/a/b/g2")
        f.create_group("/a/b/g3")
        f.create_dataset(name="a/b/g1/dst1", shape=(30, 30))
        f.create_dataset(name="/a/b/g1/dst2", shape=(30, 30))
        f.create_dataset(name="/a/b/g2/dst1", shape=(30, 30))

        items = dict(f.items())
        assert sorted(items) == ["a", "bla"]
        assert isinstance(items["a"], Group) and isinstance(items["bla"], Dataset)
        assert sorted(name for name, _ in f["/a/b/g1"].items()) == ["dst1", "dst2"]


def test_resize(filename):
    with File(filename, "a") as f:
        start_size = (10, 20)
        f.create_dataset(name="resizable", shape=start_size, maxshape=(50, 20))
        dset = f["resizable"]
        new_size = (40, 20)
        dset.resize(new_size)
        assert dset.shape == new_size


def test_readme_example(tmp_path, redis_server, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # replaces 'from h5py import File'
    from h5pyswmr import File

    f = File('test.h5', 'w')
    # create a dataset containing a 500x700 random array
    f.create_dataset(name='/mygroup/mydataset', data=np.random.random((500, 700)))
    # read data back into memory
    data = f['/mygroup/mydataset'][:]
    # no need to explicitely close the file (files are opened/closed when accessed)

    assert data.shape == (500, 700)
    with h5redislock.File(str(tmp_path / "test.h5"), "r") as raw:
        np.testing.assert_array_equal(raw["/mygroup/mydataset"][:], data)


def test_groups(filename):
    f = File(filename, "a")
    g = f.create_group("g")
    assert isinstance(g, Group) and g.path == "/g"
    assert f.require_group("g").path == "/g"
    assert f.require_group("/g/h").path == "/g/h"
    assert "g" in f and "h" in g and "nothing" not in f
    assert sorted(f.keys()) == ["bla", "g"]
    assert sorted(f) == ["bla", "g"] and len(f) == 2
    assert f["g"]["h"].path == "/g/h" and f["/g/h"].path == "/g/h"
    with pytest.raises(KeyError):
        f["nothing"]
    del f["g"]
    assert "g" not in f


def test_datasets(filename):
    f = File(filename, "a")
    dst = f.create_dataset("ints", data=np.arange(12).reshape(3, 4))
    assert dst.shape == (3, 4) and dst.dtype == np.int64 and len(dst) == 3
    dst[1, :] = 7
    assert dst[1].tolist() == [7, 7, 7, 7] and dst[0, 1] == 1
    with pytest.raises(ValueError):
        f.create_dataset("ints", shape=(2,))
    replaced = f.create_dataset("ints", shape=(2,), dtype="f4", overwrite=True)
    assert replaced.shape == (2,) and replaced.dtype == np.float32
    same = f.require_dataset("ints", shape=(2,), dtype="f4")
    assert same.path == "/ints"
    made = f.require_dataset("new", shape=(5,), dtype="i2")
    assert made.shape == (5,)


def test_attribute_manager(filename):
    attrs = File(filename, "r")["bla"].attrs
    assert attrs.get("missing") is None and attrs.get("missing", 5) == 5
    attrs["a"] = 1
    attrs["b"] = "two"
    assert sorted(attrs) == ["a", "b"] and attrs.get("b") == "two"
    del attrs["a"]
    assert attrs.keys() == ["b"] and "a" not in attrs


def _open_for_writing(filename, queue):
    try:
        with h5redislock.File(filename, "r+", timeout=0) as f:
            f.attrs["child"] = os.getpid()
        queue.put("ok")
    except Exception as e:  # noqa: BLE001 - reported to the parent
        queue.put("%s: %s" % (type(e).__name__, e))


def test_objects_do_not_hold_the_file(filename):
    """Any number of processes can hold File objects: none keeps the file
    (and so the lock) between accesses."""
    f = File(filename, "r")
    dst = f["bla"]
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_open_for_writing, args=(filename, queue))
    child.start()
    assert queue.get(timeout=30) == "ok"
    child.join()
    assert dst.shape == (30, 30) and "child" in f.attrs


def test_import_as_h5py(filename):
    import h5pyswmr as h5py
    f = h5py.File(filename, "r")
    assert isinstance(f["bla"], h5py.Dataset) and f["bla"].shape == (30, 30)


def test_configure(filename, tmp_path):
    try:
        h5pyswmr.configure(url="unix://%s/none.sock" % tmp_path, connect_timeout=1)
        with pytest.raises(h5redislock.RedisUnavailable) as failure:
            File(filename, "r")
        assert filename in str(failure.value) and "none.sock" in str(failure.value)
    finally:
        h5pyswmr.configure(url=None, connect_timeout=None)
    assert File(filename, "r")["bla"].shape == (30, 30)
    with pytest.raises(TypeError):
        h5pyswmr.configure(colour="blue")
