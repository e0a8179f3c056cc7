"""FeatureFlag (Torii's swapped-in waffle flag model) and FlagChange, the audit trail."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from waffle.models import AbstractUserFlag

from flags import registry
from flags.rules import describe


class FeatureFlag(AbstractUserFlag):
    """A waffle flag that also says what it gates and whom to ask about it."""

    # waffle's own field stops at 99.9 (max_digits=3); a rollout runs to 100 %.
    percent = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="A number from 0.0 to 100.0: the share of visitors who get the flag.",
        verbose_name="Percent",
    )
    description = models.TextField(blank=True, help_text="What this flag gates.")
    contact = models.CharField(
        max_length=200, blank=True, help_text="Who to ask before changing it."
    )

    class Meta(AbstractUserFlag.Meta):
        verbose_name = "feature flag"
        verbose_name_plural = "feature flags"

    def is_active(self, request, read_only: bool = False) -> bool | None:
        # waffle asks an unsaved instance when no row has the name: a typo must not pass quietly.
        if not self.pk:
            registry.missing_row(self.name)
        return super().is_active(request, read_only)

    def set_everyone(self, on: bool) -> None:
        self.everyone = on

    def roll_out_to(self, percent) -> None:
        """Hand the decision to the percentage (and groups, users) instead of everyone."""
        self.everyone = None
        self.percent = percent


class FlagChangeQuerySet(models.QuerySet):
    def latest_per_name(self, kind: str) -> dict[str, "FlagChange"]:
        """The most recent change of each flag (or switch) of this kind, by name."""
        newest = (
            self.filter(kind=kind, name=models.OuterRef("name"))
            .order_by("-changed_at", "-pk")
            .values("pk")[:1]
        )
        rows = self.filter(kind=kind, pk=models.Subquery(newest)).select_related("changed_by")
        return {change.name: change for change in rows}


class FlagChange(models.Model):
    """One change to a flag's or a switch's rule. Append-only: written once, never edited."""

    class Kind(models.TextChoices):
        FLAG = "flag"
        SWITCH = "switch"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=100, db_index=True)
    changed_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Null when code made the change (a migration, a shell, a task).
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text too, so the trail still says who after the account is deleted.
    changed_by_name = models.CharField(max_length=150, blank=True)
    before = models.JSONField(null=True, blank=True, help_text="The rule before; empty: created.")
    after = models.JSONField(null=True, blank=True, help_text="The rule after; empty: deleted.")

    objects = FlagChangeQuerySet.as_manager()

    class Meta:
        ordering = ["-changed_at", "-pk"]
        verbose_name = "flag change"
        verbose_name_plural = "flag changes"

    def __str__(self) -> str:
        return f"{self.kind} {self.name} changed {self.changed_at:%Y-%m-%d %H:%M:%S} by {self.who}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("FlagChange is append-only: an entry is never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("FlagChange is append-only: an entry is never deleted.")

    @property
    def who(self) -> str:
        return self.changed_by_name or "code"

    @property
    def before_text(self) -> str:
        return describe(self.before)

    @property
    def after_text(self) -> str:
        return describe(self.after)
