"""The counters are shared and atomic: increments from several processes add up exactly.

Runs against the caches configured by the environment: the embedded ones (diskcache for
`default`, LMDB for `counters`) by default, Redis when REDIS_URL is set (CI's second
pass). A Redis-only test also runs whenever REDIS_URL is set, so both are covered there.
"""

import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings

from tests.conftest import ROOT

INCREMENTS = 300
PROCESSES = 3

COUNTER_SCRIPT = """
import os, sys, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
from django.core.cache import caches
counters = caches["counters"]
key, n = sys.argv[1], int(sys.argv[2])
counters.add(key, 0, timeout=60)
for _ in range(n):
    counters.incr(key)
"""


def count_across_processes(extra_env: dict[str, str]) -> int:
    from django.core.cache import caches

    key = f"test-counter-{uuid.uuid4().hex}"
    env = {**os.environ, **extra_env}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", COUNTER_SCRIPT, key, str(INCREMENTS)], cwd=ROOT, env=env
        )
        for _ in range(PROCESSES)
    ]
    assert all(worker.wait(timeout=120) == 0 for worker in workers)
    return caches["counters"].get(key)


def test_increments_from_several_processes_add_up_on_the_configured_cache():
    env = {"REDIS_URL": os.environ["REDIS_URL"]} if os.environ.get("REDIS_URL") else {}
    assert count_across_processes(env) == INCREMENTS * PROCESSES


def test_embedded_caches_are_diskcache_and_lmdb_in_data_dir():
    if os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL is set: the embedded cache is not in use")
    cache, counters = settings.CACHES["default"], settings.CACHES["counters"]
    assert cache["BACKEND"] == "config.caches.PersistentDiskCache"
    assert counters["BACKEND"] == "config.counter_cache.LmdbCounterCache"
    assert cache["LOCATION"].startswith(str(settings.DATA_DIR))
    assert counters["LOCATION"].startswith(str(settings.DATA_DIR))


@pytest.mark.django_db
def test_embedded_cache_keeps_its_connection_across_requests(client):
    if os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL is set: the embedded cache is not in use")
    from django.core.cache import cache

    cache.set("probe", 1)
    shard = cache._cache._shards[0]
    connection = shard._con
    client.get("/healthz")  # request_finished closes every cache
    assert shard._con is connection


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set")
def test_increments_add_up_on_redis():
    assert settings.CACHES["counters"]["BACKEND"] == "config.caches.RedisCounterCache"
    assert count_across_processes({"REDIS_URL": os.environ["REDIS_URL"]}) == INCREMENTS * PROCESSES


def test_counters_increment_like_djangos_cache_api():
    from django.core.cache import caches

    counters = caches["counters"]
    with pytest.raises(ValueError):
        counters.incr("missing-counter")
    assert counters.add("counter", 5, timeout=60) is True
    assert counters.add("counter", 0, timeout=60) is False
    assert [counters.incr("counter") for _ in range(3)] == [6, 7, 8]
    assert counters.incr("counter", 10) == 18
    assert counters.decr("counter", 8) == 10
    counters.set("short-lived", 1, timeout=0.01)
    time.sleep(0.05)
    with pytest.raises(ValueError):
        counters.incr("short-lived")  # expired counts as missing
    assert counters.add("short-lived", 7, timeout=60) is True  # and may be added again
    assert counters.get("short-lived") == 7


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set")
def test_redis_counters_recover_when_a_remembered_key_vanishes():
    import redis
    from django.core.cache import caches

    counters = caches["counters"]
    assert counters.add("window", 0, timeout=60) is True
    assert counters.add("window", 0, timeout=60) is False  # remembered: no round trip
    assert [counters.incr("window") for _ in range(3)] == [1, 2, 3]
    # Evicted or flushed behind our back: incr says so, and add creates it again.
    redis.Redis.from_url(os.environ["REDIS_URL"]).delete(counters.make_key("window"))
    assert counters.add("window", 0, timeout=60) is False  # still remembered
    with pytest.raises(ValueError):
        counters.incr("window")
    assert counters.add("window", 0, timeout=60) is True
    assert counters.incr("window") == 1
    # Lasting keys (visit limits) are never remembered: a vanished one is added again.
    assert counters.add("link-visits:1", 5, timeout=None) is True
    redis.Redis.from_url(os.environ["REDIS_URL"]).delete(counters.make_key("link-visits:1"))
    assert counters.add("link-visits:1", 5, timeout=None) is True
    assert counters.incr("link-visits:1") == 6


def test_the_default_redis_cache_misses_instead_of_failing_while_redis_is_away(caplog):
    """No Redis listens on this port: reads miss, writes are dropped, one log line."""
    from config.caches import ResilientRedisCache
    from tests.servers import free_port

    cache = ResilientRedisCache(
        f"redis://127.0.0.1:{free_port()}/0",
        {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}},
    )
    with caplog.at_level("ERROR", logger="config.caches"):
        assert cache.get("flag:x", "fallback") == "fallback"
        assert cache.get_many(["a", "b"]) == {}
        assert cache.add("a", 1) is False
        cache.set("a", 1)
        assert cache.delete("a") is False
        assert not cache.has_key("a")
    unavailable = [r for r in caplog.records if "Shared cache unavailable" in r.message]
    assert len(unavailable) == 1


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set")
def test_clearing_a_redis_cache_deletes_its_own_keys_and_no_others():
    # Django's RedisCache.clear() is FLUSHDB: a test run cleared a live site's flags and
    # visit counts on a shared Redis. Ours deletes its prefix's keys, in SCAN steps.
    import redis
    from django.core.cache import caches

    from config.caches import CLEAR_BATCH

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    neighbours = [f"torii-neighbour-{uuid.uuid4().hex}:1:flag", f"bare-{uuid.uuid4().hex}"]
    try:
        for name in neighbours:
            client.set(name, b"theirs")
        for alias in ("default", "counters"):
            cache = caches[alias]
            cache.set_many({f"key-{n}": n for n in range(CLEAR_BATCH * 2 + 1)}, timeout=None)
            cache.clear()
            assert client.keys(f"{cache.key_prefix}:*") == []
        assert [client.get(name) for name in neighbours] == [b"theirs", b"theirs"]
    finally:
        client.delete(*neighbours)


def test_a_redis_cache_keeps_one_client_and_reconnects_after_its_redis_restarts(monkeypatch):
    """Django's Redis cache built a `redis.Redis` (and its table of ~170 response callbacks)
    for every operation, a third of a redirect's time on PostgreSQL + Redis. Ours keeps one
    per connection pool; the pool reconnects when its Redis comes back."""
    import redis

    from config.caches import RedisCounterCache
    from tests.servers import free_port, own_redis

    built = []
    real_init = redis.Redis.__init__

    def counting_init(self, *args, **kwargs):
        built.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counting_init)
    port = free_port()
    counters = RedisCounterCache(
        f"redis://127.0.0.1:{port}/0", {"OPTIONS": {"socket_connect_timeout": 1}}
    )
    with own_redis(port):
        counters.add("visits", 0, timeout=60)
        for _ in range(100):
            counters.incr("visits")
        for _ in range(100):
            counters.update_gcra("rl:x", interval=1000, burst=1000)
        assert counters.get("visits") == 100
    assert len(built) == 1
    with pytest.raises(redis.exceptions.ConnectionError):
        counters.incr("visits")
    with own_redis(port):  # a fresh Redis: the same client connects again
        with pytest.raises(ValueError):
            counters.incr("visits")  # the count went with its Redis
        assert counters.add("visits", 7, timeout=60) is True
        assert counters.incr("visits") == 8
    assert len(built) == 1
