"""Webhook sources (who may send, with which secrets) and the events they delivered."""

import base64
import hashlib
import secrets

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.urls import reverse
from django.utils import timezone

from shortener.audit.models import Action, Kind
from shortener.audit.recording import record

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES = 32  # Standard Webhooks asks for 24 to 64 random bytes


def new_secret() -> str:
    """`whsec_` and base64 of fresh random bytes: the form Standard Webhooks libraries read."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def printable(text: str) -> str:
    """Without control characters: PostgreSQL text refuses NUL, and staff read these."""
    return "".join(ch for ch in text if ch.isprintable())


class SignatureScheme(models.TextChoices):
    STANDARD = "standard", "Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)"
    GITHUB = "github", "GitHub style (X-Hub-Signature-256, X-GitHub-Delivery)"


# Schemes whose signature does not cover the delivery id: a captured body replays under
# a new id, so the receiver also dedupes on the body's digest (WEBHOOK_REPLAY_WINDOW).
UNSIGNED_DELIVERY_ID = frozenset({SignatureScheme.GITHUB})


def body_digest(body: bytes) -> str:
    return hashlib.sha256(bytes(body)).hexdigest()


class WebhookSource(models.Model):
    """A system allowed to POST events to /webhooks/<name>/: it acts as `owner`, for one
    `workspace` when it names one (links it creates go there, it disables only there);
    without one, it creates in the owner's personal workspace and reaches every link the
    owner may."""

    name = models.SlugField(max_length=50, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="webhook_sources"
    )
    workspace = models.ForeignKey(
        "shortener.Workspace",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="webhook_sources",
        help_text="The workspace it acts for; its owner must be an editor or owner there.",
    )
    scheme = models.CharField(
        max_length=10, choices=SignatureScheme.choices, default=SignatureScheme.STANDARD
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def receiver_path(self) -> str:
        return reverse("webhook-receive", kwargs={"source": self.name})

    def secret_values(self) -> list[str]:
        """Every secret that currently verifies a delivery, newest first."""
        return [s.value for s in self.secrets.all()]

    def add_secret(self) -> str:
        """Add a fresh secret (rotation) and return it: the only time it is shown."""
        value = new_secret()
        rotated = self.secrets.exists()  # a source's first secret is part of making it
        self.secrets.create(value=value)
        if rotated:
            said = (
                f"Added a new secret to the webhook source {self.name} (the old ones still work)."
            )
            record(Action.ROTATED, Kind.WEBHOOK_SOURCE, self.pk, said)
        return value

    def retire_old_secrets(self) -> int:
        """Keep only the newest secret; returns how many were removed."""
        newest = self.secrets.order_by("-created_at", "-id").first()
        if newest is None:
            return 0
        deleted, _ = self.secrets.exclude(pk=newest.pk).delete()
        if deleted:
            said = f"Retired {deleted} old secret(s) of the webhook source {self.name}."
            record(Action.CHANGED, Kind.WEBHOOK_SOURCE, self.pk, said)
        return deleted


class WebhookSecret(models.Model):
    """One signing secret of a source; a source has two while a rotation is under way.

    Stored as given because HMAC needs the key itself; it is shown once, when made.
    """

    source = models.ForeignKey(WebhookSource, on_delete=models.CASCADE, related_name="secrets")
    value = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"secret of {self.source.name} made {self.created_at:%Y-%m-%d %H:%M}"


class EventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"
    IGNORED = "ignored", "Ignored"


class WebhookEvent(models.Model):
    """One delivery, stored before anything acts on it; unique per source and delivery id."""

    source = models.ForeignKey(WebhookSource, on_delete=models.CASCADE, related_name="events")
    delivery_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100, blank=True)
    # Bytes, exactly as signed: the body may not be text (PostgreSQL text refuses NUL).
    body = models.BinaryField()
    body_digest = models.CharField(max_length=64, blank=True, editable=False)  # SHA-256, hex
    headers = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=10, choices=EventStatus.choices, default=EventStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    outcome = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "delivery_id"], name="webhook_event_once_per_source"
            )
        ]
        indexes = [
            models.Index(fields=["status", "received_at"]),
            models.Index(
                fields=["source", "body_digest", "received_at"], name="webhook_event_replays"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source.name}/{self.delivery_id}"

    def save(self, *args, **kwargs):
        # Both come from the sender's body (a type, a schema error quoting it).
        self.event_type = printable(self.event_type)[:100]
        self.outcome = printable(self.outcome)
        if not self.body_digest:
            self.body_digest = body_digest(self.body)
        super().save(*args, **kwargs)

    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")


# Outbound webhooks: endpoints others run, the outbox of events, and each delivery.


class Endpoint(models.Model):
    """A URL that wants Torii's events about its owner's links (staff: every link).

    Its signing secret is shown once, when made or rotated; after a rotation the previous
    one keeps signing too (both signatures are sent) until `previous_secret_until`.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2048)
    event_types = models.JSONField(
        default=list, blank=True, help_text="The event types it wants; none listed: all of them."
    )
    enabled = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    # Since when every delivery has failed (None while the last one succeeded).
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.description or self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    def signing_secrets(self, now=None) -> list[str]:
        """The secrets that sign a delivery now: the current one, and the previous one
        during its grace period."""
        now = now or timezone.now()
        found = [self.secret]
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            found.append(self.previous_secret)
        return found

    def rotate_secret(self, *, grace, now=None) -> str:
        """A fresh secret, returned (the only time it is shown); the old one signs too
        for `grace`."""
        now = now or timezone.now()
        self.previous_secret, self.previous_secret_until = self.secret, now + grace
        self.secret = new_secret()
        self.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
        return self.secret


class OutboundEvent(models.Model):
    """The outbox: one row per change, written in the transaction of the change."""

    public_id = models.CharField(max_length=40, unique=True)  # the webhook-id, msg_…
    event_type = models.CharField(max_length=50)
    link = models.ForeignKey(
        "shortener.Link", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payload = models.JSONField(encoder=DjangoJSONEncoder)  # the body's `data`
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.public_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (not retried)"


class Delivery(models.Model):
    """One event for one endpoint, until delivered or given up."""

    event = models.ForeignKey(OutboundEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    # Copied from the event: the order per link is asked of this table alone.
    link_pk = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    retry_until = models.DateTimeField()  # 24 hours after it was made (or replayed)
    last_outcome = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_once_per_endpoint")
        ]
        indexes = [
            models.Index(fields=["endpoint", "link_pk", "status", "id"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint}"


class DeliveryAttempt(models.Model):
    """One try: what came back (status, duration, the answer's first KB) or what failed."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="tries")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_head = models.TextField(blank=True)  # at most 1 KB of the answer's body
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error} at {self.at:%Y-%m-%d %H:%M:%S}"
