"""libh5fd_redislock_dl.so, the plugin build for h5py's PyPI wheels: it links
no libhdf5 and serves the one that loaded it, so a process keeps one HDF5;
the linked build is refused where it would bring a second one; and an HDF5
whose ABI the plugin does not know is refused at load time, with a message.

The build directories come from CTest's environment: H5RL_PLUGIN_DIR (the
linked plugin), H5RL_DL_PLUGIN_DIR (this one), H5RL_FAKE_HDF5 (a stand-in
libhdf5 reporting version 1.12.3), H5RL_CLI (the h5redislock command). Run
from the installed wheel, this plugin and the command are the package's."""

import os
import struct
import subprocess
import sys

import pytest

import h5redislock
from h5redislock import _driver, _elf
from h5redislock.testing import child_env


# Installed from the wheel, the plugin and the command are in the package.
_PACKAGE = os.path.dirname(os.path.abspath(h5redislock.__file__))
_INSTALLED = {"H5RL_DL_PLUGIN_DIR": os.path.join(_PACKAGE, "plugins"),
              "H5RL_CLI": os.path.join(_PACKAGE, "bin", "h5redislock")}


def _dir(variable):
    """The build's file or directory that CTest names in `variable`, else
    the installed package's; skips the test where there is neither."""
    for path in (os.environ.get(variable), _INSTALLED.get(variable)):
        if path and os.path.exists(path):
            return path
    pytest.skip("%s is not set (CTest sets it) and the package has none" % variable)


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
    assert version.startswith("1.14.") or version.startswith("2.0.")  # h5py 3.16's wheel: 2.0.0
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
    assert redis_server.acquisitions(str(tmp_path / "b.h5")) == 1


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
fake.fake_hdf5_open.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
fake.fake_hdf5_last_error.restype = ctypes.c_char_p
cls = fake.fake_hdf5_load_plugin(sys.argv[2].encode())
print("class:", "none" if cls is None else ctypes.string_at(ctypes.cast(cls + 8, ctypes.POINTER(ctypes.c_char_p))[0]).decode())
print("opened:", fake.fake_hdf5_open(cls, b"/data/x.h5") if cls else "-")
print("pushed:", fake.fake_hdf5_last_error().decode())
dl = ctypes.CDLL(sys.argv[2])
dl.h5redislock_dl_error.restype = ctypes.c_char_p
print("bind:", dl.h5redislock_dl_bind(sys.argv[1].encode()))
"""


def test_unsupported_hdf5_abi_is_refused_at_load_time():
    """Refused, but with a driver class all the same, whose open fails with
    the reason: HDF5 2.x, left without the driver HDF5_DRIVER names, would
    crash at the first open instead (see the next test)."""
    fake = _dir("H5RL_FAKE_HDF5")
    plugin = os.path.join(_dir("H5RL_DL_PLUGIN_DIR"), "libh5fd_redislock_dl.so")
    result = subprocess.run([sys.executable, "-c", REFUSE, fake, plugin], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.strip().splitlines())
    assert lines["class"] == "redislock"  # the stand-in, by the driver's name
    assert lines["opened"] == "0"
    assert lines["bind"] == "-1"
    assert "cannot open '/data/x.h5' with the redislock driver" in lines["pushed"], lines["pushed"]
    for text in (lines["pushed"], result.stderr):
        assert "serves HDF5 1.14.x and 2.0.x to 2.2.x" in text and "is HDF5 1.12.3" in text, text
        assert "refusing to serve it" in text and os.path.basename(fake) in text


def _text_section_offset(data, symbol):
    """The file offset of the code of dynamic `symbol` in the ELF image `data`
    (64-bit little-endian), or None."""
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link
    sections = [struct.unpack_from("<IIQQQQI", data, shoff + i * shentsize) for i in range(shnum)]
    for _, sh_type, _, _, offset, size, link in sections:
        if sh_type != 11:  # SHT_DYNSYM
            continue
        strtab = sections[link][4]
        for pos in range(offset, offset + size, 24):
            name, _, _, _, value, _ = struct.unpack_from("<IBBHQQ", data, pos)
            end = data.index(b"\0", strtab + name)
            if data[strtab + name:end] == symbol.encode():
                for _, _, _, addr, sec_offset, sec_size, _ in sections:
                    if addr <= value < addr + sec_size and sec_offset:
                        return value - addr + sec_offset
    return None


def _immediate_stores(code):
    """(offset of the immediate, value) of every "movl $imm32, (reg)" and
    "movl $imm32, disp8(reg)" (x86-64 opcode c7 /0) that `code` may hold."""
    stores = []
    for i in range(len(code) - 8):
        if code[i] != 0xC7:
            continue
        mod, reg, rm = code[i + 1] >> 6, (code[i + 1] >> 3) & 7, code[i + 1] & 7
        if reg != 0 or mod > 1 or (mod == 0 and rm == 5):
            continue
        at = i + 2 + (rm == 4) + mod  # after ModRM, SIB and disp8
        stores.append((at, struct.unpack_from("<I", code, at)[0]))
    return stores


def _libhdf5_reporting(minor, lib, target):
    """Copies h5py's libhdf5 `lib` to `target`, changed to report the minor
    version `minor`: H5get_libversion stores the three numbers as immediate
    operands, one after the other; the middle one is changed."""
    data = bytearray(open(lib.path, "rb").read())
    start = _text_section_offset(data, "H5get_libversion")
    assert start is not None, "no H5get_libversion in " + lib.path
    stores = _immediate_stores(bytes(data[start:start + 512]))
    for first, second, third in zip(stores, stores[1:], stores[2:]):
        if (first[1], second[1], third[1]) == lib.version:
            data[start + second[0]:start + second[0] + 4] = struct.pack("<I", minor)
            open(target, "wb").write(data)
            return
    raise AssertionError("cannot find where H5get_libversion of %s stores %s" % (lib.path, lib.version))


def test_unsupported_hdf5_version_ends_in_an_error_not_a_crash(tmp_path, redis_server):
    """h5py's own libhdf5, changed to report a minor version the plugin has
    not verified, under HDF5_DRIVER: the plugin refuses it, HDF5 registers the
    stand-in class, and the first open fails with the reason. Before, the
    plugin failed HDF5's initialisation, and on HDF5 2.x the open crashed
    (SIGSEGV, exit status -11)."""
    lib = h5redislock.libhdf5()
    patched = tmp_path / os.path.basename(lib.path)
    _libhdf5_reporting(99, lib, str(patched))
    code = "import h5py\nh5py.File(%r, 'w')\n" % str(tmp_path / "v.h5")
    # Preloaded, the copy stands in for h5py's (same SONAME); its own
    # dependencies are beside the original.
    result = _run(code, LD_PRELOAD=str(patched), LD_LIBRARY_PATH=os.path.dirname(lib.path),
                  HDF5_PLUGIN_PATH=_dir("H5RL_DL_PLUGIN_DIR"), HDF5_DRIVER="redislock",
                  HDF5_DRIVER_CONFIG="url=" + redis_server.url)
    assert result.returncode == 1, (result.returncode, result.stderr[-3000:])
    last = result.stderr.strip().splitlines()[-1]
    assert "cannot open '%s' with the redislock driver" % (tmp_path / "v.h5") in last, last
    assert "is HDF5 %d.99." % lib.version[0] in last and "refusing to serve it" in last, last


def test_run_hands_each_hdf5_its_plugin(tmp_path, redis_server):
    """`h5redislock run` from the build tree puts the plugin for other HDF5
    libraries before the linked one: a wheel's h5py gets the former, h5py
    built on the project's HDF5 the latter (the former declines). With the
    linked plugin alone, a wheel's process got a second HDF5 library and its
    opens failed (netCDF4: PermissionError)."""
    cli = _dir("H5RL_CLI")
    code = ("import ctypes, h5py\n"
            "with h5py.File(%r, 'w') as f: f['x'] = 1\n"
            "maps = open('/proc/self/maps').read()\n"
            "dl = [l.split()[-1] for l in maps.splitlines() if l.endswith('_dl.so')]\n"
            "d = ctypes.CDLL(dl[0]) if dl else None\n"
            "if d: d.h5redislock_dl_library.restype = ctypes.c_char_p\n"
            "print(d.h5redislock_dl_library().decode() if d else '')\n" % str(tmp_path / "r.h5"))
    # The url only from `run` (HDF5_DRIVER_CONFIG), as the plugin reads it.
    result = subprocess.run([cli, "run", "--url", redis_server.url, "--", sys.executable, "-c", code],
                            env=child_env(HDF5_PLUGIN_PATH=None, H5REDISLOCK_URL=None), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    bound = result.stdout.strip()
    if _linked_plugin_matches_h5py():
        assert bound == "", "the plugin for other HDF5 libraries served the project's: " + bound
    else:
        assert bound and os.path.realpath(bound) == os.path.realpath(h5redislock.libhdf5().path), bound
    assert redis_server.acquisitions(str(tmp_path / "r.h5")) == 1
