"""FeatureFlag: Torii's swapped-in waffle flag model (WAFFLE_FLAG_MODEL)."""

from django.db import models
from waffle.models import AbstractUserFlag


class FeatureFlag(AbstractUserFlag):
    """A waffle flag that also says what it gates and whom to ask about it."""

    description = models.TextField(blank=True, help_text="What this flag gates.")
    contact = models.CharField(
        max_length=200, blank=True, help_text="Who to ask before changing it."
    )

    class Meta(AbstractUserFlag.Meta):
        verbose_name = "feature flag"
        verbose_name_plural = "feature flags"
