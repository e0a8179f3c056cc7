"""LmdbCounterCache: the embedded default's store for counters every worker shares.

Rate limits and visit limits increment one shared counter per request. In SQLite (the
on-disk cache) that increment is a write transaction, and with two worker processes of
two threads each the writers queue on the database lock, which halved redirect
throughput. LMDB (a memory-mapped B-tree made for many processes) does several times the
increments under the same contention (`make bench SECTIONS=ratelimit-counter`; figures in
docs/performance.md).

Writes are not synced to disk: an operating-system crash or power cut can lose the last
counts, or leave the file unreadable; delete `$DATA_DIR/counters` then. It holds only
counters that start again from nothing (rate limits) or from the database (visit limits).

Values keep their expiry beside them; a second table orders keys by expiry, and every
write that creates a key first removes a few expired ones, so old keys cannot pile up.

Rate limits are one GCRA check-and-update per request (`update_gcra`): one write
transaction that reads the key's theoretical arrival time, decides (config/ratelimit/gcra.py)
and writes it back.
"""

import os
import pickle
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

import lmdb
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

from config.ratelimit import gcra

MAP_SIZE = 1 << 30  # address space, not disk: the file grows with what is stored
PRUNE_BATCH = 64  # expired keys removed by each write that creates a key
MAX_KEY_LENGTH = 120  # characters, at most 4 bytes each: LMDB takes 511, the index adds 8

# A record: expiry (seconds since the epoch, 0 = never), kind, payload.
_HEAD = struct.Struct("<dB")
_INT = struct.Struct("<q")
INTEGER, PICKLED = 0, 1
_EXPIRY_KEY = struct.Struct(">d")  # big-endian, so the index sorts by time
# A GCRA key expires once its TAT has passed (it is then a full bucket, as if absent),
# rounded up to this many seconds so that most updates leave its index entry alone.
GCRA_EXPIRY_GRAIN = 64


# One environment per directory and process: Django makes a cache object per thread,
# and LMDB must not have one file open twice in a process (nor use it across a fork).
_environments: dict[str, tuple[int, lmdb.Environment, object, object]] = {}
_environments_lock = threading.Lock()


def environment(path: Path, map_size: int) -> tuple[lmdb.Environment, object, object]:
    key = str(path)
    opened = _environments.get(key)
    if opened is None or opened[0] != os.getpid():
        with _environments_lock:
            opened = _environments.get(key)
            if opened is None or opened[0] != os.getpid():
                if opened is not None:  # inherited through a fork: this copy is the child's
                    opened[1].close()
                path.mkdir(parents=True, exist_ok=True)
                env = lmdb.open(
                    key,
                    map_size=map_size,
                    max_dbs=2,
                    max_readers=1024,
                    sync=False,
                    metasync=False,
                    # Not through the memory map: a page touched on a full volume is a
                    # SIGBUS that kills the worker and the visits it holds (LMDB's own
                    # caveat); written with write(2), a full volume is an error the
                    # limiter answers by failing open (tests/test_outage_full_disk.py).
                    writemap=False,
                )
                # A worker killed while reading leaves its reader slot behind, and the
                # snapshot it pins keeps every page written since from being reused: the
                # map fills. Its replacement clears the slots of processes that are gone.
                env.reader_check()
                values, expiries = env.open_db(b"values"), env.open_db(b"expiries")
                opened = _environments[key] = (os.getpid(), env, values, expiries)
    return opened[1], opened[2], opened[3]


class LmdbCounterCache(BaseCache):
    def __init__(self, location: str, params: dict, clock: Callable[[], float] = time.time):
        super().__init__(params)
        self.path = Path(location)
        self.map_size = int(params.get("OPTIONS", {}).get("MAP_SIZE", MAP_SIZE))
        # Seconds since the epoch: expiries are stored as such. Tests pass a clock they
        # move, so an expiry is tested without waiting for it (or racing it).
        self.clock = clock

    def get_backend_timeout(self, timeout=DEFAULT_TIMEOUT) -> float | None:
        """Django's, on this cache's clock."""
        if timeout == DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        elif timeout == 0:  # "expire at once" (Django's -1, as in BaseCache)
            timeout = -1
        return None if timeout is None else self.clock() + timeout

    def _env(self) -> tuple[lmdb.Environment, object, object]:
        return environment(self.path, self.map_size)

    # --- records ---

    @staticmethod
    def _encode(value, expires: float | None) -> bytes:
        if type(value) is int and -(1 << 63) <= value < (1 << 63):
            return _HEAD.pack(expires or 0.0, INTEGER) + _INT.pack(value)
        return _HEAD.pack(expires or 0.0, PICKLED) + pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def _decode(record: bytes):
        _, kind = _HEAD.unpack_from(record)
        payload = memoryview(record)[_HEAD.size :]
        return _INT.unpack(payload)[0] if kind == INTEGER else pickle.loads(payload)  # noqa: S301

    @staticmethod
    def _expiry(record: bytes) -> float:
        return _HEAD.unpack_from(record)[0]

    @staticmethod
    def _live(record: bytes | None, now: float) -> bool:
        if record is None:
            return False
        expires = _HEAD.unpack_from(record)[0]
        return expires == 0.0 or expires > now

    def validate_key(self, key) -> None:
        """LMDB takes keys of up to 511 bytes; memcached's rules (Django's default check,
        a loop over every character on every call) do not apply here."""
        if len(key) > MAX_KEY_LENGTH:
            raise ValueError(f"Cache key longer than {MAX_KEY_LENGTH} characters: {key[:40]}…")

    def _key(self, key, version) -> bytes:
        return self.make_and_validate_key(key, version=version).encode()

    # --- writes: all in one write transaction each ---

    def _store(self, txn, values, expiries, key: bytes, old: bytes | None, record: bytes):
        if old is not None and (expires := self._expiry(old)):
            txn.delete(_EXPIRY_KEY.pack(expires) + key, db=expiries)
        txn.put(key, record, db=values)
        if expires := self._expiry(record):
            txn.put(_EXPIRY_KEY.pack(expires) + key, b"", db=expiries)

    def _prune(self, txn, values, expiries, now: float) -> None:
        cursor = txn.cursor(db=expiries)
        removed = 0
        while removed < PRUNE_BATCH and cursor.first():
            index_key = cursor.key()
            if _EXPIRY_KEY.unpack_from(index_key)[0] > now:
                break
            txn.delete(index_key[_EXPIRY_KEY.size :], db=values)
            cursor.delete()
            removed += 1

    def _write(self, key, value, timeout, version, only_if_absent: bool) -> bool:
        env, values, expiries = self._env()
        name = self._key(key, version)
        expires = self.get_backend_timeout(timeout)
        now = self.clock()
        with env.begin(write=True) as txn:
            old = txn.get(name, db=values)
            if only_if_absent and self._live(old, now):
                return False
            if old is None:
                self._prune(txn, values, expiries, now)
            self._store(txn, values, expiries, name, old, self._encode(value, expires))
        return True

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        env, values, _ = self._env()
        name = self._key(key, version)
        with env.begin(db=values) as txn:  # present: answered without the write lock
            if self._live(txn.get(name), self.clock()):
                return False
        return self._write(key, value, timeout, version, only_if_absent=True)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> None:
        self._write(key, value, timeout, version, only_if_absent=False)

    def incr(self, key, delta=1, version=None):
        env, values, _ = self._env()
        name = self._key(key, version)
        with env.begin(write=True, db=values) as txn:
            old = txn.get(name)
            if not self._live(old, self.clock()):
                raise ValueError(f"Key '{key}' not found")
            expires, kind = _HEAD.unpack_from(old)
            if kind != INTEGER:
                raise TypeError(f"Key '{key}' does not hold an integer")
            value = _INT.unpack_from(old, _HEAD.size)[0] + delta
            txn.put(name, _HEAD.pack(expires, INTEGER) + _INT.pack(value))
        return value

    def update_gcra(self, key, interval, burst, cost=1, mode=gcra.SPEND, now=None, version=None):
        """One GCRA check-and-update in one write transaction (a read one for PEEK).

        `interval` in µs (gcra.interval_of); `now` in µs since the epoch, this machine's
        clock unless given. Returns (decision, now)."""
        env, values, expiries = self._env()
        name = self._key(key, version)
        if now is None:
            now = time.time_ns() // 1000
        if mode == gcra.PEEK:
            with env.begin(db=values) as txn:
                old = txn.get(name)
            return gcra.admit(self._tat(old), now, interval, burst, cost, mode), now
        with env.begin(write=True) as txn:
            old = txn.get(name, db=values)
            decision = gcra.admit(self._tat(old), now, interval, burst, cost, mode)
            if gcra.stores(decision, mode):
                seconds = -(-decision.tat // gcra.MICROSECONDS)
                expires = float(-(-seconds // GCRA_EXPIRY_GRAIN) * GCRA_EXPIRY_GRAIN)
                record = _HEAD.pack(expires, INTEGER) + _INT.pack(decision.tat)
                if old is not None and self._expiry(old) == expires:
                    txn.put(name, record, db=values)  # same index entry: the common case
                else:
                    if old is None:
                        self._prune(txn, values, expiries, now / gcra.MICROSECONDS)
                    self._store(txn, values, expiries, name, old, record)
        return decision, now

    @staticmethod
    def _tat(record: bytes | None) -> int | None:
        """The stored TAT; None for no key. An expired one is in the past, which GCRA
        reads as a full bucket, so expiry needs no check here."""
        if record is None:
            return None
        _, kind = _HEAD.unpack_from(record)
        return _INT.unpack_from(record, _HEAD.size)[0] if kind == INTEGER else None

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        env, values, expiries = self._env()
        name = self._key(key, version)
        with env.begin(write=True) as txn:
            old = txn.get(name, db=values)
            if not self._live(old, self.clock()):
                return False
            _, kind = _HEAD.unpack_from(old)
            head = _HEAD.pack(self.get_backend_timeout(timeout) or 0.0, kind)
            self._store(txn, values, expiries, name, old, head + old[_HEAD.size :])
        return True

    def delete(self, key, version=None) -> bool:
        env, values, expiries = self._env()
        name = self._key(key, version)
        with env.begin(write=True) as txn:
            old = txn.get(name, db=values)
            if old is None:
                return False
            if expires := self._expiry(old):
                txn.delete(_EXPIRY_KEY.pack(expires) + name, db=expiries)
            txn.delete(name, db=values)
            return self._live(old, self.clock())

    def clear(self) -> None:
        env, values, expiries = self._env()
        with env.begin(write=True) as txn:
            txn.drop(values, delete=False)
            txn.drop(expiries, delete=False)

    # --- reads: lock-free ---

    def get(self, key, default=None, version=None):
        env, values, _ = self._env()
        with env.begin(db=values) as txn:
            record = txn.get(self._key(key, version))
            if not self._live(record, self.clock()):
                return default
            return self._decode(record)

    def has_key(self, key, version=None) -> bool:
        env, values, _ = self._env()
        with env.begin(db=values) as txn:
            return self._live(txn.get(self._key(key, version)), self.clock())
