"""h5redislock.File, h5py.File(driver="redislock"), the errors the driver's
failures become, and finding the plugin."""

import multiprocessing
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import h5redislock
from h5redislock import h5py
from h5redislock.testing import child_env, examples_dir

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(h5redislock.__file__)))


def test_file_is_an_h5py_file(tmp_path, redis_server):
    path = str(tmp_path / "a.h5")
    # linger=0: released at the close, not cached (test_caching.py)
    with h5redislock.File(path, "w", url=redis_server.url, timeout=5, linger=0, track_order=True) as f:
        assert isinstance(f, h5py.File)
        f["x"] = np.arange(4)
        assert redis_server.lock_entries(path, "held") == 1
    assert redis_server.lock_entries(path, "held") == 0
    with h5redislock.File(path) as f:  # mode "r"; url from $H5REDISLOCK_URL
        assert f.mode == "r" and f["x"][:].tolist() == [0, 1, 2, 3]


def test_h5py_file_with_the_driver_by_name(tmp_path, redis_server):
    path = str(tmp_path / "b.h5")
    with h5py.File(path, "w", driver="redislock", url=redis_server.url, lease=5) as f:
        f.attrs["a"] = 1
        assert redis_server.lock_entries(path, "held") == 1
    with h5py.File(path, "r", driver="redislock") as f:
        assert f.attrs["a"] == 1


def test_configuration_is_checked(tmp_path, redis_server):
    with pytest.raises(TypeError, match="colour"):
        h5redislock.File(str(tmp_path / "c.h5"), "w", colour="blue")
    with pytest.raises(ValueError, match="';'"):
        h5redislock.File(str(tmp_path / "c.h5"), "w", prefix="a;b")
    assert h5redislock.config_string(url="unix:///s", timeout=0, key=None) == "url=unix:///s;timeout=0"


def _hold(path, mode, ready, release):
    with h5redislock.File(path, mode):
        ready.set()
        release.wait(60)


@pytest.fixture
def holder(tmp_path, redis_server):
    """Starts another process holding a file; yields (path, pid, start)."""
    ctx = multiprocessing.get_context("fork")
    path = str(tmp_path / "held.h5")
    with h5redislock.File(path, "w") as f:
        f["x"] = 1
    ready, release, procs = ctx.Event(), ctx.Event(), []

    def start(mode):
        p = ctx.Process(target=_hold, args=(path, mode, ready, release))
        p.start()
        procs.append(p)
        assert ready.wait(30)
        return p.pid

    yield path, start
    release.set()
    for p in procs:
        p.join(30)


def test_timeout_names_file_mode_and_holder(holder):
    path, start = holder
    pid = start("r")
    with h5redislock.File(path, "r", timeout=0) as f:  # readers share
        assert f["x"][()] == 1
    with pytest.raises(h5redislock.LockTimeout) as failure:
        h5redislock.File(path, "r+", timeout=0.5)
    message = str(failure.value)
    assert "timed out after" in message and "write lock" in message
    assert path in message and str(pid) in message
    assert isinstance(failure.value, TimeoutError) and isinstance(failure.value, OSError)
    assert failure.value.path == path
    with pytest.raises(h5redislock.LockTimeout, match="forbids waiting"):
        h5redislock.File(path, "a", timeout=0)


def test_unreachable_redis(tmp_path, redis_server):
    path = str(tmp_path / "d.h5")
    url = "unix://%s/none.sock" % tmp_path
    with pytest.raises(h5redislock.RedisUnavailable) as failure:
        h5redislock.File(path, "w", url=url, connect_timeout=1)
    assert path in str(failure.value) and "none.sock" in str(failure.value)
    assert "unreachable" in str(failure.value)
    assert isinstance(failure.value, ConnectionError)


def test_bad_value_names_the_key(tmp_path, redis_server):
    with pytest.raises(h5redislock.ConfigError, match="lease"):
        h5redislock.File(str(tmp_path / "e.h5"), "w", lease=-5)


def test_missing_file(tmp_path, redis_server):
    with pytest.raises(FileNotFoundError) as failure:
        h5redislock.File(str(tmp_path / "nothing.h5"), "r")
    assert "nothing.h5" in str(failure.value)


def test_not_an_hdf5_file_stays_h5py_error(tmp_path, redis_server):
    path = tmp_path / "text.h5"
    path.write_text("not HDF5")
    with pytest.raises(OSError) as failure:
        h5redislock.File(str(path), "r")
    assert not isinstance(failure.value, h5redislock.LockError)


def _python(code, env, cwd):
    """Runs `code` in a new interpreter, in `cwd` (so the working directory
    puts no package on sys.path)."""
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=str(cwd), capture_output=True, text=True,
                          timeout=120)


def test_plugin_not_found_says_so(tmp_path, redis_server):
    if os.path.isdir(os.path.join(PACKAGE_DIR, "h5redislock", "plugins")):
        pytest.skip("installed with its plugin beside the package: it cannot be missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _python("import h5redislock; h5redislock.File(%r, 'w')" % str(tmp_path / "f.h5"),
                     child_env(HDF5_PLUGIN_PATH=str(empty), PYTHONPATH=PACKAGE_DIR), tmp_path)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "PluginError" in last and "was not found" in last and str(empty) in last, result.stderr


def test_hdf5_driver_without_plugin_is_explained(tmp_path):
    """h5py's own reaction: "Not a datatype" (HDF5 1.14), or an error stack
    on import and a crash at the first File() (HDF5 2.0)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _python("import h5redislock",
                     child_env(HDF5_PLUGIN_PATH=str(empty), HDF5_DRIVER="redislock", PYTHONPATH=PACKAGE_DIR), tmp_path)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "PluginError" in last and "HDF5 could not set up HDF5_DRIVER=redislock" in last, result.stderr
    assert "was not found" in last and str(empty) in last, result.stderr


def test_plugin_next_to_the_package(tmp_path, redis_server):
    """Installed as h5redislock/plugins/<plugin>, no HDF5_PLUGIN_PATH needed."""
    plugin = h5redislock.plugin()
    if plugin.path is None:
        pytest.skip("the plugin was registered by HDF5 itself")
    site = tmp_path / "site"
    shutil.copytree(os.path.join(PACKAGE_DIR, "h5redislock"), site / "h5redislock",
                    ignore=shutil.ignore_patterns("tests", "__pycache__", "plugins", "bin"))
    (site / "h5redislock" / "plugins").mkdir()
    shutil.copy(plugin.path, site / "h5redislock" / "plugins")
    code = ("import h5redislock\n"
            "with h5redislock.File(%r, 'w') as f: f['x'] = 1\n"
            "print(h5redislock.plugin().path)\n" % str(tmp_path / "g.h5"))
    result = _python(code, child_env(HDF5_PLUGIN_PATH=None, PYTHONPATH=str(site)), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(site / "h5redislock" / "plugins" / os.path.basename(plugin.path))


def test_examples_run(tmp_path, redis_server):
    examples = examples_dir()
    env = child_env(PYTHONPATH=PACKAGE_DIR)
    result = subprocess.run([sys.executable, os.path.join(examples, "h5redislock_file.py"),
                             str(tmp_path / "t.h5"), redis_server.url], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Bern" in result.stdout and "the writer: LockTimeout" in result.stdout
    result = subprocess.run([sys.executable, os.path.join(examples, "seed_readme.py")], env=env,
                            cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "(500, 700) float64" in result.stdout
