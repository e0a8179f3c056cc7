"""Visits to no link, counted per UTC day, domain and kind, and nothing else.

A short domain's root, a slug no link has, a path that is no slug at all (odd bytes,
overlong): each is one more in a counter in this process's memory, keyed by (day,
domain, kind), so no request writes to the database and no path, address or user agent
is kept anywhere (less than a visit keeps). The visit buffer's thread writes the counts
with each flush (`flush()`, one upsert); while the database is away they wait in memory,
bounded by days x domains x kinds. A killed process loses at most a flush's worth of
counts, as they are not journaled: they are counts for staff, not visits of a link.
Counted by shortener/redirect/orphans.py, which only requests that are not a live
redirect ever reach.
"""

import logging
import os
import re
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime

from django.db import connection, transaction

from shortener.policy.slugs import SLUG_PATTERN
from shortener.visits.models import OrphanKind, OrphanVisit
from shortener.visits.rollups import column, quote, upsert

logger = logging.getLogger(__name__)
# A link's own paths: the slug, its preview, report and warning pages.
LINK_PATH = re.compile(rf"/{SLUG_PATTERN}(?:\+|\+report|\+continue)?\Z")
ONE_SEGMENT = re.compile(r"/[^/]+\Z")

_counts: Counter[tuple[date, int, str]] = Counter()
_lock = threading.Lock()


def kind_of_missing(path: str) -> OrphanKind | None:
    """What a path that found nothing was asked as: a link's path (an unknown slug), one
    segment that is no slug (odd bytes, too long, punctuation), or neither (a page of
    the site's own, not a visit)."""
    if LINK_PATH.match(path):
        return OrphanKind.UNKNOWN
    if ONE_SEGMENT.match(path):
        return OrphanKind.INVALID
    return None


def count(domain_pk: int, kind: OrphanKind, when: float | None = None) -> None:
    day = datetime.fromtimestamp(time.time() if when is None else when, UTC).date()
    with _lock:
        _counts[day, domain_pk, kind.value] += 1


def pending() -> int:
    return sum(_counts.values())


def flush() -> int:
    """Write the counts so far (added to the day's rows); how many. When the database
    refuses, they are kept for the next flush: whatever goes wrong here, the visit
    flush that calls this goes on to write the visits."""
    global _counts
    with _lock:
        taken, _counts = _counts, Counter()
    if not taken:
        return 0
    try:
        write(taken)
    except Exception as error:  # a closed connection is an InterfaceError, no DatabaseError
        with _lock:
            _counts.update(taken)
        logger.warning("Could not write %d orphan visit counts (%s); kept", taken.total(), error)
        return 0
    return taken.total()


def write(counts: Counter[tuple[date, int, str]]) -> None:
    from shortener.domains.models import Domain

    # A domain deleted since would fail the batch: its counts go with it.
    known = set(
        Domain.objects.filter(pk__in={key[1] for key in counts}).values_list("pk", flat=True)
    )
    rows = [(*key, n) for key, n in counts.items() if key[1] in known]
    table = quote(OrphanVisit._meta.db_table)
    keys = [column(OrphanVisit, name) for name in ("day", "domain", "kind")]
    n = column(OrphanVisit, "n")
    with transaction.atomic(), connection.cursor() as cursor:
        upsert(
            cursor,
            table,
            [*keys, n],
            ("date", "bigint", "text", "bigint"),
            rows,
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {n} = {table}.{n} + excluded.{n}",
        )


def discard() -> None:
    """Forget the counts not yet written (for tests, as the visit buffer's discard)."""
    with _lock:
        _counts.clear()


def _forget_parent() -> None:
    """A forked child counts its own: the parent writes what it counted."""
    global _counts, _lock
    _counts, _lock = Counter(), threading.Lock()


os.register_at_fork(after_in_child=_forget_parent)
