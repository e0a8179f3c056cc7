"""GCRA, the generic cell rate algorithm: a rate limit as one number per key.

A rate of `limit` per `seconds` admits one request every `interval` (seconds / limit) on
average, and lets a client that has been quiet spend up to `burst` (the whole limit) at
once. The one number kept per key is the theoretical arrival time (TAT): when the key's
bucket would be empty again if nothing more came. A request that costs `cost` moves it
`cost * interval` later; it is admitted while the TAT stays within `burst * interval` of
now. There are no windows, so there is no window edge to stand on: in any span of `s`
seconds at most `burst + s / interval` requests pass (fixed windows let twice the limit through
in a moment across an edge).

Times are whole microseconds since the epoch: the Redis script (config/caches.py) does the
same arithmetic in Lua, whose numbers are doubles, exact for integers up to 2**53 µs (285
years). Pure: no Django, no clock; callers pass `now`.
"""

from typing import NamedTuple

MICROSECONDS = 1_000_000

# What a request does to the stored TAT.
SPEND = "spend"  # admitted: move it; refused: leave it
PEEK = "peek"  # never move it: would one more be admitted? (a check the view spends)
FORCE = "force"  # move it even past the burst: work already done (a batch's links)
MODES = (SPEND, PEEK, FORCE)


class Decision(NamedTuple):
    allowed: bool
    tat: int  # the TAT after this request (for PEEK: what spending would make it)


class State(NamedTuple):
    remaining: int  # requests that would still be admitted now
    reset: int  # whole seconds until one more is admitted (the RateLimit field's `t`)


def interval_of(limit: int, seconds: int) -> int:
    """Microseconds between requests at `limit` per `seconds`, rounded up: the limit
    stays a ceiling (600/m is one every 100,000 µs; 7/m one every 8,571,429 µs)."""
    return -(-seconds * MICROSECONDS // limit)


def admit(
    tat: int | None, now: int, interval: int, burst: int, cost: int = 1, mode: str = SPEND
) -> Decision:
    """Would `cost` more requests pass now? A TAT in the past is an idle, full bucket.

    A backend writes `tat` back when the request was admitted or forced, never on PEEK."""
    base = now if tat is None or tat < now else tat
    new = base + interval * cost
    allowed = new - now <= interval * burst
    return Decision(allowed, new if allowed or mode == FORCE else base)


def stores(decision: Decision, mode: str) -> bool:
    """Whether the backend writes the decision's TAT: a refusal changes nothing."""
    return mode != PEEK and (decision.allowed or mode == FORCE)


def state(tat: int, now: int, interval: int, burst: int) -> State:
    """What is left once a request left the key at `tat`, and when more comes. Refused,
    `reset` is the wait until one request is admitted again: at least 1 s."""
    # Free room in the bucket, in microseconds; negative past the burst (FORCE).
    room = interval * burst - max(tat - now, 0)
    remaining = min(max(room // interval, 0), burst)
    next_unit = (remaining + 1) * interval - room  # µs until `remaining` grows by one
    return State(remaining, max(-(-next_unit // MICROSECONDS), 0))
