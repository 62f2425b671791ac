"""libh5fd_redislock_dl.so, the plugin build for h5py's PyPI wheels: it links
no libhdf5 and serves the one that loaded it, so a process keeps one HDF5;
the linked build is refused where it would bring a second one; and an HDF5
whose ABI the plugin does not know is refused at load time, with a message.

The build directories come from CTest's environment: H5RL_PLUGIN_DIR (the
linked plugin), H5RL_DL_PLUGIN_DIR (this one), H5RL_FAKE_HDF5 (a stand-in
libhdf5 reporting version 1.12.3)."""

import os
import subprocess
import sys

import pytest

import h5redislock
from h5redislock import _driver, _elf
from h5redislock.testing import child_env


def _dir(variable):
    path = os.environ.get(variable)
    if not path or not os.path.isdir(os.path.dirname(path) if path.endswith(".so") else path):
        pytest.skip("%s is not set (CTest sets it)" % variable)
    return path


def _run(code, **env_changes):
    env = child_env(HDF5_PLUGIN_PATH=None)
    env.update(env_changes)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def _libhdf5s(maps_text):
    return sorted({line.split()[-1] for line in maps_text.splitlines()
                   if len(line.split()) == 6 and _elf.is_libhdf5(line.split()[-1])})


ONE_HDF5 = """
import h5redislock, ctypes
with h5redislock.File(%r, "w") as f:
    f["x"] = 1
    maps = open("/proc/self/maps").read()
plugin = h5redislock.plugin()
dl = ctypes.CDLL(plugin.path)
dl.h5redislock_dl_library.restype = ctypes.c_char_p
print(plugin.kind)
print(dl.h5redislock_dl_library().decode())
print(h5redislock.libhdf5().path)
print("%%d.%%d.%%d" %% h5redislock.libhdf5().version)
print("\\n".join(sorted({l.split()[-1] for l in maps.splitlines() if "libhdf5" in l})))
"""


def test_dl_plugin_serves_h5pys_own_libhdf5(tmp_path, redis_server):
    """Also with h5py built against the project's HDF5 1.14: the build for the
    wheels binds to whatever libhdf5 h5py has."""
    result = _run(ONE_HDF5 % str(tmp_path / "a.h5"), HDF5_PLUGIN_PATH=_dir("H5RL_DL_PLUGIN_DIR"))
    assert result.returncode == 0, result.stderr
    kind, bound, h5py_lib, version, *mapped = result.stdout.split("\n")
    assert kind == "dynamic"
    assert os.path.realpath(bound) == os.path.realpath(h5py_lib)
    assert version.startswith("1.14.") or version.startswith("2.0.")
    assert len([m for m in mapped if _elf.is_libhdf5(m)]) == 1, mapped


def test_unmodified_h5py_through_hdf5_plugin_loader(tmp_path, redis_server):
    """HDF5_DRIVER: HDF5 itself loads the plugin; it binds to its caller."""
    code = ("import h5py\n"
            "with h5py.File(%r, 'w') as f: f['x'] = 1\n"
            "print(open('/proc/self/maps').read())\n" % str(tmp_path / "b.h5"))
    result = _run(code, HDF5_PLUGIN_PATH=_dir("H5RL_DL_PLUGIN_DIR"), HDF5_DRIVER="redislock",
                  HDF5_DRIVER_CONFIG="url=" + redis_server.url)
    assert result.returncode == 0, result.stderr
    assert len(_libhdf5s(result.stdout)) == 1
    assert "libh5fd_redislock_dl.so" in result.stdout
    state = "h5redislock:{%s}:state" % os.path.realpath(str(tmp_path / "b.h5"))
    assert redis_server.command("HGET", state, "acquired") == "1"


def _linked_plugin_matches_h5py():
    linked = os.path.join(_dir("H5RL_PLUGIN_DIR"), "libh5fd_redislock.so")
    return _driver.plugin_kind(linked, h5redislock.libhdf5())[0] == "linked"


def test_linked_plugin_refused_for_another_libhdf5(tmp_path, redis_server):
    if _linked_plugin_matches_h5py():
        pytest.skip("h5py here uses the project's libhdf5: the linked plugin is the right one")
    linked = os.path.join(_dir("H5RL_PLUGIN_DIR"), "libh5fd_redislock.so")
    result = _run("import h5redislock; h5redislock.File(%r, 'w')" % str(tmp_path / "c.h5"),
                  H5REDISLOCK_PLUGIN=linked, HDF5_PLUGIN_PATH=str(tmp_path))
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "PluginError" in last and "two HDF5 libraries" in last and "libh5fd_redislock_dl.so" in last, last

    # The same plugin loaded by HDF5 itself (HDF5_DRIVER) is caught too.
    result = _run("import h5redislock; h5redislock.plugin()", HDF5_PLUGIN_PATH=os.path.dirname(linked),
                  HDF5_DRIVER="redislock", HDF5_DRIVER_CONFIG="url=" + redis_server.url)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "PluginError" in last and "HDF5 loaded the redislock plugin" in last, last


def test_linked_plugin_chosen_for_h5pys_own_libhdf5(tmp_path, redis_server):
    if not _linked_plugin_matches_h5py():
        pytest.skip("h5py here has its own libhdf5")
    dl_dir, linked_dir = _dir("H5RL_DL_PLUGIN_DIR"), _dir("H5RL_PLUGIN_DIR")
    result = _run("import h5redislock; print(h5redislock.plugin().kind)",
                  HDF5_PLUGIN_PATH=os.pathsep.join([linked_dir, dl_dir]))
    assert result.returncode == 0 and result.stdout.strip() == "linked", result.stderr


REFUSE = """
import ctypes, sys
fake = ctypes.CDLL(sys.argv[1])
fake.fake_hdf5_load_plugin.restype = ctypes.c_void_p
fake.fake_hdf5_load_plugin.argtypes = [ctypes.c_char_p]
fake.fake_hdf5_last_error.restype = ctypes.c_char_p
info = fake.fake_hdf5_load_plugin(sys.argv[2].encode())
print("info:", info)
print("pushed:", fake.fake_hdf5_last_error().decode())
dl = ctypes.CDLL(sys.argv[2])
dl.h5redislock_dl_error.restype = ctypes.c_char_p
print("bind:", dl.h5redislock_dl_bind(sys.argv[1].encode()))
"""


def test_unsupported_hdf5_abi_is_refused_at_load_time():
    fake = _dir("H5RL_FAKE_HDF5")
    plugin = os.path.join(_dir("H5RL_DL_PLUGIN_DIR"), "libh5fd_redislock_dl.so")
    result = subprocess.run([sys.executable, "-c", REFUSE, fake, plugin], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.strip().splitlines())
    assert lines["info"] == "None"  # H5PLget_plugin_info returned NULL
    assert lines["bind"] == "-1"
    for text in (lines["pushed"], result.stderr):
        assert "serves HDF5 1.14.x and 2.0.x" in text and "is HDF5 1.12.3" in text, text
        assert "refusing to load" in text and os.path.basename(fake) in text
