"""Visits and their daily rollups."""

from django.db import models

from shortener.links.models import Link


class Device(models.TextChoices):
    DESKTOP = "desktop", "Desktop"
    MOBILE = "mobile", "Mobile"
    TABLET = "tablet", "Tablet"
    BOT = "bot", "Bot"
    OTHER = "other", "Other"


class Visit(models.Model):
    """One followed redirect. Nothing here identifies a person: no IP address is stored,
    and `visitor` is a hash salted with a key that changes every day."""

    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="visits")
    at = models.DateTimeField()
    referrer_host = models.CharField(max_length=253, blank=True)
    browser = models.CharField(max_length=50, blank=True)
    os = models.CharField(max_length=50, blank=True)
    device = models.CharField(max_length=10, choices=Device.choices, default=Device.OTHER)
    is_bot = models.BooleanField(default=False)
    visitor = models.CharField(max_length=32)
    # ISO 3166 alpha-2, "" unknown; looked up when buffered (shortener/countries.py).
    country = models.CharField(max_length=2, blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["link", "at"])]

    def __str__(self) -> str:
        return f"{self.link_id} at {self.at:%Y-%m-%d %H:%M:%S}"


# The daily rollups: what the stats pages and the API read instead of raw visits.
# Written by the visit flush in the same transaction as the visits
# (shortener/visits/rollups.py), rebuilt from raw visits by `manage.py rollup_visits`.
# A day is a UTC day.


class DailyStat(models.Model):
    """A link's visits on one day: clicks, bots among them, distinct visitors that day."""

    pk = models.CompositePrimaryKey("link", "day")
    # The primary key starts with the link: its index serves every lookup by link.
    link = models.ForeignKey(
        "shortener.Link", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    clicks = models.BigIntegerField(default=0)
    bots = models.BigIntegerField(default=0)
    visitors = models.BigIntegerField(default=0)

    class Meta:
        # The site's top links over a range of days: read from this index alone.
        indexes = [models.Index(fields=["day", "link", "clicks"], name="dailystat_day_link")]

    def __str__(self) -> str:
        return f"{self.link_id} on {self.day}: {self.clicks}"


class DailyCount(models.Model):
    """A link's visits on one day with one value of a breakdown (a browser, a referrer host)."""

    pk = models.CompositePrimaryKey("link", "dimension", "day", "value")
    # The primary key starts with the link: its index serves every lookup by link.
    link = models.ForeignKey(
        "shortener.Link", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    dimension = models.CharField(max_length=16)
    day = models.DateField()
    value = models.CharField(max_length=253, blank=True)
    n = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.link_id} on {self.day}: {self.dimension}={self.value!r} {self.n}"


class DailyVisitor(models.Model):
    """A visitor key seen on a link on a day: the insert that succeeds is a new visitor."""

    pk = models.CompositePrimaryKey("link", "day", "visitor")
    # The primary key starts with the link: its index serves every lookup by link.
    link = models.ForeignKey(
        "shortener.Link", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    visitor = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"{self.link_id} on {self.day}: {self.visitor}"


class VisitorSalt(models.Model):
    """The day's random salt of visitor keys, shared by every worker and kept for two days.

    In the database rather than the shared cache, where a Redis restart, an eviction or
    a cleared cache made a new salt and counted one visitor twice; random rather than
    derived from SECRET_KEY, so a day's keys cannot be recomputed once its row is gone.
    """

    day = models.DateField(primary_key=True)
    salt = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"visitor salt of {self.day}"


# The site's own rollups: every link's visits of a day added up, written with the links'
# (shortener/visits/rollups.py), so the site-wide stats page reads a row a day, not a row
# per link and day. Unique visitors are the links' daily visitors added up.


class SiteDailyStat(models.Model):
    """Every link's visits on one day: clicks, bots among them, the links' visitors summed."""

    day = models.DateField(primary_key=True)
    clicks = models.BigIntegerField(default=0)
    bots = models.BigIntegerField(default=0)
    visitors = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"site on {self.day}: {self.clicks}"


class SiteDailyCount(models.Model):
    """Every link's visits on one day with one value of a breakdown."""

    pk = models.CompositePrimaryKey("dimension", "day", "value")
    dimension = models.CharField(max_length=16)
    day = models.DateField()
    value = models.CharField(max_length=253, blank=True)
    n = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"site on {self.day}: {self.dimension}={self.value!r} {self.n}"


class OrphanKind(models.TextChoices):
    ROOT = "root", "Domain root"
    UNKNOWN = "unknown", "Unknown slug"
    INVALID = "invalid", "Not a slug"


class OrphanVisit(models.Model):
    """Visits on a day to a short domain's root, to a slug no link has, or to a path that
    is no slug at all (odd bytes, overlong): a count, and nothing else of the visitor
    or the path (shortener/visits/orphans.py)."""

    pk = models.CompositePrimaryKey("day", "domain", "kind")
    day = models.DateField()
    domain = models.ForeignKey(
        "shortener.Domain", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=8, choices=OrphanKind.choices)
    n = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.domain_id} on {self.day}: {self.kind} {self.n}"


class PrunedVisits(models.Model):
    """How far raw visits were deleted (`prune_visits`, VISIT_RETENTION_DAYS): one row.
    Days before `before` live only in the rollups, which `rollup_visits` then leaves alone."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    before = models.DateField()
    at = models.DateTimeField()
    deleted = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"visits before {self.before} deleted"
