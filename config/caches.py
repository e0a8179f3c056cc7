"""Cache backends: diskcache that keeps its connections and survives its disk failing; a
Redis cache that survives Redis going away, with one client per pool; Redis counters and
rate limits in one round trip; on Redis, clear() empties its prefix only."""

import logging
import os
import sqlite3
import threading
import time

import diskcache
from diskcache import DjangoCache
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.commands.core import Script
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from config.metrics.counting import cache_failed
from config.ratelimit import gcra

logger = logging.getLogger(__name__)
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class MissWhileAway:
    """A `default` cache that misses while its store cannot be reached: reads answer their
    default, writes are dropped, so waffle reads its flags from the database and every page
    still renders (a 404 page must not become a 500). Logged on every failure:
    settings.LOGGING throttles this logger to a line a minute (config/log_filters.Throttle).
    `AWAY` names the errors that mean the store is away."""

    AWAY: tuple[type[BaseException], ...] = ()

    def _or(self, default, operation, *args):
        """`operation(*args)`, or `default` while the store cannot be reached."""
        try:
            return operation(*args)
        except self.AWAY as error:
            cache_failed("default")
            logger.error("Shared cache unavailable (%s): reading from the database instead", error)
            return default

    def get(self, key, default=None, version=None):
        return self._or(default, super().get, key, default, version)

    def get_many(self, keys, version=None):
        return self._or({}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._or(False, super().has_key, key, version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._or(False, super().add, key, value, timeout, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._or(None, super().set, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._or(list(data), super().set_many, data, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._or(False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._or(False, super().delete, key, version)

    def delete_many(self, keys, version=None):
        self._or(None, super().delete_many, keys, version)


class PersistentDiskCache(MissWhileAway, DjangoCache):
    """The embedded `default` cache: diskcache that keeps its connections, opens them when
    first used, and misses while its disk fails (full, read-only, gone).

    Django closes every cache when a request finishes (`request_finished`). For diskcache
    that closes its SQLite connections, and closing the last one checkpoints the
    write-ahead log, a cost on every request (docs/performance.md). The connections are
    per thread and per process (diskcache reopens after a fork), so keeping them is safe;
    they close with their thread.

    diskcache writes its settings when it opens, which a full disk refuses: opened in the
    constructor, as diskcache does, that failure came out of `caches["default"]` in a
    thread's first request, outside any handler, as a 500.
    """

    AWAY = (sqlite3.Error, OSError, diskcache.Timeout)

    def __init__(self, directory, params):
        BaseCache.__init__(self, params)
        self._opening = (
            directory,
            params.get("SHARDS", 8),
            params.get("DATABASE_TIMEOUT", 0.010),
            params.get("OPTIONS", {}),
        )
        self._fanout: diskcache.FanoutCache | None = None

    @property
    def _cache(self) -> diskcache.FanoutCache:
        if self._fanout is None:
            directory, shards, timeout, options = self._opening
            self._fanout = diskcache.FanoutCache(directory, shards, timeout, **options)
        return self._fanout

    def close(self, **kwargs) -> None:
        pass


CLEAR_BATCH = 500  # keys per SCAN step and per DEL


def delete_prefixed(cache: RedisCache) -> None:
    """Delete the keys under `cache`'s prefix, and only those.

    Django's RedisCache.clear() runs FLUSHDB: every key in the database, another site's or
    a running site's beside a test run. SCAN walks the keys in steps without blocking
    Redis; the prefix holds no glob character (config/environment.py key_prefix).
    """
    client = cache._cache.get_client(write=True)
    names = client.scan_iter(match=f"{cache.key_prefix}:*", count=CLEAR_BATCH)
    batch = []
    for name in names:
        batch.append(name)
        if len(batch) == CLEAR_BATCH:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)


class OneClientPerPool(RedisCacheClient):
    """Django's Redis cache client builds a new `redis.Redis` for every operation, and
    each one fills a table of about 170 response callbacks: a third of a redirect's time
    on PostgreSQL + Redis went there (docs/performance.md). A `redis.Redis` is safe to share
    (each command takes a connection from the pool and gives it back), so one is kept
    per pool."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = self._get_connection_pool(write)
            client = self._clients[index] = self._client(connection_pool=pool)
        return client


class SharedClientRedisCache(RedisCache):
    """RedisCache with one client per pool (OneClientPerPool)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = OneClientPerPool


class ResilientRedisCache(MissWhileAway, SharedClientRedisCache):
    """The `default` cache on Redis, missing while Redis cannot be reached."""

    AWAY = UNREACHABLE

    def clear(self) -> None:
        delete_prefixed(self)


# Redis answers INCR on a missing key by creating it; Django's cache API raises instead,
# so its RedisCache asks EXISTS first: two round trips. This script is one.
INCREMENT_IF_PRESENT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return false
"""


# One GCRA check-and-update (config/ratelimit/gcra.py's `admit`, the same arithmetic in
# Lua) in one round trip, run by its SHA after the first. KEYS[1]: the key. ARGV: interval
# (µs), burst, cost, mode, now (µs; empty: Redis's own clock, one clock for every app
# server). Returns {allowed, TAT after, now}. Integers stay exact: Lua's numbers are
# doubles, and %d writes them back without an exponent.
GCRA = """
local now
if ARGV[5] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
else
  now = tonumber(ARGV[5])
end
local interval, burst, cost, mode = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local base = tonumber(redis.call('GET', KEYS[1]) or now) or now
if base < now then base = now end
local new = base + interval * cost
local allowed = new - now <= interval * burst
local tat = base
if allowed or mode == 'force' then
  tat = new
  if mode ~= 'peek' then
    local ms = string.format('%d', math.ceil((new - now) / 1000))
    redis.call('SET', KEYS[1], string.format('%d', new), 'PX', ms)
  end
end
return {allowed and 1 or 0, string.format('%d', tat), string.format('%d', now)}
"""


def packed(*parts: bytes | str | int) -> bytes:
    """One Redis command in RESP, as redis-py's Connection.pack_command writes it."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        if isinstance(part, str):
            part = part.encode()
        elif isinstance(part, int):
            part = b"%d" % part
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


def triple(reply: bytes) -> list:
    """The GCRA script's reply, `*3 :allowed $tat $now` in RESP, as redis-py parses it
    ([int, bytes, bytes]); an error reply raises ResponseError, anything else ValueError
    (the connection is then dropped)."""
    if reply.startswith(b"-"):
        raise ResponseError(reply[1:-2].decode(errors="replace"))
    lines = reply.split(b"\r\n")
    if (
        len(lines) != 7
        or lines[0] != b"*3"
        or lines[1][:1] != b":"
        or lines[2][:1] != b"$"
        or lines[4][:1] != b"$"
    ):
        raise ValueError(f"unexpected reply to the GCRA script: {reply[:80]!r}")
    return [int(lines[1][1:]), lines[3], lines[5]]


class LeanScripts:
    """EVALSHA on a connection of the thread's own, outside redis-py's command machinery.

    redis-py spends about 75 µs of CPU around each command (its pool's check-out, which
    polls the socket, the retry wrapper, its observability hooks, the packing and the
    encoders), against 30 µs for the round trip itself; the rate limiter's one script a
    request made that most of a redirect's extra cost on PostgreSQL + Redis
    (docs/performance.md). Here the command is packed in one go and sent and read on a
    connection this thread keeps, made by the same pool (so the same address, database,
    timeouts and handshake).

    It never changes an answer: on any error (NOSCRIPT, a Redis that went away, a
    timeout) the caller runs the command through redis-py as before, with its retries,
    and the lean path stays off until such a call has succeeded again, so an outage
    costs what it cost (no second connection attempt a request)."""

    def __init__(self):
        self._local = threading.local()

    def call(self, client, sha: str, key: str, args) -> list | None:
        """The script's reply, or None: the caller asks redis-py instead."""
        local = self._local
        connection = getattr(local, "connection", None)
        if getattr(local, "off", False):
            return None
        if connection is None or local.pid != os.getpid():
            # One connection a thread, made once (a pool counts what it makes).
            connection = local.connection = client.connection_pool.make_connection()
            local.pid = os.getpid()
        try:
            if connection._sock is None:
                connection.connect()  # redis-py's handshake: HELLO, AUTH, SELECT
            sock = connection._sock
            sock.sendall(packed("EVALSHA", sha, 1, key, *args))
            reply = sock.recv(512)
            while not reply.endswith(b"\r\n") or (
                reply.startswith(b"*") and reply.count(b"\r\n") < 6
            ):
                more = sock.recv(512)
                if not more:
                    raise RedisConnectionError("Redis closed the connection")
                reply += more
            return triple(reply)
        except ResponseError:  # NOSCRIPT (a restarted Redis), or the script's own error
            return None
        except Exception as error:
            logger.debug("Lean EVALSHA failed (%r): redis-py answers", error)
            connection.disconnect()  # connects again once redis-py has reached Redis
            local.off = True
            return None

    def succeeded(self) -> None:
        """redis-py reached Redis again: the lean path may connect."""
        self._local.off = False


class RedisCounterCache(SharedClientRedisCache):
    """Django's RedisCache tuned for counters that every request touches: one round trip.

    Rate limits are one GCRA script a request (update_gcra). Counters (visit limits)
    call add() then incr(), and every round trip to Redis holds the request's thread
    (docs/performance.md). incr() is one script
    instead of EXISTS + INCRBY, and add() remembers, per cache object (per thread), the
    expiring keys it has seen present until their timeout, answering those without asking. A key
    that vanishes early (evicted, flushed) makes the next incr() raise ValueError, as
    Django's API wants, and forgets it, so the following add() creates it again.
    """

    REMEMBERED = 10_000  # keys per thread before expired ones are dropped

    def __init__(self, server, params):
        super().__init__(server, params)
        self._present: dict[str, float] = {}  # key -> time.monotonic() it expires at
        self._lean = LeanScripts()

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        name = self.make_and_validate_key(key, version=version)
        now = time.monotonic()
        if self._present.get(name, 0.0) > now:
            return False
        seconds = self.get_backend_timeout(timeout)
        added = self._cache.add(name, value, seconds)
        if seconds is None:  # lasting keys (visit limits) are rare: always asked
            return added
        if len(self._present) >= self.REMEMBERED:
            self._present = {k: t for k, t in self._present.items() if t > now}
        self._present[name] = now + seconds
        return added

    def incr(self, key, delta=1, version=None):
        name = self.make_and_validate_key(key, version=version)
        client = self._cache.get_client(name, write=True)
        value = client.eval(INCREMENT_IF_PRESENT, 1, name, delta)
        if value is None:
            self._present.pop(name, None)
            raise ValueError(f"Key '{key}' not found.")
        return value

    _gcra: Script | None = None  # one per process: it only holds the script and its SHA

    def update_gcra(self, key, interval, burst, cost=1, mode=gcra.SPEND, now=None, version=None):
        """One GCRA check-and-update in one round trip (EVALSHA; EVAL once if Redis has
        not seen the script). `now` defaults to Redis's clock. Returns (decision, now)."""
        name = self.make_and_validate_key(key, version=version)
        client = self._cache.get_client(name, write=True)
        script = RedisCounterCache._gcra
        if script is None:
            script = RedisCounterCache._gcra = Script(client, GCRA)
        args = [interval, burst, cost, mode, "" if now is None else now]
        reply = self._lean.call(client, script.sha, name, args)
        if reply is None:
            reply = script(keys=[name], args=args, client=client)
            self._lean.succeeded()
        allowed, tat, now = reply
        return gcra.Decision(allowed == 1, int(tat)), int(now)

    def delete(self, key, version=None) -> bool:
        self._present.pop(self.make_and_validate_key(key, version=version), None)
        return super().delete(key, version)

    def clear(self) -> None:
        self._present.clear()
        delete_prefixed(self)
