"""The plugin, h5py's libhdf5, and the configuration string between them.

h5py has no call that sets a driver by name, and its extension modules load
libhdf5 privately (RTLD_LOCAL). So this module finds the libhdf5 that h5py
loaded (the library its `defs` extension module needs, located in
/proc/self/maps), opens it with ctypes (the same loaded copy), and calls
H5Pset_driver_by_name there, on the property list h5py is building.

The driver must be registered with that very library. If HDF5 did it already
(HDF5_DRIVER=redislock at import), that registration is used. Otherwise the
plugin is looked for, in this order:

  1. $H5REDISLOCK_PLUGIN, a file;
  2. h5redislock/plugins/ next to this package;
  3. each directory of $HDF5_PLUGIN_PATH;
  4. HDF5's default plugin directory, /usr/local/hdf5/lib/plugin.

and the first file that can serve h5py's libhdf5 is loaded and registered:

  libh5fd_redislock.so     linked against libhdf5: only if that is h5py's own
                           (same SONAME), as with h5py built from source
                           against the project's HDF5;
  libh5fd_redislock_dl.so  linked against no libhdf5: bound to h5py's with
                           h5redislock_dl_bind(), as for h5py's PyPI wheels,
                           which bundle a libhdf5 of their own.
"""

import ctypes
import fnmatch
import glob
import os
import threading

from . import _elf
from ._errors import PluginError

DRIVER_NAME = "redislock"
PLUGIN_GLOB = "libh5fd_redislock*.so"
DEFAULT_PLUGIN_DIR = "/usr/local/hdf5/lib/plugin"

# The keys of the configuration string (vfd/lock/config.h).
CONFIG_KEYS = frozenset((
    "url", "timeout", "connect_timeout", "lease", "linger", "retain", "prefix", "key", "inner",
    "journal", "durable", "replicas", "replica_timeout",
    "user", "password_file", "tls_ca", "tls_cert", "tls_key", "tls_server_name"))


def config_string(**config):
    """The driver's configuration string for `config` (None values left out,
    so the driver's defaults apply). Raises TypeError for an unknown key."""
    unknown = sorted(set(config) - CONFIG_KEYS)
    if unknown:
        raise TypeError("unknown redislock configuration key%s %s (known: %s)" % (
            "s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(sorted(CONFIG_KEYS))))
    parts = []
    for key, value in config.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float, os.PathLike)):
            raise TypeError("redislock configuration %s=%r: expected a string or a number" % (key, value))
        text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
        if ";" in text:
            raise ValueError("redislock configuration %s: a value cannot contain ';'" % key)
        parts.append("%s=%s" % (key, text))
    return ";".join(parts)


def _mapped_files():
    """The files mapped into this process, in order of first appearance."""
    seen = {}
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(None, 5)
            if len(fields) == 6 and fields[5].startswith("/"):
                seen.setdefault(fields[5].rstrip("\n"), None)
    return list(seen)


class HDF5:
    """h5py's libhdf5, opened with ctypes."""

    def __init__(self):
        import h5py.defs  # the extension module that links libhdf5
        self.path = self._find(h5py.defs.__file__)
        self.soname = _elf.dynamic_names(self.path)[0] or os.path.basename(self.path)
        self.lib = ctypes.CDLL(self.path)
        lib = self.lib
        lib.H5FDis_driver_registered_by_name.argtypes = [ctypes.c_char_p]
        lib.H5FDis_driver_registered_by_name.restype = ctypes.c_int
        lib.H5Pset_driver_by_name.argtypes = [ctypes.c_int64, ctypes.c_char_p, ctypes.c_char_p]
        lib.H5Pset_driver_by_name.restype = ctypes.c_int
        version = [ctypes.c_uint() for _ in range(3)]
        lib.H5get_libversion(*(ctypes.byref(v) for v in version))
        self.version = tuple(v.value for v in version)

    @staticmethod
    def _find(extension):
        wanted = {name for name in _elf.dynamic_names(extension)[1] if _elf.is_libhdf5(name)}
        mapped = [path for path in _mapped_files() if _elf.is_libhdf5(path)]
        for path in mapped:
            if os.path.basename(path) in wanted or _elf.dynamic_names(path)[0] in wanted:
                return path
        if len(mapped) == 1:
            return mapped[0]
        raise PluginError("cannot tell which libhdf5 h5py uses: %s needs %s; loaded: %s" % (
            extension, ", ".join(sorted(wanted)) or "none", ", ".join(mapped) or "none"))

    @property
    def version_text(self):
        return "%d.%d.%d" % self.version

    def registered(self):
        return self.lib.H5FDis_driver_registered_by_name(DRIVER_NAME.encode()) > 0

    def set_driver(self, fapl_id, config):
        return self.lib.H5Pset_driver_by_name(fapl_id, DRIVER_NAME.encode(), config.encode()) >= 0


def plugin_candidates():
    """Plugin files in search order (see the module's docstring)."""
    files = []
    explicit = os.environ.get("H5REDISLOCK_PLUGIN")
    if explicit:
        files.append(explicit)
    dirs = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugins")]
    dirs += [d for d in os.environ.get("HDF5_PLUGIN_PATH", "").split(os.pathsep) if d]
    dirs.append(DEFAULT_PLUGIN_DIR)
    for directory in dirs:
        files += sorted(glob.glob(os.path.join(directory, PLUGIN_GLOB)))
    return files


def plugin_kind(path, hdf5):
    """("linked" | "dynamic", None) if the plugin at `path` can serve `hdf5`,
    else (None, why not)."""
    if not os.path.isfile(path):
        return None, "%s: no such file" % path
    _, needed = _elf.dynamic_names(path)
    linked = [name for name in needed if _elf.is_libhdf5(name)]
    if not linked:
        return "dynamic", None
    if hdf5.soname in linked:
        return "linked", None
    return None, ("%s is linked against %s, but h5py uses %s (HDF5 %s): loading it would put two "
                  "HDF5 libraries in this process; use libh5fd_redislock_dl.so, the build for "
                  "h5py's wheels" % (path, linked[0], hdf5.path, hdf5.version_text))


class Plugin:
    """The plugin serving this process: its file, kind and how it was found."""

    def __init__(self, path, kind, origin):
        self.path, self.kind, self.origin = path, kind, origin
        self._lib = None
        self._revocations = None

    def revocations(self):
        """(fd, wanted, idle, hold): the plugin's revocation eventfd (-1:
        none); wanted(path) -> bool, whether another process wants the lock
        this process holds on the file; idle(path), which says this process
        keeps the file open only until someone wants it; hold(path) -> int,
        this process's number for its hold of the file's lock while nobody
        else wants it, else 0 (H5FDredislock.h, "Lock caching"). None where
        the plugin's file is unknown."""
        if self.path is None:
            return None
        if self._lib is None:
            lib = ctypes.CDLL(self.path)  # the copy already loaded: the same handle
            lib.H5FD_redislock_revocation_fd.restype = ctypes.c_int
            lib.H5FD_redislock_wanted.argtypes = [ctypes.c_char_p]
            lib.H5FD_redislock_wanted.restype = ctypes.c_int
            lib.H5FD_redislock_idle.argtypes = [ctypes.c_char_p]
            lib.H5FD_redislock_idle.restype = None
            lib.H5FD_redislock_hold.argtypes = [ctypes.c_char_p]
            lib.H5FD_redislock_hold.restype = ctypes.c_ulonglong
            self._lib = lib
            self._revocations = (lib.H5FD_redislock_revocation_fd(),
                                 lambda path: lib.H5FD_redislock_wanted(os.fsencode(path)) == 1,
                                 lambda path: lib.H5FD_redislock_idle(os.fsencode(path)),
                                 lambda path: lib.H5FD_redislock_hold(os.fsencode(path)))
        return self._revocations

    def __repr__(self):
        return "<redislock plugin %s (%s, %s)>" % (self.path, self.kind, self.origin)


_lock = threading.Lock()
_hdf5 = None
_plugin = None


def hdf5():
    """h5py's libhdf5 (found once)."""
    global _hdf5
    with _lock:
        if _hdf5 is None:
            _hdf5 = HDF5()
        return _hdf5


def _registered_by_hdf5(lib):
    """The plugin HDF5 registered itself (HDF5_DRIVER), checked for a second
    libhdf5 brought in with it."""
    mapped = [p for p in _mapped_files() if fnmatch.fnmatch(os.path.basename(p), PLUGIN_GLOB)]
    for path in mapped:
        kind, why = plugin_kind(path, lib)
        if kind is None:
            raise PluginError("HDF5 loaded the redislock plugin " + why)
    return Plugin(mapped[0] if mapped else None, "registered", "registered by HDF5 (HDF5_DRIVER)")


def _load(path, kind, lib):
    dll = ctypes.CDLL(path)
    if kind == "dynamic":
        dll.h5redislock_dl_bind.argtypes = [ctypes.c_char_p]
        dll.h5redislock_dl_error.restype = ctypes.c_char_p
        if dll.h5redislock_dl_bind(lib.path.encode()) != 0:
            raise PluginError("%s cannot serve h5py's libhdf5: %s" % (
                path, dll.h5redislock_dl_error().decode("utf-8", "replace")))
    dll.H5FD_redislock_init.restype = ctypes.c_int64
    if dll.H5FD_redislock_init() < 0:
        raise PluginError("%s: registering the redislock driver with %s (HDF5 %s) failed" % (
            path, lib.path, lib.version_text))


def plugin():
    """Makes sure the driver is registered with h5py's libhdf5 and returns
    the Plugin. Raises PluginError saying where it looked."""
    global _plugin
    lib = hdf5()
    with _lock:
        if _plugin is not None:
            return _plugin
        if lib.registered():
            _plugin = _registered_by_hdf5(lib)
            return _plugin
        skipped = []
        for path in plugin_candidates():
            kind, why = plugin_kind(path, lib)
            if kind is None:
                skipped.append(why)
                continue
            _load(path, kind, lib)
            _plugin = Plugin(path, kind, "found by h5redislock")
            return _plugin
        raise PluginError(not_found_message(skipped, lib))


def not_found_message(skipped=(), lib=None):
    where = ["$H5REDISLOCK_PLUGIN (%s)" % (os.environ.get("H5REDISLOCK_PLUGIN") or "unset"),
             os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugins"),
             "$HDF5_PLUGIN_PATH (%s)" % (os.environ.get("HDF5_PLUGIN_PATH") or "unset"),
             DEFAULT_PLUGIN_DIR]
    text = ("the redislock HDF5 driver plugin (%s) was not found; looked in: %s. Set HDF5_PLUGIN_PATH "
            "to the directory of libh5fd_redislock.so (build/vfd) or, for h5py installed from a "
            "PyPI wheel, of libh5fd_redislock_dl.so (build/python/wheel_plugin)" % (
                PLUGIN_GLOB, "; ".join(where)))
    if lib is not None:
        text += ". h5py uses %s (HDF5 %s)" % (lib.path, lib.version_text)
    if skipped:
        text += ". Skipped: " + "; ".join(skipped)
    return text


def set_fapl(plist, **config):
    """h5py's hook for driver="redislock": configures `plist` (a PropFAID)."""
    text = config_string(**config)
    plugin()
    if not hdf5().set_driver(plist.id, text):
        raise PluginError("H5Pset_driver_by_name(redislock, %r) failed in %s" % (text, hdf5().path))
