"""Read-mode files that h5pyswmr keeps open between accesses.

The seed's pattern opens and closes the file on every access. With lock
caching (the driver's linger=), the lock outlives the close, but HDF5's own
open and close of the file still cost more than the read itself. So a file
opened for reading stays open after the access, while:
  - nobody else wants its lock: the driver tells of a process that does by
    its revocation eventfd (H5FD_redislock_revocation_fd), which a thread of
    ours waits on; the thread then closes the file, the shared lock goes with
    the last close, and the writer proceeds;
  - it was used within the linger: the same thread closes a file idle for
    longer.
While this process holds the shared lock no other process can write the file,
so the open file cannot go stale: a later read sees what the last writer
committed before the lock came to us.

Every use of a kept file and its closing happen under one lock (`lock`), so
the thread never closes a file in the middle of an access. A forked child
drops (does not use) what its parent kept: the driver's locks are the
parent's.
"""

import os
import select
import threading
import time

# A forked child starts with none: HDF5 there still has the parent's kept
# files open, and an open of one in another mode would fail ("file is already
# open for read-only").


class KeptFiles:
    def __init__(self):
        self.lock = threading.RLock()
        self._files = {}  # path -> [h5py.File, last use (monotonic s), linger s]; guarded by lock
        self._pid = os.getpid()
        self._thread_pid = None
        self._revocations = None  # (fd, wanted, idle) from the plugin, once known
        # Wakes of the thread by the revocation eventfd, counted: a kept file
        # checked since the last one (entry[3]) is not asked about again
        # (wanted() resolves the path: syscalls on every access otherwise).
        self._signals = 0

    def take(self, path, revocations):
        """The kept file at `path`, if there is one that nobody else wants.
        REQUIRES lock."""
        self._after_fork()
        entry = self._files.get(path)
        if entry is None:
            return None
        if revocations[0] < 0 or entry[3] != self._signals:
            if revocations[1](path):
                self._close(path)
                return None
            entry[3] = self._signals
        return entry[0]

    def lookup(self, f, name):
        """f[name], for a kept file remembered: nothing in it can change while
        it is kept (no other process writes under our shared lock, and this
        one closes it before it writes). REQUIRES lock."""
        entry = self._files.get(f.filename)
        if entry is None or entry[0] is not f:
            return f[name]
        node = entry[4].get(name)
        if node is None:
            node = entry[4][name] = f[name]
        return node

    def keep(self, path, f, linger, revocations):
        """Keeps `f`, open for reading, after an access. REQUIRES lock."""
        self._after_fork()
        self._revocations = revocations
        entry = self._files.get(path)
        if entry is None or entry[0] is not f:
            revocations[2](path)  # its lock shows as cached: a timeout=0 writer asks for it
            # [file, last use, linger, signals when last checked, nodes looked up]
            self._files[path] = [f, time.monotonic(), linger, self._signals, {}]
        else:
            entry[1] = time.monotonic()
        self._start()

    def close(self, path):
        """Closes the kept file at `path`, if any: before a write, which this
        process cannot make while it reads the file."""
        with self.lock:
            self._after_fork()
            self._close(path)

    def close_all(self):
        with self.lock:
            self._after_fork()
            for path in list(self._files):
                self._close(path)

    def _close(self, path):
        entry = self._files.pop(path, None)
        if entry is not None:
            try:
                entry[0].close()
            except Exception:
                pass  # a lost lock: the close says so, and the file is gone all the same

    def after_fork_in_child(self):
        """Closes the files the parent kept, in this child's HDF5 only: the
        driver leaves the parent's locks alone (they are not this process's)."""
        self._pid = os.getpid()
        self._thread_pid = None
        self.lock = threading.RLock()  # the parent's may have been held by a thread that is not here
        for path in list(self._files):
            self._close(path)

    def _after_fork(self):
        if self._pid != os.getpid():  # a fork that register_at_fork did not see
            self.after_fork_in_child()

    def _start(self):
        if self._thread_pid == os.getpid():
            return
        self._thread_pid = os.getpid()
        threading.Thread(target=self._run, name="h5pyswmr-kept-files", daemon=True).start()

    def _run(self):
        fd = self._revocations[0]
        while True:
            with self.lock:
                if self._thread_pid != os.getpid():
                    return
                now = time.monotonic()
                for path, (_, used, linger, _, _) in list(self._files.items()):
                    if now - used >= linger or self._revocations[1](path):
                        self._close(path)
                if not self._files:
                    self._thread_pid = None  # the next keep starts another
                    return
                wait = min(used + linger for _, used, linger, _, _ in self._files.values()) - now
            wait = max(0.01, min(wait, 1.0))
            if fd >= 0:
                ready, _, _ = select.select([fd], [], [], wait)
                if ready:
                    self._signals += 1  # before the read: a take() after it asks again
                    try:
                        os.read(fd, 8)
                    except BlockingIOError:
                        pass  # another reader of the process took the wake
            else:
                time.sleep(wait)
