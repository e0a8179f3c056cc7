"""Blocklist feeds: domain lists from files (abuse.ch, hosts files, Adblock lists) put on
the blocklist through the one blocking function, and the links that lead to a newly
blocked domain quarantined for staff to review.

`import_feed()` reads the whole file first (shortener/safety/feed_formats.py, streamed)
and only then writes, in one transaction: a file that cannot be read, or names more
than MAX_DOMAINS, writes nothing. Entries are recorded with the source `feed:<name>`.
A feed reaches only the domains it adds: re-reading tomorrow's copy of the same feed
does not quarantine again a link staff released, nor touch one another entry holds.

Existing links are quarantined, not disabled as `links.block()` does for a person's
decision: a third-party list is sometimes wrong, and quarantine puts the link in the
review queue with its reason, where staff release or disable it.

`daily_feeds` is the task the worker runs once a day at AT for every feed in
settings.BLOCKLIST_FEEDS (scheduled like the daily backup: by itself and by `migrate`).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from shortener import links
from shortener.domains.models import Domain
from shortener.links import SYSTEM
from shortener.links.blocking import blocking_entry, listed
from shortener.links.models import ReportReason, StateChange
from shortener.safety import feed_formats

logger = logging.getLogger(__name__)
READ_CHUNK = 64 * 1024
AT = time(4, 0, tzinfo=UTC)  # after the 03:00 backup
SOURCE_PREFIX = "feed:"


class FeedUnreadable(ValueError):
    """The feed could not be read (missing file, too many domains): nothing written.
    `reason` is the sentence to show."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Imported:
    """What importing one feed did, for the command and the task to say."""

    source: str
    path: str
    reading: feed_formats.Reading
    added: tuple[str, ...]
    already: int
    quarantined: tuple[str, ...]  # keys of the links this import quarantined

    def __str__(self) -> str:
        domains = len(self.reading.domains)
        return (
            f"Feed {self.source} ({self.path}): {self.reading.lines} line(s), "
            f"{domains} domain(s): {len(self.added)} newly blocked, {self.already} already "
            f"blocked; quarantined {len(self.quarantined)} link(s){listed(self.quarantined)}; "
            f"{self.reading.skipped_sentence()}."
        )


def own_hosts() -> list[str]:
    """The site's own short domains: a feed that names one (or a domain above it) is not
    obeyed for it, or the site would block itself."""
    return [settings.SITE_HOST, *Domain.objects.values_list("host", flat=True)]


def chunks(path: Path):
    with open(path, "rb") as stream:
        while chunk := stream.read(READ_CHUNK):
            yield chunk


def source_problem(source: str) -> str | None:
    name = source or ""
    if not name or len(name) > 40 or not all(ch.isalnum() or ch in "._-" for ch in name):
        return "Name the feed's source in at most 40 letters, digits, dots, dashes or underscores."
    return None


def import_feed(path, *, source: str, fmt: str = "auto") -> Imported:
    """Read the feed at `path` and block what it names, quarantining the links that lead
    to a newly blocked domain; FeedUnreadable (nothing written) if it cannot be read."""
    if problem := source_problem(source):
        raise FeedUnreadable(problem)
    if fmt not in feed_formats.FORMATS:
        raise FeedUnreadable(f"Choose a format among {', '.join(feed_formats.FORMATS)}.")
    path = Path(path)
    try:
        reading = feed_formats.read(chunks(path), fmt, own_hosts())
    except OSError as error:
        said = f"The feed {source} cannot be read from {path}: {error.strerror}."
        raise FeedUnreadable(said) from None
    except feed_formats.FeedTooLarge as error:
        raise FeedUnreadable(f"The feed {source} at {path}: {error}") from None
    tag = f"{SOURCE_PREFIX}{source}"
    with transaction.atomic():
        done = links.block_all(
            list(reading.domains),
            by=SYSTEM,
            reason=f"On the blocklist feed {source}.",
            source=tag,
            disable=False,
            existing_too=False,
        )
        quarantined = []
        for link in done.leading:
            entry = blocking_entry(link, done.added)
            if links.quarantine(
                link,
                by=SYSTEM,
                reason=ReportReason.OTHER,
                why=f"It leads to {entry}, which the blocklist feed {source} lists.",
                source=tag,
            ):
                quarantined.append(link.key)
    return Imported(source, str(path), reading, done.added, len(done.already), tuple(quarantined))


def quarantined_by_feed(link) -> str:
    """Why a feed quarantined `link`, as its history says, or "" (not quarantined by one):
    the owner's page says this rather than "reported as something else"."""
    if link.quarantined_at is None:
        return ""
    last = (
        link.state_changes.filter(action=StateChange.Action.QUARANTINED)
        .order_by("-id")
        .values_list("source", "reason")
        .first()
    )
    return last[1] if last and last[0].startswith(SOURCE_PREFIX) else ""


def configured() -> list[dict]:
    """settings.BLOCKLIST_FEEDS: [{"source", "path", "format"}], checked at start-up."""
    return list(getattr(settings, "BLOCKLIST_FEEDS", []) or [])


def import_configured() -> list[str]:
    """Import every configured feed, each on its own: one that fails is said and the
    others still run."""
    said = []
    for feed in configured():
        try:
            said.append(str(import_feed(feed["path"], source=feed["source"], fmt=feed["format"])))
        except FeedUnreadable as refusal:
            logger.warning("Blocklist feed %s not imported: %s", feed["source"], refusal.reason)
            said.append(refusal.reason)
    return said


@task()
def daily_feeds() -> str:
    try:
        said = import_configured()
    finally:
        schedule_next()
    for line in said:
        logger.info("%s", line)
    return "\n".join(said)


def next_run(now: datetime) -> datetime:
    today = datetime.combine(now.date(), AT)
    return today if today > now else today + timedelta(days=1)


def schedule_next(now: datetime | None = None) -> bool:
    """Queue the next daily import unless one is waiting (or no feed is configured)."""
    if not configured():
        return False
    if "django_tasks_db" in settings.TASKS["default"]["BACKEND"]:
        from django_tasks_db.models import DBTaskResult  # the queue Torii runs on

        waiting = DBTaskResult.objects.filter(task_path=daily_feeds.module_path, status="READY")
        if waiting.exists():
            return False
    daily_feeds.using(run_after=next_run(now or timezone.now())).enqueue()
    return True
