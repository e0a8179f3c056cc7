"""The visit buffer and its flushing, and what a visit keeps of a person (almost nothing).

Redirects hand each visit to `buffer.add()`, which appends it to a list in memory and
to the process's journal file (shortener/journal.py) before the redirect is
answered. A thread per worker process writes the list every VISIT_FLUSH_SECONDS in one
transaction: one counter update per link, a bulk insert of visits and their additions
to the daily rollups (shortener/rollups.py); then the journal files of that batch are
removed. The buffer is flushed again when the process exits
(granian's graceful stop). A killed process leaves its journal, and the same thread in
another process writes it (at its start and every RECOVER_SECONDS); only a power cut,
or a journal that can be written neither here nor in its spare directory, can lose
visits. Every web worker (config/wsgi.py) and the task worker start that thread when
they start (`VisitBuffer.start`), not on their first visit: a server restarted after a
crash writes what its dead processes journaled within seconds, with no traffic at all.

Privacy: the client's IP address lives only in memory, and in the journal files, until
the next flush (or, for a killed process, until another recovers its journal). What is
stored is the referrer's host, browser/OS/device families from ua-parser, a bot flag, the
country (looked up when the visit is buffered, shortener/countries.py; never the address)
and `visitor`, an HMAC of IP and user agent under a salt that is random, kept in the
database (VisitorSalt) for two days and replaced every day, so visitors are unique per
day, whatever happens to the caches or the workers, and the hash cannot be recomputed
once the day's salt is gone.

Under faults: rows the database refuses are split out and dropped alone
(shortener/visit_batches.py); while it is unavailable the visits are kept, up to
VISIT_BUFFER_MAX a process, and counted as dropped past that.
"""

import atexit
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import setting_changed
from django.db import close_old_connections, connection, transaction

from shortener.policy.user_agents import classify
from shortener.visits import metrics, orphans, rollups
from shortener.visits.batches import Outcome, write_splitting
from shortener.visits.countries import country_of
from shortener.visits.journal import Journal, encode

logger = logging.getLogger(__name__)

MAX_USER_AGENT = 512
MAX_REFERRER = 2048
RECOVER_SECONDS = 10  # how often a process looks for the journals of processes that died
DROPS_LOG_SECONDS = 60  # visits dropped past VISIT_BUFFER_MAX are logged at most this often
# The lines that count visits dropped or left out are each said: the log's throttle
# (settings.LOGGING, config/log_filters.py) keeps only the outage's repeats to one a minute.
EVERY_ONE = {"unthrottled": True}

# (unix time, link id, client address, user agent, referrer, country)
RawVisit = tuple[float, int, str, str, str, str]


def referrer_host(referrer: str) -> str:
    """The host of a Referer header, lower-cased; empty for junk."""
    if not referrer:
        return ""
    try:
        host = urlsplit(referrer[:MAX_REFERRER]).hostname or ""
    except ValueError:
        return ""
    return "".join(ch for ch in host if ch.isprintable() and not ch.isspace())[:253]


SALTS_KEPT = 8  # days a process remembers
SALT_DAYS = 2  # today's and yesterday's: a visit buffered before midnight is written after
_salts: dict[date, bytes] = {}


def daily_salt(day: date) -> bytes:
    """The day's random salt, shared by every worker through the database.

    Made by the first flush of the day (the primary key on the day settles a race between
    workers), then remembered in the process: it never changes during its day, and a
    restarted worker or a lost cache reads the same one again. Making one deletes those
    SALT_DAYS old: from then on that day's visitor keys cannot be recomputed. While the
    database is away this raises, as the write it is asked for would (the visits wait).
    """
    if day in _salts:
        return _salts[day]
    from shortener.visits.models import VisitorSalt

    row, made = VisitorSalt.objects.get_or_create(day=day, defaults={"salt": secrets.token_hex(16)})
    if made:
        VisitorSalt.objects.filter(day__lte=day - timedelta(days=SALT_DAYS)).delete()
    _salts[day] = row.salt.encode()
    # The oldest day goes first, never the whole memory: a batch that spans more days (a
    # backlog, a dead process's journal) would read again a salt the database no longer
    # has, make another, and count the same person twice on one day.
    while len(_salts) > SALTS_KEPT:
        del _salts[min(_salts)]
    return _salts[day]


def visitor_key(address: str, user_agent: str, day: date) -> str:
    message = f"{address}|{user_agent}".encode("utf-8", "replace")
    return hmac.new(daily_salt(day), message, hashlib.sha256).hexdigest()[:32]


VISIT_COLUMNS = (
    "link_id",
    "at",
    "referrer_host",
    "browser",
    "os",
    "device",
    "is_bot",
    "visitor",
    "country",
)


def visit_row(raw: RawVisit) -> tuple:
    """The stored columns of one visit (VISIT_COLUMNS order) from what the redirect saw."""
    when, link_id, address, user_agent, referrer, country = raw
    at = datetime.fromtimestamp(when, UTC)
    browser, system, device, is_bot = classify(user_agent)
    visitor = visitor_key(address, user_agent, at.date())
    stored_at = connection.ops.adapt_datetimefield_value(at)  # as the ORM would write it
    return (
        link_id,
        stored_at,
        referrer_host(referrer),
        browser,
        system,
        device,
        is_bot,
        visitor,
        country,
    )


def write(raws: list[RawVisit]) -> None:
    """Store visits, bump each link's counter and add them to the daily rollups, all in
    one transaction: one batch, all or nothing.

    Plain executemany statements rather than bulk_create and one ORM update per link:
    this runs in the worker beside the request threads, and the ORM's per-statement work
    held the GIL they need for long stretches (docs/performance.md).

    The counters go first, in link order: that locks each link's row before its visits
    and rollups are written, the lock `rollup_visits` takes to rebuild a link safely, and
    two workers flushing the same links take their locks in the same order.
    """
    from shortener.links.models import Link
    from shortener.visits.models import Visit

    quote = connection.ops.quote_name
    columns = ", ".join(
        quote(Visit._meta.get_field(name.removesuffix("_id")).column) for name in VISIT_COLUMNS
    )
    placeholders = ", ".join(["%s"] * len(VISIT_COLUMNS))
    insert = f"INSERT INTO {quote(Visit._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608 - names from _meta
    count = quote(Link._meta.get_field("visit_count").column)
    bump = f"UPDATE {quote(Link._meta.db_table)} SET {count} = {count} + %s WHERE id = %s"  # noqa: S608
    counts = Counter(raw[1] for raw in raws)
    rows = [visit_row(raw) for raw in raws]
    days = [utc_day(raw[0]) for raw in raws]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(bump, [(counts[link_id], link_id) for link_id in sorted(counts)])
        if connection.vendor == "postgresql":
            copy_rows(cursor, insert_copy(columns), rows)
        else:
            cursor.executemany(insert, rows)
        rollups.add(cursor, rows, days, VISIT_COLUMNS)


def insert_copy(columns: str) -> str:
    from shortener.visits.models import Visit

    return f"COPY {connection.ops.quote_name(Visit._meta.db_table)} ({columns}) FROM STDIN"


def copy_rows(cursor, statement: str, rows: list[tuple]) -> None:
    """PostgreSQL's COPY: the rows streamed in one statement. executemany sent an INSERT
    a row, and psycopg's work a row (its pipeline, each parameter dumped apart) cost the
    flush thread twice the CPU a visit that SQLite's executemany does, beside the request
    threads (docs/performance.md). Same rows, defaults and constraints."""
    with cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


@lru_cache(maxsize=8)
def _day_of(day_number: int) -> date:
    return datetime.fromtimestamp(day_number * 86400, UTC).date()


def utc_day(when: float) -> date:
    """The UTC day of a unix time (the day its visit is counted on)."""
    return _day_of(int(when // 86400))


def write_batch(raws: list[RawVisit]) -> Outcome:
    """`write()` with the rows the database refuses split out and dropped, one log line
    saying how many and why (shortener/visit_batches.py); what an unavailable database
    left unwritten is in the outcome, for the caller to keep."""
    started = time.perf_counter()
    outcome = write_splitting(write, raws, narrow=without_vanished_links)
    metrics.batch_written(outcome.written, outcome.dropped, time.perf_counter() - started)
    if outcome.refused:
        logger.warning(
            "Dropped %d of %d visits the database refused: %s",
            outcome.dropped,
            len(raws),
            "; ".join(f"{count} for {why}" for why, count in outcome.refused.most_common()),
            extra=EVERY_ONE,
        )
    return outcome


def without_vanished_links(raws: list[RawVisit]) -> tuple[list[RawVisit], Counter]:
    """The visits whose link still exists, and how many were left out: a link removed
    while its visits were buffered fails its whole batch, and splitting it down to each
    of, say, 100,000 visits would take minutes of transactions."""
    from shortener.links.models import Link

    # An id no column holds (a journal line parses as any integer) would fail the query.
    ids = {raw[1] for raw in raws if -(2**63) <= raw[1] < 2**63}
    known = set(Link.objects.filter(pk__in=ids).values_list("pk", flat=True))
    kept = [raw for raw in raws if raw[1] in known]
    return kept, Counter(
        {"a link that no longer exists": len(raws) - len(kept)} if len(kept) < len(raws) else {}
    )


def write_recovered(raws: list[RawVisit]) -> None:
    """`write_batch()` for a dead process's journal. A link this database lacks (the
    journal came from another) is left out with one query, not bisected; an unavailable
    database raises, and the journal's file is written again later."""
    kept, _ = without_vanished_links(raws)
    if len(kept) < len(raws):
        logger.warning(
            "Left out %d recovered visits of links this database lacks",
            len(raws) - len(kept),
            extra=EVERY_ONE,
        )
    outcome = write_batch(kept)
    if outcome.error is not None:
        # The parts written so far are written again with the file: a double fault (a
        # refused row, then the database gone mid-split) can repeat them.
        raise outcome.error


# (VISIT_JOURNAL_DIR, VISIT_BUFFER_MAX), read once: reading a setting through django.conf
# costs about 0.9 µs (docs/performance.md), and add() is on the redirect's path.
_settings: tuple[Path | None, int] | None = None


def _read_settings() -> tuple[Path | None, int]:
    global _settings
    _settings = (settings.VISIT_JOURNAL_DIR, settings.VISIT_BUFFER_MAX)
    return _settings


def _forget_settings(*, setting: str, **kwargs) -> None:
    """Tests change them (the `settings` fixture says so through this signal)."""
    global _settings
    if setting in {"VISIT_JOURNAL_DIR", "VISIT_BUFFER_MAX"}:
        _settings = None


setting_changed.connect(_forget_settings)


def flush_seconds() -> float:
    """How often the thread writes; 0 means never by itself (tests flush explicitly)."""
    return settings.VISIT_FLUSH_SECONDS


class VisitBuffer:
    def __init__(self) -> None:
        self._pending: list[RawVisit] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._stopping = threading.Event()
        self._journal: Journal | None = None  # where visits are journaled now
        self._journal_dir: Path | None = None  # the VISIT_JOURNAL_DIR it stands for
        # A journal that failed hands over to one in VISIT_JOURNAL_SPARE_DIR, once: then
        # `_journal` is `_spare` and `_replaced` the failed one (its lease kept).
        self._spare: Journal | None = None
        self._replaced: Journal | None = None
        self._spare_failed = False
        self._supersede_failed = False
        self._in_flight = 0  # visits a flush has taken and not yet written or given back
        self._dropped = 0  # visits past VISIT_BUFFER_MAX, not yet logged
        self._dropped_total = 0
        self._buffered = 0  # visits buffered since the last flush told /metrics
        self._dropped_logged_at = -float("inf")
        self._failing = False  # the last flush failed: say the next failure in one line

    def add(self, link_id: int, meta: dict, country: str | None = None, address: str = "") -> None:
        """Buffer one visit; its country is looked up now (`country` when the caller has
        it already), so the address never has to be kept for it. `address`: the client's
        as the rate limiter chose it (`request.torii.client_address`, proxies
        considered); empty, META's REMOTE_ADDR."""
        raw = (
            time.time(),
            link_id,
            address or meta.get("REMOTE_ADDR", ""),
            meta.get("HTTP_USER_AGENT", "")[:MAX_USER_AGENT],
            meta.get("HTTP_REFERER", "")[:MAX_REFERRER],
            country_of(meta, address) if country is None else country,
        )
        directory, limit = _settings or _read_settings()
        journal = self._journal
        if self._journal_dir is not directory or (journal is None) is not (directory is None):
            journal = self._open_journal(directory)
        record = encode(raw) if journal is not None else b""
        with self._lock:
            # Past the bound a visit is neither kept nor journaled: memory and the journal
            # hold at most VISIT_BUFFER_MAX visits, whatever the database does.
            kept = len(self._pending) + self._in_flight < limit
            if kept:
                # Both under the lock: a flush takes exactly the visits its files hold.
                if journal is not None:
                    self._journal_one(record)
                self._pending.append(raw)
                self._buffered += 1  # /metrics hears of it at the next flush
            else:
                self._dropped += 1
                self._dropped_total += 1
        if not kept:
            metrics.dropped_full()
            self._log_dropped()
        if (self._thread is None or self._pid != os.getpid()) and flush_seconds() > 0:
            self._start()

    def start(self) -> None:
        """At process start: open the journal and start the flushing thread, whose first
        act is writing the journals of processes that died. Without this a quiet server
        restarted after a crash would wait for a redirect to do it. Two processes starting
        at once recover each file once: a claim is an atomic rename (the journal's lease)."""
        directory, _ = _settings or _read_settings()
        if directory is not None:
            self._open_journal(directory)
        if flush_seconds() > 0:
            self._start()

    def _journal_one(self, record: bytes) -> None:
        """Journal a visit where visits go now, handing over to the spare when that fails
        (under the buffer's lock)."""
        journal = self._journal
        if journal is not None and not journal.append(record):
            spare = self._fail_over()
            if spare is not None:
                spare.append(record)

    def _fail_over(self) -> Journal | None:
        """The journal failed (its volume read-only or full): journal every pending visit
        again in the spare directory, name the files that held them as superseded there,
        and journal there from now on. None when there is no spare, or it fails too (the
        visits are then in memory only). Under the buffer's lock."""
        failed = self._journal
        if failed is None or failed is self._spare or self._spare_failed:
            return None
        directory = settings.VISIT_JOURNAL_SPARE_DIR
        if directory is None:
            return None
        spare = self._spare if self._spare is not None else Journal(directory)
        try:
            for raw in self._pending:  # a kill from here on loses none: twice at worst
                if not spare.append(encode(raw)):
                    raise OSError(f"cannot journal visits in {directory}")
            spare.supersede(failed.pending_files())
        except OSError:
            logger.exception(
                "Cannot journal visits in the spare directory %s either: until the data "
                "volume works again, a killed process loses the visits it buffered",
                directory,
            )
            spare.remove(spare.rotate())
            self._spare_failed = True
            return None
        logger.error(
            "Journaling visits in the spare directory %s while %s cannot be written",
            directory,
            failed.directory,
        )
        self._spare, self._replaced, self._journal = spare, failed, spare
        return spare

    def _supersede(self, files: list[Path]) -> None:
        """Files whose visits are written (or journaled anew) and that could not be removed:
        named in the spare, so that no recovery writes them again. Under the buffer's lock."""
        spare = self._journal if self._journal is self._spare else self._fail_over()
        try:
            if spare is None:
                raise OSError("no spare directory for the visit journal")
            spare.supersede(files)
        except OSError as error:
            if not self._supersede_failed:
                logger.error(
                    "Cannot remove %d visit journal files whose visits are written (%s): "
                    "a process recovering them later writes them again",
                    len(files),
                    error,
                )
            self._supersede_failed = True

    def pending(self) -> int:
        return len(self._pending)

    def dropped(self) -> int:
        """Visits dropped past VISIT_BUFFER_MAX since the process started."""
        return self._dropped_total

    def discard(self) -> None:
        """Forget the pending visits and the journal, files and all (for tests)."""
        with self._lock:
            self._pending = []
            self._dropped = self._dropped_total = 0
            self._dropped_logged_at = -float("inf")
            journal, self._journal = self._journal, None
            others, self._spare, self._replaced = {self._spare, self._replaced}, None, None
            self._journal_dir = None
            self._spare_failed = self._supersede_failed = False
            for each in ({journal} | others) - {None}:
                each.discard()

    def flush(self) -> int:
        """Write what is pending now; how many visits were written.

        Rows the database refuses are dropped (`write_batch`). When it is unavailable,
        what is left unwritten is kept, before the newer visits, for the next attempt;
        its journal files too, or, when part of the batch got written, a new journal of
        the rest. A batch's files are removed once every visit in them is written,
        dropped, or journaled again.
        """
        with self._flush_lock:
            self._log_dropped()
            orphans.flush()  # the visits to no link, counted in memory
            with self._lock:
                raws, self._pending = self._pending, []
                buffered, self._buffered = self._buffered, 0
                self._in_flight = len(raws)  # still counted against VISIT_BUFFER_MAX
                journal = self._journal
                files = journal.rotate() if journal is not None else []
            metrics.buffered(buffered)
            if not raws:
                if journal is not None:
                    journal.remove(files)
                return 0
            try:
                outcome = write_batch(raws)
            finally:
                with self._lock:
                    self._in_flight = 0
            if outcome.left:
                self._keep(outcome, journal, files)
                return outcome.written
            self._failing = False
            # At once: a kill before this writes them twice.
            if journal is not None and (kept := journal.remove(files)):
                with self._lock:
                    self._supersede(kept)
            return outcome.written

    def _keep(self, outcome: Outcome, journal: Journal | None, files: list) -> None:
        """The database is unavailable: keep what it left unwritten for the next flush."""
        left = outcome.left
        if self._failing:  # one line a flush while the outage lasts, the traceback once
            logger.error(
                "Writing %d visits failed again (%s); keeping them for the next flush",
                len(left),
                f"{type(outcome.error).__name__}: {outcome.error}".strip().splitlines()[0],
            )
        else:
            logger.error(
                "Writing %d visits failed; keeping them for the next flush",
                len(left),
                exc_info=outcome.error,
            )
        self._failing = True
        with self._lock:
            self._pending[:0] = left
            if journal is None:
                return
            if journal is self._journal and not (outcome.written or outcome.dropped):
                journal.restore(files)  # nothing written or dropped: the files hold it all
                return
            # The files also hold visits now written, or the journal handed over to its
            # spare since the flush began: journal the rest anew, then remove them (a kill
            # in between writes the rest twice, never loses it).
            for raw in left:
                self._journal_one(encode(raw))
            if kept := journal.remove(files):
                self._supersede(kept)

    def _log_dropped(self, *, final: bool = False) -> None:
        """Say how many visits were dropped past VISIT_BUFFER_MAX, at most once a minute."""
        now = time.monotonic()
        with self._lock:
            if not self._dropped or (
                not final and now - self._dropped_logged_at < DROPS_LOG_SECONDS
            ):
                return
            dropped, self._dropped = self._dropped, 0
            since = now - self._dropped_logged_at
            self._dropped_logged_at = now
        logger.error(
            "Dropped %d visits past VISIT_BUFFER_MAX=%d%s: the database is not taking them",
            dropped,
            settings.VISIT_BUFFER_MAX,
            f" in the last {since:.0f} s" if since < 10 * DROPS_LOG_SECONDS else "",
            extra=EVERY_ONE,
        )

    def recover(self) -> int:
        """Write the visits journaled by processes that died; how many."""
        if self._journal is None:
            return 0
        with self._flush_lock:
            with self._lock:
                primary = self._replaced or self._journal
                spare = self._spare_for_recovery()
            # The spare first: what a dead process journaled there supersedes its files
            # in the primary directory, which are then deleted, never written.
            total = self._recover_in(spare) if spare is not None else 0
            total += self._recover_in(primary, spare.superseded if spare is not None else None)
            if spare is not None:
                try:
                    spare.forget_superseded(primary.directory)
                except OSError:
                    logger.exception("Cannot tidy the spare visit journal %s", spare.directory)
            return total

    def _spare_for_recovery(self) -> Journal | None:
        """The spare directory's journal, when there is one to look in (under the lock)."""
        directory = settings.VISIT_JOURNAL_SPARE_DIR
        if self._spare is None and directory is not None and directory.is_dir():
            self._spare = Journal(directory)
        return self._spare

    def _recover_in(self, journal: Journal, superseded=None) -> int:
        try:
            journal.claim_orphans(superseded)
        except OSError:
            logger.exception("Cannot claim dead processes' journals in %s", journal.directory)
        written = journal.replay(write_recovered)
        if journal.unremovable:
            with self._lock:
                self._supersede(journal.unremovable)
            journal.unremovable = []
        return written

    def _open_journal(self, directory: Path | None) -> Journal | None:
        """The journal for VISIT_JOURNAL_DIR, made on the first visit (and again when a
        test changes the setting); None when it is off."""
        with self._lock:
            old = self._journal
            if old is not None and self._journal_dir is directory:
                return old
            self._journal = Journal(directory) if directory is not None else None
            self._journal_dir = directory
            # Their visits stay pending, in memory only: no duplicates.
            for journal in {old, self._spare, self._replaced} - {None}:
                journal.close(remove_own=True)
            self._spare = self._replaced = None
            self._spare_failed = self._supersede_failed = False
            return self._journal

    def _forget_parent(self) -> None:
        """In a forked child: fresh locks, no thread, and none of the parent's journal or
        the visits it holds (the parent writes those, or recovers them when it dies)."""
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = None
        self._in_flight = self._dropped = self._dropped_total = self._buffered = 0
        self._dropped_logged_at = -float("inf")
        self._failing = False
        self._spare_failed = self._supersede_failed = False
        for journal in {self._journal, self._spare, self._replaced} - {None}:
            journal.abandon()
        if self._journal is not None:
            self._journal = None
            self._pending = []
        self._spare = self._replaced = self._journal_dir = None

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="visit-flusher", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        self.recover()
        recovered_at = time.monotonic()
        while not self._stopping.wait(flush_seconds()):
            self.flush()
            if time.monotonic() - recovered_at >= RECOVER_SECONDS:
                self.recover()
                recovered_at = time.monotonic()
            close_old_connections()

    def shutdown(self) -> None:
        """Stop the thread, write everything that is left and any dead process's journal,
        and remove this process's journal (called at process exit)."""
        self._stopping.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=5)
        self.flush()
        self.recover()
        self._log_dropped(final=True)
        with self._lock:
            journal, self._journal = self._journal, None
            others, self._spare, self._replaced = {self._spare, self._replaced}, None, None
            self._journal_dir = None
            if journal is not None:
                journal.close(remove_own=not self._pending)
            for other in others - {None, journal}:
                other.close(remove_own=True)  # the replaced one's files are superseded


buffer = VisitBuffer()
atexit.register(buffer.shutdown)
os.register_at_fork(after_in_child=buffer._forget_parent)
