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
