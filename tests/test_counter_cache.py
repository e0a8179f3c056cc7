"""The embedded counter store (LMDB): Django's cache API, exact under threads and forks,
and expired keys that do not pile up."""

import multiprocessing
import threading
import time

import pytest

from config.counter_cache import PRUNE_BATCH, LmdbCounterCache, environment


@pytest.fixture
def location(tmp_path):
    return str(tmp_path / "counters")


class Clock:
    """Seconds since the epoch that pass only when the test says so: an expiry is tested
    without waiting for it, nor racing it on a loaded machine."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def store(location, clock=time.time) -> LmdbCounterCache:
    return LmdbCounterCache(location, {"TIMEOUT": 300}, clock=clock)


def stored_keys(location) -> int:
    env, values, _ = environment(store(location).path, store(location).map_size)
    with env.begin(db=values) as txn:
        return txn.stat(values)["entries"]


def test_values_of_any_kind_round_trip(location):
    counters = store(location)
    assert counters.get("missing", "default") == "default"
    counters.set("number", 42)
    counters.set("word", "salt")
    counters.set("mapping", {"a": [1, 2]})
    assert (counters.get("number"), counters.get("word")) == (42, "salt")
    assert counters.get("mapping") == {"a": [1, 2]}
    assert counters.has_key("word") and not counters.has_key("missing")
    with pytest.raises(TypeError):
        counters.incr("word")
    assert counters.delete("word") is True
    assert counters.delete("word") is False
    assert counters.get("word") is None


def test_expiry_touch_and_clear(location):
    clock = Clock()
    counters = store(location, clock)
    counters.set("brief", 1, timeout=5)
    counters.set("lapsing", 1, timeout=5)
    counters.set("kept", 1, timeout=None)
    assert counters.touch("brief", timeout=60) is True  # now it lasts
    assert counters.touch("absent") is False
    clock.advance(5)
    assert counters.get("lapsing") is None and not counters.has_key("lapsing")
    assert counters.touch("lapsing", timeout=60) is False
    with pytest.raises(ValueError):
        counters.incr("lapsing")
    assert counters.add("lapsing", 2, timeout=60) is True  # expired is absent
    assert counters.get("brief") == 1 and counters.get("kept") == 1
    clock.advance(60)
    assert counters.get("brief") is None and counters.get("kept") == 1
    counters.set("zero", 1, timeout=0)  # Django's "expire at once"
    assert counters.get("zero") is None
    counters.clear()
    assert counters.get("kept") is None and stored_keys(location) == 0


def test_threads_with_their_own_cache_objects_count_exactly(location):
    # Django gives every thread its own cache object; all of them share one LMDB
    # environment per process (two in one process would deadlock).
    per_thread, threads = 500, 4
    store(location).add("hits", 0, timeout=60)

    def hammer():
        counters = store(location)
        for _ in range(per_thread):
            counters.incr("hits")

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert not any(worker.is_alive() for worker in workers), "a thread is stuck"
    assert store(location).get("hits") == per_thread * threads


def _increment_in_child(location: str, count: int) -> None:
    counters = store(location)
    for _ in range(count):
        counters.incr("hits")


def test_a_forked_worker_opens_its_own_environment(location):
    # granian forks its workers; LMDB handles must not cross a fork.
    counters = store(location)
    counters.add("hits", 0, timeout=60)
    counters.incr("hits")  # the parent's environment is open before the fork
    child = multiprocessing.get_context("fork").Process(
        target=_increment_in_child, args=(location, 200)
    )
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert counters.incr("hits") == 202


def test_expired_keys_are_removed_by_later_writes(location):
    clock = Clock()
    counters = store(location, clock)
    old_windows = PRUNE_BATCH * 3
    for n in range(old_windows):
        counters.add(f"window-{n}", 1, timeout=10)
    clock.advance(10)
    assert stored_keys(location) == old_windows
    for n in range(4):  # each new key first removes up to PRUNE_BATCH expired ones
        counters.add(f"new-{n}", 1, timeout=60)
    assert stored_keys(location) == 4
    assert [counters.get(f"new-{n}") for n in range(4)] == [1, 1, 1, 1]


def test_keys_beyond_lmdbs_limit_are_refused_before_they_reach_it(location):
    counters = store(location)
    counters.set("spaces and ünïcode are fine here", 1)
    assert counters.get("spaces and ünïcode are fine here") == 1
    with pytest.raises(ValueError, match="longer than"):
        counters.set("k" * 200, 1)
    assert stored_keys(location) == 1
