"""The embedded cache backend: diskcache's DjangoCache with connections kept across requests."""

from diskcache import DjangoCache
from django.core.cache.backends.base import DEFAULT_TIMEOUT


class PersistentDiskCache(DjangoCache):
    """Django closes every cache when a request finishes (`request_finished`).

    For diskcache that closes its SQLite connections, and closing the last one
    checkpoints the write-ahead log: measured at about 10 ms a request with the
    rate limiter on (bench/ratelimit.py), against about 0.07 ms kept open. The
    connections are per thread and per process (diskcache reopens after a fork),
    so keeping them is safe; they close with their thread.
    """

    def close(self, **kwargs) -> None:
        pass

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None, **kwargs) -> bool:
        """Add only if absent, answering "present" from a read before taking the write lock.

        Counters (rate limits, visit limits) call add() before every incr(), and the key
        is nearly always there already. diskcache's add() begins an IMMEDIATE
        transaction even then; in WAL mode a read never waits, so checking first halves
        the write locks a counted request takes. A key that expires between the read and
        the return is counted from the next window, as if the request came a moment
        earlier.
        """
        if self.has_key(key, version):
            return False
        return super().add(key, value, timeout, version, **kwargs)
