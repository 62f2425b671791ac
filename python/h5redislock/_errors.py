"""Exceptions, and turning h5py's text of a driver failure into one of them.

When the driver's open fails it pushes one message onto the HDF5 error stack,
naming the file and the cause ("timed out after 2.0 s waiting for the write
lock on '/data/a.h5'; held by reader pid 4711 on host1 for 3.1 s", "Redis at
unix:///run/redis.sock is unreachable: ..."). It is the innermost entry, and
h5py reports the innermost entry in parentheses after the outermost:
"Unable to synchronously open file (<driver's message>)". By the time
h5py's exception reaches us, h5py has already released the property lists,
which clears the stack, so its text is where the message is read from.
"""

import errno
import re

__all__ = ["LockError", "LockTimeout", "RedisUnavailable", "ConfigError", "PluginError"]


class LockError(OSError):
    """The redislock driver could not open or use a file: its message names
    the file and the cause. `path` is the file, `cause` the driver's text."""

    def __init__(self, message, path=None, cause=None):
        super().__init__(message)
        self.path = path
        self.cause = cause

    def __str__(self):
        return self.args[0]


class LockTimeout(LockError, TimeoutError):
    """The lock was not granted within `timeout` (or at once, for timeout=0);
    the message says who holds it."""


class RedisUnavailable(LockError, ConnectionError):
    """Redis could not be reached or stopped answering."""


class ConfigError(LockError, ValueError):
    """The driver configuration was rejected; the message names the key."""


class PluginError(ImportError):
    """The driver plugin cannot be found or cannot serve this h5py's HDF5."""


# The driver's wording for each kind of failure (vfd/lock/lock_protocol.cc,
# redis_connection.cc, h5fd_redislock.cc); checked by tests/test_errors.py.
_KINDS = (
    (LockTimeout, re.compile(r"timed out after|forbids waiting")),
    (RedisUnavailable, re.compile(r"\bRedis\b.*(unreachable|connection is broken|no reply in time|cannot serve)")),
    (ConfigError, re.compile(r"invalid redislock configuration")),
)
# Failures that are the driver's own and have no kind above.
_DRIVER_WORDS = re.compile(r"\block\b|\bRedis\b|redislock")


def driver_cause(exc):
    """The innermost HDF5 message in h5py's exception text, or None."""
    text = str(exc)
    match = re.search(r"\((.*)\)\s*$", text, re.DOTALL)
    return match.group(1) if match else None


def from_h5py(exc, path):
    """The exception to raise for h5py's `exc`, raised opening `path` through
    the driver: one of ours when the driver reported the failure, else None
    (then h5py's own exception stands)."""
    cause = driver_cause(exc)
    if not cause:
        return None
    path = str(path)
    for kind, pattern in _KINDS:
        if pattern.search(cause):
            break
    else:
        if re.match(r"unable to open '.*': No such file or directory$", cause):
            return FileNotFoundError(errno.ENOENT, cause, path)  # as h5py without the driver
        if not _DRIVER_WORDS.search(cause):
            return None
        kind = LockError
    message = cause if path in cause else "%s: %s" % (path, cause)
    return kind(message, path=path, cause=cause)
