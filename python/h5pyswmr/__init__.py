"""h5pySWMR's API on the redislock driver: parallel reading, serialized
writing of HDF5 files from many processes.

A drop-in for the seed project (github.com/meteotest/h5pySWMR): its README's
example runs unchanged, and `import h5pyswmr as h5py` keeps working for the
subset it offers:

    from h5pyswmr import File
    f = File('test.h5', 'w')
    f.create_dataset(name='/mygroup/mydataset', data=np.random.random((500, 700)))
    data = f['/mygroup/mydataset'][:]

As in the seed, File, Group, Dataset and their .attrs hold a path, not an
open file: every access opens the file through the redislock driver with the
mode it needs (reads "r", hence the shared lock; writes "r+", hence the
exclusive lock). So any number of processes can hold File objects at once,
forked children included, and a process that dies holding the lock no longer
deadlocks the others (the driver's leases and dead-holder detection replace
the seed's Redis counters).

Unlike the seed, h5pyswmr caches: the driver keeps each lock for `linger`
seconds after the file's last close (LINGER unless configure(linger=...)
says otherwise; 0 turns caching off), and a file read stays open after the
access while no other process wants to write it and it was used within the
linger (h5pyswmr/_kept.py). A write still opens, writes and closes: an
acknowledged write is committed, and a later SIGKILL never rolls it back.

Redis: configure(url=..., timeout=..., any other key of the driver's
configuration) at run time; otherwise the environment ($H5REDISLOCK_URL),
otherwise redis://127.0.0.1:6379/0.
"""

import contextlib
import os
import posixpath

import h5redislock
from h5redislock import _driver, h5py

from ._kept import KeptFiles
from ._known import KnownNodes

__all__ = ["File", "Group", "Dataset", "Node", "AttributeManager", "configure", "test"]
__version__ = "0.4.0"

_config = {}

# The driver's linger= that h5pyswmr gives unless configured: a second keeps
# the lock (and a read file open) across the gaps of an access loop, and costs
# a waiting process nothing, as the lock is let go as soon as one asks.
LINGER = 1.0

_kept = KeptFiles()
os.register_at_fork(after_in_child=_kept.after_fork_in_child)
_known = KnownNodes()  # a child's holds are its own: it learns anew
os.register_at_fork(after_in_child=_known.forget)


def configure(**config):
    """Sets the driver configuration for every later access: url=, timeout=,
    lease=, prefix=, ... (None removes a key, so its default applies).
    Returns the configuration now in force."""
    h5redislock.config_string(**config)  # rejects unknown keys now, not at the next access
    _kept.close_all()  # opened with the configuration before
    for key, value in config.items():
        if value is None:
            _config.pop(key, None)
        else:
            _config[key] = value
    return dict(_config)


def _linger():
    return float(_config.get("linger", LINGER))


_plugin_revocations = []  # the plugin's (fd, wanted, idle), once asked


def _revocations():
    if not _plugin_revocations:
        _plugin_revocations.append(_driver.plugin().revocations())
    return _plugin_revocations[0]


def _hold(path):
    """This process's number for its hold of the lock of `path` (see
    _known.py); 0 without one, or without caching."""
    revocations = _revocations() if _linger() > 0 else None
    return revocations[3](path) if revocations is not None else 0


@contextlib.contextmanager
def _open(path, mode, **kwargs):
    """The file at `path`, open in `mode` for one access: a kept read file
    where there is one (see the module's docstring), else opened now."""
    path = os.path.abspath(path)
    linger = _linger()
    revocations = _revocations() if mode == "r" and not kwargs and linger > 0 else None
    if revocations is None:
        _kept.close(path)  # a process that reads the file cannot write it
        with h5redislock.File(path, mode, **dict(_config, linger=linger), **kwargs) as f:
            yield f
        return
    with _kept.lock:
        f = _kept.take(path, revocations)
        if f is None:
            f = h5redislock.File(path, "r", **dict(_config, linger=linger))
        try:
            yield f
        except BaseException:
            _kept.close(path)
            f.close()
            raise
        _kept.keep(path, f, linger, revocations)


@contextlib.contextmanager
def _restructure(path, mode="r+", **kwargs):
    """_open for an access that may change the file's structure: what was
    learnt of its nodes goes (_known.py)."""
    path = os.path.abspath(path)
    try:
        with _open(path, mode, **kwargs) as f:
            yield f
    finally:
        _known.forget(path)


class Node(object):
    """Wrapper of h5py's objects: a file name and a path in the file."""

    def __init__(self, file, path):
        self.file = file
        self._path = path
        self.attrs = AttributeManager(self.file, self._path)

    @property
    def path(self):
        return self._path

    @property
    def name(self):
        return self._path

    def _resolve(self, key):
        return key if key.startswith("/") else posixpath.join(self._path, key)

    def __getitem__(self, key):
        """The Group or Dataset at `key` (relative to this node, or absolute).
        Raises KeyError if there is none. Looked up once per hold of the
        file's lock (_known.py)."""
        name = self._resolve(key)
        cls = _known.get(self.file, name, _hold(self.file))
        if cls is not None:
            return cls(self.file, name)
        with _open(self.file, "r") as f:
            node = self._wrap(_kept.lookup(f, name))
            _known.put(self.file, name, type(node), _hold(self.file))  # the hold `f` is open under
        return node

    def _wrap(self, node):
        if isinstance(node, h5py.Group):
            return Group(self.file, node.name)
        if isinstance(node, h5py.Dataset):
            return Dataset(self.file, node.name)
        raise TypeError("h5pyswmr does not wrap %r" % type(node).__name__)


class Group(Node):
    """Wrapper of h5py.Group."""

    def __repr__(self):
        return "<HDF5 Group (path={0})>".format(self.path)

    def create_group(self, name):
        with _restructure(self.file) as f:
            return Group(self.file, f[self.path].create_group(name).name)

    def require_group(self, name):
        with _restructure(self.file) as f:
            return Group(self.file, f[self.path].require_group(name).name)

    def create_dataset(self, name=None, shape=None, dtype=None, data=None, overwrite=False, **kwargs):
        """h5py's create_dataset; with overwrite=True an existing object of
        that name is deleted first."""
        if name is None:
            raise TypeError("h5pyswmr needs a dataset name")
        if dtype is None and data is None:
            dtype = "f4"  # h5py's default, which it wants named now
        with _restructure(self.file) as f:
            group = f[self.path]
            if overwrite and name in group:
                del group[name]
            dst = group.create_dataset(name, shape=shape, dtype=dtype, data=data, **kwargs)
            return Dataset(self.file, dst.name)

    def require_dataset(self, name=None, shape=None, dtype=None, exact=False, **kwargs):
        with _restructure(self.file) as f:
            dst = f[self.path].require_dataset(name, shape, dtype, exact=exact, **kwargs)
            return Dataset(self.file, dst.name)

    def keys(self):
        """The member names, as a list (the file is closed when it returns)."""
        with _open(self.file, "r") as f:
            return list(_kept.lookup(f, self.path).keys())

    def items(self):
        """A list of (name, Group or Dataset) pairs; None for broken links."""
        with _open(self.file, "r") as f:
            group = _kept.lookup(f, self.path)
            result = []
            for name in group:
                node = group.get(name)
                result.append((name, None if node is None else self._wrap(node)))
            return result

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        with _open(self.file, "r") as f:
            return len(_kept.lookup(f, self.path))

    def __contains__(self, key):
        with _open(self.file, "r") as f:
            return key in _kept.lookup(f, self.path)

    def __delitem__(self, key):
        with _restructure(self.file) as f:
            del f[self.path][key]


class File(Group):
    """Wrapper of h5py.File: takes h5py.File's arguments, opens the file once
    with them (creating or truncating it as `mode` says) and closes it."""

    def __init__(self, name, mode="r", **kwargs):
        with (_open if mode == "r" else _restructure)(name, mode, **kwargs) as f:
            # Absolute: later accesses must not depend on the working directory.
            Group.__init__(self, os.path.abspath(f.filename), "/")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, tb):
        pass

    def close(self):
        """Closes this process's kept read file of this name, if any (it is
        closed anyway once another process wants to write, or it is idle for
        the linger)."""
        _kept.close(self.file)

    def __repr__(self):
        return "<HDF5 File ({0})>".format(self.file)


class Dataset(Node):
    """Wrapper of h5py.Dataset."""

    def __repr__(self):
        return "<HDF5 Dataset (path={0})>".format(self.path)

    def __getitem__(self, key):
        with _open(self.file, "r") as f:
            return _kept.lookup(f, self.path)[key]

    def __setitem__(self, key, value):
        with _open(self.file, "r+") as f:
            f[self.path][key] = value

    def resize(self, size, axis=None):
        with _open(self.file, "r+") as f:
            f[self.path].resize(size, axis)

    def __len__(self):
        with _open(self.file, "r") as f:
            return len(_kept.lookup(f, self.path))

    @property
    def shape(self):
        with _open(self.file, "r") as f:
            return _kept.lookup(f, self.path).shape

    @property
    def dtype(self):
        with _open(self.file, "r") as f:
            return _kept.lookup(f, self.path).dtype


class AttributeManager(object):
    """The .attrs of a node, with h5py's interface."""

    def __init__(self, h5file, path):
        self.file = h5file
        self.path = path

    def __iter__(self):
        # A generator over a list read with the file open: the file is closed
        # while the caller iterates.
        return iter(self.keys())

    def keys(self):
        with _open(self.file, "r") as f:
            return list(_kept.lookup(f, self.path).attrs.keys())

    def __contains__(self, key):
        with _open(self.file, "r") as f:
            return key in _kept.lookup(f, self.path).attrs

    def __getitem__(self, key):
        with _open(self.file, "r") as f:
            return _kept.lookup(f, self.path).attrs[key]

    def get(self, key, default=None):
        with _open(self.file, "r") as f:
            return _kept.lookup(f, self.path).attrs.get(key, default)

    def __setitem__(self, key, value):
        with _open(self.file, "r+") as f:
            f[self.path].attrs[key] = value

    def __delitem__(self, key):
        with _open(self.file, "r+") as f:
            del f[self.path].attrs[key]


def test(*pytest_args):
    """Runs this package's tests (they start their own redis-server); 0 when
    they pass. As the seed's h5pyswmr.test(), with pytest."""
    try:
        import pytest
    except ImportError:
        raise ImportError("h5pyswmr.test() runs the package's tests with pytest, which is not installed: "
                          "pip install pytest (or pip install 'h5redislock[test]')") from None
    return pytest.main([os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests"), "-q",
                        "-p", "no:cacheprovider", *pytest_args])
