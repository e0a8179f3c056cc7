"""Webhook sources (who may send, with which secrets) and the events they delivered."""

import base64
import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

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
    """A system allowed to POST events to /webhooks/<name>/; links it creates belong to `owner`."""

    name = models.SlugField(max_length=50, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="webhook_sources"
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
        self.secrets.create(value=value)
        return value

    def retire_old_secrets(self) -> int:
        """Keep only the newest secret; returns how many were removed."""
        newest = self.secrets.order_by("-created_at", "-id").first()
        if newest is None:
            return 0
        deleted, _ = self.secrets.exclude(pk=newest.pk).delete()
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
