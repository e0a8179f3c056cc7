"""The embedded cache backend: diskcache's DjangoCache with connections kept across requests."""

from diskcache import DjangoCache


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
