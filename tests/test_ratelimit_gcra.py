"""GCRA: the arithmetic as a table with injected time, no window edge to stand on, and the
same answers from both counter stores (LMDB in one transaction, Redis in one script).

The Redis half runs when REDIS_URL is set, against its own keys in that database.
"""

import os
import threading
import time
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.ratelimit import gcra
from config.ratelimit.gcra import FORCE, PEEK, SPEND, admit, interval_of, state, stores

S = gcra.MICROSECONDS
T0 = 1_800_000_000 * S  # a fixed "now", in µs since the epoch
LIMIT, WINDOW = 10, 60  # 10/m: one every 6 s, all 10 at once after a quiet spell
EVERY = interval_of(LIMIT, WINDOW)


def test_intervals_round_up_to_the_microsecond():
    assert EVERY == 6 * S
    assert interval_of(600, 60) == 100_000
    assert interval_of(7, 60) == 8_571_429  # 7 of them take a hair over a minute, never less
    assert interval_of(1, 86400) == 86400 * S
    assert interval_of(100_000_000, 60) == 1


# tat before, now, cost, mode → allowed, tat after, remaining, reset (s)
TABLE = [
    ("first request", None, T0, 1, SPEND, True, T0 + 6 * S, 9, 6),
    ("a TAT long past is a full bucket", T0 - 100 * S, T0, 1, SPEND, True, T0 + 6 * S, 9, 6),
    ("the tenth of a burst", T0 + 54 * S, T0, 1, SPEND, True, T0 + 60 * S, 0, 6),
    ("the eleventh is refused", T0 + 60 * S, T0, 1, SPEND, False, T0 + 60 * S, 0, 6),
    ("refused, half an interval short", T0 + 57 * S, T0, 1, SPEND, False, T0 + 57 * S, 0, 3),
    ("one interval on, one more passes", T0 + 60 * S, T0 + 6 * S, 1, SPEND, True,
     T0 + 66 * S, 0, 6),
    ("a part-second wait rounds up", T0 + 60 * S, T0 + 5_500_000, 1, SPEND, False,
     T0 + 60 * S, 0, 1),
    ("three at once", None, T0, 3, SPEND, True, T0 + 18 * S, 7, 6),
    ("more than the burst never passes", None, T0, 11, SPEND, False, T0, 10, 6),
    ("a look reports what spending would leave", T0 + 48 * S, T0, 1, PEEK, True,
     T0 + 54 * S, 1, 6),
    ("a look at a full bucket refuses", T0 + 60 * S, T0, 1, PEEK, False, T0 + 60 * S, 0, 6),
    ("a batch already made is counted past the burst", T0 + 54 * S, T0, 5, FORCE, False,
     T0 + 84 * S, 0, 30),
    ("forced within the burst is admitted", None, T0, 2, FORCE, True, T0 + 12 * S, 8, 6),
]  # fmt: skip


@pytest.mark.parametrize(
    "tat, now, cost, mode, allowed, after, remaining, reset",
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_the_table(tat, now, cost, mode, allowed, after, remaining, reset):
    decision = admit(tat, now, EVERY, LIMIT, cost, mode)
    assert decision == (allowed, after)
    assert state(decision.tat, now, EVERY, LIMIT) == (remaining, reset)


def test_only_admitted_or_forced_requests_are_written():
    refused = admit(T0 + 60 * S, T0, EVERY, LIMIT)
    assert not stores(refused, SPEND)
    assert stores(admit(None, T0, EVERY, LIMIT), SPEND)
    assert not stores(admit(None, T0, EVERY, LIMIT, mode=PEEK), PEEK)
    assert stores(admit(T0 + 60 * S, T0, EVERY, LIMIT, 5, FORCE), FORCE)


def test_a_refusal_waits_exactly_until_one_passes():
    tat = T0 + 60 * S  # full
    wait = state(tat, T0, EVERY, LIMIT).reset
    assert not admit(tat, T0 + wait * S - 1, EVERY, LIMIT).allowed
    assert admit(tat, T0 + wait * S, EVERY, LIMIT).allowed


class Store:
    """The pure arithmetic with a dict for a cache: the model both backends must match."""

    def __init__(self):
        self.tats: dict[str, int] = {}

    def update_gcra(self, key, interval, burst, cost=1, mode=SPEND, now=None):
        decision = admit(self.tats.get(key), now, interval, burst, cost, mode)
        if stores(decision, mode):
            self.tats[key] = decision.tat
        return decision, now


def passed(store, key, count, now, interval=EVERY, burst=LIMIT) -> int:
    return sum(store.update_gcra(key, interval, burst, now=now)[0].allowed for _ in range(count))


def edge_of_a_fixed_window(now: int) -> int:
    """Where a fixed 60 s window would end next: the edge the old limiter reset at."""
    return (now // (WINDOW * S) + 1) * WINDOW * S


def test_the_limit_just_before_and_just_after_a_window_edge_passes_once():
    store, edge = Store(), edge_of_a_fixed_window(T0)
    before = passed(store, "ip:192.0.2.1", LIMIT, edge - S // 2)
    after = passed(store, "ip:192.0.2.1", LIMIT, edge + S // 2)
    # Fixed windows let twice 10 through in that second; GCRA lets the one second's worth
    # of refill through, which at one per 6 s is nothing.
    assert (before, after) == (LIMIT, 0)
    assert passed(store, "ip:192.0.2.1", LIMIT, edge + 6 * S - S // 2) == 1


@pytest.mark.parametrize("gap", [0.001, 1, 5.999, 6, 30, 59, 60, 120])
def test_after_a_full_burst_only_what_has_refilled_passes(gap):
    store = Store()
    assert passed(store, "k", LIMIT, T0) == LIMIT
    assert passed(store, "k", LIMIT, T0 + int(gap * S)) == min(LIMIT, int(gap * S) // EVERY)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=300 * S), min_size=1, max_size=80))
def test_no_span_passes_more_than_the_burst_and_its_refill(offsets):
    store, admitted = Store(), []
    for offset in sorted(offsets):
        if store.update_gcra("k", EVERY, LIMIT, now=T0 + offset)[0].allowed:
            admitted.append(offset)
    for i, first in enumerate(admitted):
        for j in range(i, len(admitted)):
            span = admitted[j] - first
            assert j - i + 1 <= LIMIT + span // EVERY


# --- Both counter stores: the same answers, one atomic operation each --------------------


def redis_url() -> str | None:
    return os.environ.get("REDIS_URL") or None


@pytest.fixture(params=["lmdb", "redis"])
def counters(request, tmp_path):
    if request.param == "lmdb":
        from config.counter_cache import LmdbCounterCache

        yield LmdbCounterCache(str(tmp_path / "counters"), {"TIMEOUT": 300})
        return
    if not redis_url():
        pytest.skip("REDIS_URL is not set")
    from config.caches import RedisCounterCache

    prefix = f"test-gcra-{uuid.uuid4().hex}"
    cache = RedisCounterCache(redis_url(), {"KEY_PREFIX": prefix})
    yield cache
    client = cache._cache.get_client(write=True)
    for name in client.scan_iter(f"{prefix}:*"):
        client.delete(name)


def real_now() -> int:
    # The stores expire keys by the clock, so injected times stay near the real one.
    return time.time_ns() // 1000


def test_both_stores_answer_as_the_arithmetic_does(counters):
    model, now = Store(), real_now()
    steps = [(0, 1, SPEND)] * 12 + [
        (0, 1, PEEK),
        (6 * S, 1, PEEK),
        (6 * S, 1, SPEND),
        (6 * S + 1, 1, SPEND),
        (6 * S + 2, 5, FORCE),
        (40 * S, 1, SPEND),
        (42 * S, 1, SPEND),
        (200 * S, 3, SPEND),
    ]
    for offset, cost, mode in steps:
        at = now + offset
        got = counters.update_gcra("ip:192.0.2.7", EVERY, LIMIT, cost, mode, now=at)
        assert got == model.update_gcra("ip:192.0.2.7", EVERY, LIMIT, cost, mode, now=at)


def test_both_stores_let_the_limit_through_once_across_a_window_edge(counters):
    edge = edge_of_a_fixed_window(real_now())
    before = passed(counters, "ip:192.0.2.8", LIMIT, edge - S // 2)
    after = passed(counters, "ip:192.0.2.8", LIMIT, edge + S // 2)
    assert (before, after) == (LIMIT, 0)


def test_both_stores_use_their_own_clock_unless_told(counters):
    decision, now = counters.update_gcra("ip:192.0.2.9", EVERY, LIMIT)
    assert abs(now - real_now()) < 5 * S  # Redis's clock on Redis, this machine's on LMDB
    assert decision == (True, now + EVERY)


def test_a_look_writes_nothing(counters):
    now = real_now()
    for _ in range(3):
        assert counters.update_gcra("k", EVERY, LIMIT, 1, PEEK, now=now)[0] == (True, now + EVERY)
    assert passed(counters, "k", LIMIT + 5, now) == LIMIT


def test_threads_pass_exactly_the_limit(counters):
    results, now = [], real_now()
    lock = threading.Lock()

    def hammer():
        got = passed(counters, "ip:192.0.2.10", 40, now, interval_of(100, 86400), 100)
        with lock:
            results.append(got)

    workers = [threading.Thread(target=hammer) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sum(results) == 100


def test_redis_spends_one_round_trip_a_request():
    """Counted by Redis itself (its own server, so no other client's commands count),
    whichever path sends it: the lean EVALSHA of config/caches.LeanScripts or redis-py's."""
    from config.caches import RedisCounterCache
    from tests.servers import free_port, own_redis

    port = free_port()
    with own_redis(port):
        counters = RedisCounterCache(f"redis://127.0.0.1:{port}/0", {})
        counters.update_gcra("k", EVERY, LIMIT)  # loads the script once, and connects
        client = counters._cache.get_client("k", write=True)
        client.config_resetstat()
        for _ in range(5):
            counters.update_gcra("k", EVERY, LIMIT)
        stats = client.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): entry["calls"] for name, entry in stats.items()}
    # Redis counts the script's own calls too (TIME, GET, SET), and the reset above.
    sent = {name: n for name, n in calls.items() if name not in ("time", "get", "set")}
    sent = {name: n for name, n in sent.items() if not name.startswith(("config", "info"))}
    assert sent == {"evalsha": 5}


def test_redis_answers_alike_when_it_forgot_the_script_or_dropped_the_connection():
    """The lean path falls back to redis-py (EVAL, a new connection) and gives the same
    decisions as the model. Its own Redis: SCRIPT FLUSH and CLIENT KILL reach a server."""
    from config.caches import RedisCounterCache
    from tests.servers import free_port, own_redis

    port = free_port()
    with own_redis(port):
        counters = RedisCounterCache(f"redis://127.0.0.1:{port}/0", {})
        model, now = Store(), real_now()
        for step in range(8):
            client = counters._cache.get_client("k", write=True)
            if step == 3:
                client.script_flush()  # NOSCRIPT for the next EVALSHA
            if step == 5:
                client.client_kill_filter(skipme=True, _type="normal")  # the lean connection
            at = now + step * 1000
            got = counters.update_gcra("ip:192.0.2.11", EVERY, LIMIT, now=at)
            assert got == model.update_gcra("ip:192.0.2.11", EVERY, LIMIT, now=at)
        assert counters._lean._local.connection is not None  # and the lean path is back


def test_lmdb_keys_expire_once_their_tat_has_passed(tmp_path):
    from config.counter_cache import GCRA_EXPIRY_GRAIN, LmdbCounterCache

    counters = LmdbCounterCache(str(tmp_path / "counters"), {"TIMEOUT": 300})
    now = real_now()
    decision, _ = counters.update_gcra("brief", S, 1, now=now - GCRA_EXPIRY_GRAIN * 3 * S)
    assert decision.allowed
    assert counters.get("brief") is None  # its TAT, and the grain after it, are over
    counters.update_gcra("kept", EVERY, LIMIT, now=now)
    assert counters.get("kept") == now + EVERY


def test_the_lean_reader_takes_only_the_scripts_own_reply_shape():
    from redis.exceptions import ResponseError

    from config.caches import triple

    assert triple(b"*3\r\n:1\r\n$2\r\n17\r\n$2\r\n16\r\n") == [1, b"17", b"16"]
    with pytest.raises(ResponseError, match="NOSCRIPT"):
        triple(b"-NOSCRIPT No matching script.\r\n")
    for odd in (b"*2\r\n:1\r\n$2\r\n17\r\n", b"_\r\n", b">3\r\n:1\r\n$2\r\n17\r\n$2\r\n16\r\n"):
        with pytest.raises(ValueError):
            triple(odd)
