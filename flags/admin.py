"""FeatureFlag in admin (waffle skips its admin for a swapped model); the trail, read-only."""

from django.contrib import admin
from waffle.admin import FlagAdmin

from flags import audit
from flags.models import FeatureFlag, FlagChange


@admin.register(FeatureFlag)
class FeatureFlagAdmin(FlagAdmin):
    list_display = ("name", "description", "everyone", "percent", "staff", "authenticated")
    # Testing mode lets ?dwft_<flag>=1 turn a flag on for whoever asks: not offered.
    exclude = ("testing",)

    def changeform_view(self, request, *args, **kwargs):
        # The flag's fields, then its groups and users, are saved separately: one entry.
        with audit.one_change(by=request.user):
            return super().changeform_view(request, *args, **kwargs)


@admin.register(FlagChange)
class FlagChangeAdmin(admin.ModelAdmin):
    list_display = ("changed_at", "kind", "name", "who", "before_text", "after_text")
    list_filter = ("kind", "name")
    search_fields = ("name", "changed_by_name")
    date_hierarchy = "changed_at"
    readonly_fields = [field.name for field in FlagChange._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
