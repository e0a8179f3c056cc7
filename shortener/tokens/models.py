"""Personal API tokens (only a digest is stored) and the Idempotency-Keys their POSTs leave
behind, kept for a day."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from shortener.tokens import scopes as rules


class ApiToken(models.Model):
    """A personal API token: only its SHA-256 digest is stored, the token is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The token's visible start.")
    digest = models.CharField(max_length=64, unique=True)
    # issue() sets it, so that an expiry is exactly its lifetime after it
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # What it may do (shortener.tokens.scopes), in the catalogue's order; none: nothing.
    scopes = models.JSONField(default=list, blank=True)
    # After this it answers 401; null: it never expires.
    expires_at = models.DateTimeField(null=True, blank=True)
    # The one workspace it acts for (its lists, creates and links); null: its user's
    # personal workspace, as tokens made before workspaces do.
    workspace = models.ForeignKey(
        "shortener.Workspace",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_tokens",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now=None) -> bool:
        return rules.is_expired(self.expires_at, now or timezone.now())

    def expires_soon(self, now=None) -> bool:
        return rules.expires_soon(self.expires_at, now or timezone.now())

    def may(self, scope: str) -> bool:
        return scope in self.scopes

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


# How long an Idempotency-Key's outcome is replayed.
IDEMPOTENCY_KEEP = timedelta(hours=24)


class IdempotencyKeyQuerySet(models.QuerySet):
    def prune(self, *, user=None, now=None) -> int:
        """Forget keys older than KEEP (for one user, or everyone); returns how many."""
        keys = self.filter(created_at__lt=(now or timezone.now()) - IDEMPOTENCY_KEEP)
        if user is not None:
            keys = keys.filter(user=user)
        return keys.delete()[0]


class IdempotencyKey(models.Model):
    """One API POST by key and user: in flight while `status` is null, then its stored reply."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.TextField(blank=True)
    location = models.CharField(max_length=2048, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = IdempotencyKeyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")
        ]

    def __str__(self) -> str:
        return self.key
