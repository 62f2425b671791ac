"""What h5pyswmr learnt of a file's nodes, kept while it cannot go stale.

The seed's `f['/d'][0:1] = i` looks '/d' up (is it a Group or a Dataset?)
before it writes: in an open of its own, which for a write costs as much as
the write's. What a lookup learnt holds as long as no other process writes
the file, that is, as long as this process holds the file's lock without a
break: the driver numbers each hold of the process (H5FD_redislock_hold),
and gives 0 for one that somebody else wants or whose lease is in doubt.
So a node's kind is kept with the number of the hold it was looked up
under, and used while that hold lasts.

This process's own changes of the file's structure through h5pyswmr forget
what was learnt of that file. Changes made by other code of this process
(h5py directly) are not seen here: a node one of them removed or replaced is
found wrong at its next access, which fails (KeyError, TypeError) rather
than at its lookup.
"""

import threading


class KnownNodes:
    def __init__(self):
        self._lock = threading.Lock()
        self._files = {}  # path -> (hold number, {name: node class}); guarded by _lock

    def get(self, path, name, hold):
        """The class of the node `name` in the file at `path`, if it was
        looked up under the hold numbered `hold` (not 0); else None."""
        if not hold:
            return None
        with self._lock:
            entry = self._files.get(path)
            return entry[1].get(name) if entry is not None and entry[0] == hold else None

    def put(self, path, name, cls, hold):
        """Keeps that `name` is a `cls`, as a lookup under the hold `hold`
        (the file still open under it) found."""
        if not hold:
            return
        with self._lock:
            entry = self._files.get(path)
            if entry is None or entry[0] != hold:
                entry = self._files[path] = (hold, {})
            entry[1][name] = cls

    def forget(self, path=None):
        """Forgets what was learnt of the file at `path` (of every file: None)."""
        with self._lock:
            if path is None:
                self._files.clear()
            else:
                self._files.pop(path, None)
