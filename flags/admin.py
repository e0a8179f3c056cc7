"""FeatureFlag in admin: waffle skips registering its flag admin for a swapped model."""

from django.contrib import admin
from waffle.admin import FlagAdmin

from flags.models import FeatureFlag


@admin.register(FeatureFlag)
class FeatureFlagAdmin(FlagAdmin):
    pass
