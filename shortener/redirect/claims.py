"""Visit-limit claims: one visit of a limited link claimed in the shared counters, exactly."""

import logging
from enum import Enum

from django.core.cache import caches

from shortener.redirect.lookup import Snapshot

# Logged on every failed claim: settings.LOGGING throttles this logger to a line a minute.
logger = logging.getLogger(__name__)


class Claim(Enum):
    """What claiming one visit of a limited link came to."""

    TAKEN = "taken"
    USED_UP = "used up"
    UNCOUNTABLE = "uncountable"  # the counters cache is down: refuse, never guess


def take_visit(link: Snapshot) -> Claim:
    """For a link with a visit limit: claim one visit in the shared cache, exactly.

    The counter starts from the stored count the first time any worker needs it and is
    then only incremented atomically, so with any number of workers at most
    `max_visits` requests are redirected. While the cache cannot count, no visit is
    taken and the counter is left as it stands, so the count continues when it is back.
    """
    counters = caches["counters"]
    key = f"link-visits:{link.pk}"
    try:
        try:
            counters.add(key, link.visit_count, timeout=None)
            count = counters.incr(key)
        except ValueError:  # the key vanished between add and incr (evicted, flushed)
            counters.add(key, link.visit_count, timeout=None)
            count = counters.incr(key)
    except Exception as error:  # each cache backend raises its own connection errors
        log_counters_down(repr(error))
        return Claim.UNCOUNTABLE
    if count is None:  # a backend that lost the count without raising
        log_counters_down("the cache returned no count")
        return Claim.UNCOUNTABLE
    return Claim.TAKEN if count <= link.max_visits else Claim.USED_UP


def log_counters_down(error: str) -> None:
    logger.error(
        "Counters cache unavailable (%s): links with a visit limit answer 503, "
        "links without one keep redirecting",
        error,
    )
