"""h5py through the redislock HDF5 driver: a readers-writers lock in Redis
held for as long as a file is open (shared for mode "r", exclusive
otherwise), so any number of processes, on any number of hosts, can read and
write the same HDF5 files safely.

Three ways to use it from Python:

    import h5redislock
    with h5redislock.File("data.h5", "a", url="unix:///run/redis.sock", timeout=30) as f:
        f["x"] = 1                          # an h5py.File, opened through the driver

    import h5py, h5redislock                # importing registers the driver with h5py
    with h5py.File("data.h5", "r", driver="redislock", url="redis://db1:6379/0") as f:
        ...

    # an unmodified script (h5py, netCDF4, PyTables), under the command:
    #   h5redislock run -- python script.py
    # or with the environment naming the driver:
    #   HDF5_PLUGIN_PATH=$(h5redislock plugin-dir) HDF5_DRIVER=redislock \
    #   HDF5_DRIVER_CONFIG='url=unix:///run/redis.sock;timeout=30' python script.py

The driver's keys (url, timeout, lease, prefix, key, ...; see the project's
README) are keyword arguments of File() and of h5py.File(driver="redislock");
every other keyword goes to h5py.File. Without url=, the driver uses
$H5REDISLOCK_URL, else redis://127.0.0.1:6379/0.

The plugin is found as h5redislock._driver describes: $H5REDISLOCK_PLUGIN,
a plugins/ directory next to this package (where the wheel installs it),
$HDF5_PLUGIN_PATH. With h5py built against the project's HDF5 that may be
libh5fd_redislock.so; with h5py from a PyPI wheel (its own libhdf5 inside) it
is libh5fd_redislock_dl.so, which binds to the libhdf5 that h5py loaded.
"""

import os

from ._errors import ConfigError, LockError, LockTimeout, PluginError, RedisUnavailable
from . import _driver, _errors

__all__ = ["File", "DRIVER_NAME", "LockError", "LockTimeout", "RedisUnavailable", "ConfigError",
           "PluginError", "plugin", "libhdf5", "config_string", "register"]
__version__ = "0.1.0"

DRIVER_NAME = _driver.DRIVER_NAME
config_string = _driver.config_string


def _import_h5py():
    # With HDF5_DRIVER set, HDF5 sets the driver up while h5py initialises it.
    # When it cannot, h5py 3 on HDF5 1.14 fails to import with only "Not a
    # datatype"; on HDF5 2.0 (h5py's wheels) it imports, prints HDF5's error
    # stack, and crashes at the first File(). Say what happened instead.
    driver = os.environ.get("HDF5_DRIVER")
    try:
        import h5py
    except Exception as exc:
        if driver and "Not a datatype" in str(exc):
            raise PluginError(_driver_env_message(driver, "importing h5py failed with %r" % str(exc))) from exc
        raise
    if driver == DRIVER_NAME:
        if not _driver.hdf5().registered():
            raise PluginError(_driver_env_message(driver, "HDF5 did not register it when h5py initialised it"))
        _driver.plugin()  # checks that HDF5 loaded a build for its own libhdf5
    return h5py


def _driver_env_message(driver, what):
    return ("HDF5 could not set up HDF5_DRIVER=%s: %s. Is the plugin in HDF5_PLUGIN_PATH, and the build "
            "for this h5py's HDF5? %s" % (driver, what, _driver.not_found_message()))


h5py = _import_h5py()


def register():
    """Registers the driver with h5py, so h5py.File(..., driver="redislock",
    url=...) works. Done on import; registering again is harmless."""
    h5py.register_driver(DRIVER_NAME, _driver.set_fapl)


def plugin():
    """The plugin serving this process (registering it with h5py's libhdf5
    if HDF5 has not); raises PluginError if there is none that can."""
    return _driver.plugin()


def libhdf5():
    """h5py's libhdf5: .path, .version (a tuple), .lib (ctypes)."""
    return _driver.hdf5()


def File(name, mode="r", url=None, timeout=None, **kwargs):
    """An h5py.File opened through the redislock driver.

    `url` and `timeout` (seconds to wait for the lock; 0: fail at once; -1:
    forever), and any other key of the driver's configuration (lease,
    prefix, key, connect_timeout, ...), configure the driver; every other
    keyword argument goes to h5py.File. When the driver cannot open the file
    it raises LockTimeout, RedisUnavailable, ConfigError or LockError, whose
    message names the file and the cause.

    Mode "a" opens the file read-write, else creates it, as in h5py, but
    waits for the lock once: see _open_or_create.
    """
    if "driver" in kwargs:
        raise TypeError("h5redislock.File always uses the redislock driver; use h5py.File for others")
    config = {key: kwargs.pop(key) for key in list(kwargs) if key in _driver.CONFIG_KEYS}

    def open_as(file_mode):
        try:
            return h5py.File(name, file_mode, driver=DRIVER_NAME, url=url, timeout=timeout, **config, **kwargs)
        except OSError as exc:
            error = _errors.from_h5py(exc, os.fspath(name) if isinstance(name, (str, bytes, os.PathLike)) else name)
            if error is None:
                raise
            raise error from None

    return _open_or_create(open_as, name) if mode == "a" else open_as(mode)


def _open_or_create(open_as, name):
    """Mode "a": "r+", and "x" only where the file does not exist.

    h5py does "a" itself only for its own drivers. For any other it takes
    every failure of the read-write open for a missing file and creates the
    file exclusively instead: a lock timeout then waits for the lock a second
    time, and a lock that came free meanwhile ends in the create's error
    ("unable to open ... with the inner driver 'sec2'": the file exists)
    instead of the file. Here only a missing file is created, and a file that
    another process created in between is opened."""
    try:
        return open_as("r+")
    except FileNotFoundError:
        pass
    try:
        return open_as("x")
    except LockError:
        raise
    except OSError:
        if not os.path.exists(os.fspath(name)):
            raise
    return open_as("r+")


register()
