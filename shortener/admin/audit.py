"""The audit log in Django admin: read, searched and filtered, never added, changed or
deleted (the model refuses too). The staff page /audit/ reads it with CSV export."""

from django.contrib import admin

from shortener.audit.models import Entry


@admin.register(Entry)
class EntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_name", "action", "kind", "object_id", "summary", "via"]
    list_filter = ["kind", "action", "via"]
    search_fields = ["actor_name", "summary", "object_id", "object_name"]
    date_hierarchy = "at"
    fields = ["at", "actor", "actor_name", "action", "kind", "object_id", "object_name"]
    fields += ["summary"]
    fields += ["changes", "via", "via_detail"]
    readonly_fields = fields
    actions = None  # not even "delete selected"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
