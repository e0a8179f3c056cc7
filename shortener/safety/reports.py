"""Reporting a link: what a report may hold, who counts as a distinct reporter, and the
automatic quarantine when REPORT_QUARANTINE_THRESHOLD distinct reporters report one link
within REPORT_WINDOW.

Distinct reporters are counted by an HMAC of the client address of their own (Django's
`salted_hmac`, keyed by SECRET_KEY, salted with the link), not by the visits' daily
salt: a visitor key changes at midnight, so one person reporting at 23:59 and 00:01
would count twice, and the count runs over 24 hours, not a calendar day."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import transaction
from django.utils.crypto import salted_hmac

from shortener import links
from shortener.links import SYSTEM
from shortener.links.models import Link, ReportReason
from shortener.links.text import text_problem
from shortener.safety.models import EMAIL_MAX, TEXT_MAX, Report

REPORT_WINDOW = timedelta(hours=24)
DEFAULT_THRESHOLD = 3
# When reporters disagree, the quarantine names the gravest reason among the most given.
GRAVITY = [
    ReportReason.PHISHING,
    ReportReason.MALWARE,
    ReportReason.ILLEGAL,
    ReportReason.SPAM,
    ReportReason.OTHER,
]
NO_REASON = "Choose why you report this link."
# The reporter of the link-health checker's flags (shortener/safety/health.py); a
# visitor's is an HMAC in hex, so the two never meet.
HEALTH_REPORTER = "link-health"


def threshold() -> int:
    return getattr(settings, "REPORT_QUARANTINE_THRESHOLD", DEFAULT_THRESHOLD)


def problems(values: dict) -> dict[str, str]:
    """Each field's refusal, in a sentence; empty when the report may be stored."""
    found = {}
    if values.get("reason") not in ReportReason.values:
        found["reason"] = NO_REASON
    text = values.get("text", "")
    if not isinstance(text, str):
        found["text"] = "The description must be text."
    elif said := text_problem(text, label="description", max_length=TEXT_MAX, multiline=True):
        found["text"] = said
    email = values.get("email", "")
    if not isinstance(email, str):
        found["email"] = "The e-mail address must be text."
    elif said := text_problem(email, label="e-mail address", max_length=EMAIL_MAX):
        found["email"] = said
    elif email.strip():
        try:
            EmailValidator()(email.strip())
        except ValidationError:
            found["email"] = "Enter an e-mail address such as name@example.org, or leave it empty."
    return found


def reporter_of(link: Link, address: str) -> str:
    return salted_hmac(
        "torii.report.reporter", f"{link.pk}|{address}", algorithm="sha256"
    ).hexdigest()[:32]


@dataclass(frozen=True)
class Reported:
    """What a report did: stored (False: this reporter had reported the link today) and
    whether it quarantined the link."""

    stored: bool
    quarantined: bool


def report(link: Link, *, reason: str, text: str, email: str, address: str, now: datetime):
    """Store a report (the caller checked `problems()` and the form token) and
    quarantine the link once enough distinct reporters reported it within the window."""
    if said := problems({"reason": reason, "text": text, "email": email}):
        raise ValueError(said)
    reporter = reporter_of(link, address)
    since = now - REPORT_WINDOW
    with transaction.atomic():
        # Lock the link: two reports at once must not both miss the threshold.
        link = Link.objects.select_for_update().get(pk=link.pk)
        recent = Report.objects.filter(link=link, decision__isnull=True, created_at__gte=since)
        if recent.filter(reporter=reporter).exists():
            return Reported(stored=False, quarantined=False)
        Report.objects.create(
            link=link,
            reason=reason,
            text=text.strip(),
            email=email.strip(),
            reporter=reporter,
            created_at=now,
        )
        # The health checker's flag is no visitor: it never counts toward a quarantine.
        people = recent.exclude(reporter=HEALTH_REPORTER)
        reporters = people.values("reporter").distinct().count()
        quarantined = False
        if reporters >= threshold() and link.deleted_at is None and link.quarantined_at is None:
            reasons = Counter(people.values_list("reason", flat=True))
            why = gravest(reasons)
            quarantined = links.quarantine(
                link,
                by=SYSTEM,
                reason=why,
                why=f"Reported as {why} by {reporters} visitors within 24 hours.",
                source="reports",
            )
    return Reported(stored=True, quarantined=quarantined)


def gravest(reasons: Counter) -> str:
    most = max(reasons.values())
    return next(reason for reason in GRAVITY if reasons.get(reason) == most)


def open_reasons(link: Link) -> list[tuple[str, int]]:
    """The reasons of a link's open reports with how many gave each, gravest first: what
    its owner is told (never who reported it, nor what they wrote)."""
    counted = Counter(
        Report.objects.filter(link=link, decision__isnull=True).values_list("reason", flat=True)
    )
    return [(reason.label.split(" (")[0], counted[reason]) for reason in GRAVITY if counted[reason]]
