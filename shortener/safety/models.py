"""Reports of links by visitors and the decisions staff take on them.

A report never holds the reporter's address: `reporter` is an HMAC of the address under
a key derived from SECRET_KEY and the link (shortener/safety/reports.py), enough to count
distinct reporters of one link and useless for following a person across links."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from shortener.links.models import Link, ReportReason

TEXT_MAX = 1000
EMAIL_MAX = 254


class Decision(models.Model):
    """One decision of the review queue on one link: who, when, what and why."""

    class Action(models.TextChoices):
        DISMISSED = "dismissed", "Dismissed the reports"
        QUARANTINED = "quarantined", "Quarantined"
        RELEASED = "released", "Lifted the quarantine"
        DISABLED = "disabled", "Disabled"
        BLOCKED = "blocked", "Blocked the domain"
        SUSPENDED = "suspended", "Suspended the owner from creating links"

    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="decisions")
    action = models.CharField(max_length=12, choices=Action.choices)
    note = models.CharField(max_length=300, blank=True)
    # What the action touched beyond the link: the blocked domain, the suspended person.
    detail = models.CharField(max_length=300, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-decided_at", "-id"]

    def __str__(self) -> str:
        return f"{self.link.slug}: {self.action}"


class Report(models.Model):
    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="reports")
    reason = models.CharField(max_length=10, choices=ReportReason.choices)
    text = models.TextField(blank=True, max_length=TEXT_MAX)
    email = models.EmailField(blank=True, max_length=EMAIL_MAX)
    reporter = models.CharField(max_length=32)  # HMAC of the address, never the address
    created_at = models.DateTimeField(default=timezone.now)
    # The decision that closed it; an open report has none.
    decision = models.ForeignKey(
        Decision, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Counting a link's distinct reporters of the last day, and the open queue.
            models.Index(
                fields=["link", "created_at"],
                condition=Q(decision__isnull=True),
                name="report_open_by_link",
            )
        ]

    def __str__(self) -> str:
        return f"{self.link.slug}: {self.reason}"


class LinkHealth(models.Model):
    """The last check of a link's destination (shortener/safety/health.py): one row a link,
    replaced by each check; `failing_since` is the first failed check of the current run
    of failures, for "unreachable since …"."""

    class Result(models.TextChoices):
        OK = "ok", "Reachable"
        STATUS = "status", "Answers with an error"
        REDIRECTED = "redirected", "Redirects elsewhere"
        DNS_GONE = "dns_gone", "Domain no longer resolves"
        TLS_ERROR = "tls_error", "TLS error"
        TIMEOUT = "timeout", "Timed out"
        REFUSED = "refused", "Leads to an address Torii will not request"
        FAILED = "failed", "Unreachable"

    link = models.OneToOneField(
        Link, on_delete=models.CASCADE, primary_key=True, related_name="health"
    )
    result = models.CharField(max_length=12, choices=Result.choices)
    status = models.PositiveSmallIntegerField(null=True, blank=True)  # the last answer's
    final_url = models.CharField(max_length=2048, blank=True)  # where the redirects ended
    detail = models.CharField(max_length=300, blank=True)  # the fetcher's sentence
    checked_at = models.DateTimeField()
    failing_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["result"], name="link_health_result"),
            models.Index(fields=["checked_at"], name="link_health_checked"),
        ]

    def __str__(self) -> str:
        return f"{self.link_id}: {self.result}"

    @property
    def reachable(self) -> bool:
        return self.result in (self.Result.OK, self.Result.REDIRECTED)
