"""The seed's lock, redone in Python for case 11: what h5pySWMR (the project
this one replaces) wrapped around every h5py open, with the same Redis
commands through the same client library (redis-py), so that its cost per
access can be measured beside h5pyswmr's. bench/polling_lock.h is the same
lock in C++ for cases 1, 3 and 5.

The algorithm is the second readers-writers problem (Courtois, Heymans and
Parnas, 1971: writer preference), with five Redis "locks" and two counters
per file:

    reader:  mutex3 { readlock { mutex1 { INCR readcount; the first reader
                                          takes writelock } } }
             ... open, read, close ...
             mutex1 { DECR readcount; the last reader releases writelock }
    writer:  mutex2 { INCR writecount; the first writer takes readlock }
             writelock { ... open, write, close ... }
             mutex2 { DECR writecount; the last writer releases readlock }

A waiting writer holds readlock, so new readers queue behind it: writers
win. Readers share one identity for writelock, and writers one for
readlock, because the last one out releases what the first one in took; the
mutexes and a writer's own writelock are taken under a fresh
"pid<pid>_<uuid4>" each time, as the seed named them.

Taking a lock is SETNX; if that won, EXPIRE (20 s) as a second command.
While the lock is taken, the waiter asks its TTL (the seed re-armed a lock
whose TTL read 0) and sleeps 1 ms before trying again: polling. Releasing
is WATCH, GET (is it still ours?), then MULTI, DEL, EXEC in one round trip.
Uncontended, a reader's access costs 18 round trips to lock and 9 to
unlock when it is the first reader; a writer's, 10 and 12.

Only a baseline for timing: it keeps the seed's flaws (counters without
expiry, check-then-act across round trips, leases that lapse under a long
access), which the benchmark, one process and no contention, never meets.

Thread-safety: one SeedPollingLock per thread (redis-py's client is
thread-safe, but the seed's algorithm was written for processes).
"""

import contextlib
import os
import time
import uuid

import redis

EXPIRY_SECONDS = 20     # a taken lock expires after this
POLL_SECONDS = 0.001    # a waiter tries again after this
GIVE_UP_SECONDS = 15    # a waiter gives up after this

READERS = "id_reader"   # the readers' shared identity, for writelock
WRITERS = "id_writer"   # the writers' shared identity, for readlock


class LockError(Exception):
    """A lock was not taken in time, or was lost (expired) while held."""


class SeedPollingLock:
    def __init__(self, client):
        """`client`: a redis.Redis with decode_responses=True (as the seed's)."""
        self._redis = client

    @contextlib.contextmanager
    def shared(self, resource):
        """Holds the shared (reader's) lock on `resource` for the with-block."""
        with self._mutex("mutex3", resource), self._mutex("readlock", resource):
            self._first_in("mutex1", "readcount", "writelock", READERS, resource)
        try:
            yield
        finally:
            self._last_out("mutex1", "readcount", "writelock", READERS, resource)

    @contextlib.contextmanager
    def exclusive(self, resource):
        """Holds the exclusive (writer's) lock on `resource` for the with-block."""
        self._first_in("mutex2", "writecount", "readlock", WRITERS, resource)
        try:
            with self._mutex("writelock", resource):
                yield
        finally:
            self._last_out("mutex2", "writecount", "readlock", WRITERS, resource)

    def _first_in(self, mutex, counter, lock, identity, resource):
        """Under `mutex`: counts one more of a kind; the first takes `lock`
        for all of them, under their shared `identity`."""
        with self._mutex(mutex, resource):
            if self._redis.incr(_key(counter, resource)) == 1:
                self._take(_key(lock, resource), identity)

    def _last_out(self, mutex, counter, lock, identity, resource):
        """Under `mutex`: counts one less; the last releases `lock`."""
        with self._mutex(mutex, resource):
            if self._redis.decr(_key(counter, resource)) == 0:
                self._give(_key(lock, resource), identity)

    @contextlib.contextmanager
    def _mutex(self, part, resource):
        """One of the locks, taken under an identity of its own."""
        key = _key(part, resource)
        holder = "pid%d_%s" % (os.getpid(), uuid.uuid4())
        self._take(key, holder)
        try:
            yield
        finally:
            self._give(key, holder)

    def _take(self, key, holder):
        give_up = time.monotonic() + GIVE_UP_SECONDS
        while time.monotonic() < give_up:
            if self._redis.setnx(key, holder):
                self._redis.expire(key, EXPIRY_SECONDS)
                return
            if self._redis.ttl(key) == 0:
                self._redis.expire(key, EXPIRY_SECONDS)
            time.sleep(POLL_SECONDS)
        raise LockError("%s: still taken after %d s" % (key, GIVE_UP_SECONDS))

    def _give(self, key, holder):
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.watch(key)
            if pipe.get(key) != holder:
                pipe.unwatch()
                raise LockError("%s: lost (expired, or taken by another) before its release" % key)
            pipe.multi()
            pipe.delete(key)
            pipe.execute()


def _key(part, resource):
    return "%s__%s" % (part, resource)
