"""Links and the blocklist in Django admin: the slug is read-only, targets pass the policy."""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet

from shortener.models import (
    ApiToken,
    BlockedDomain,
    Link,
    LinkState,
    Tag,
    check_target,
    create_link,
)


class LinkAdminForm(forms.ModelForm):
    class Meta:
        model = Link
        fields = ["target", "title", "notes", "tags", "owner", "redirect_code"]
        fields += ["expires_at", "max_visits", "is_active"]

    def clean_target(self) -> str:
        verdict = check_target(self.cleaned_data["target"])
        if not verdict.ok:
            raise forms.ValidationError(verdict.reason)
        return verdict.url


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [(s.value, s.label) for s in LinkState if s != LinkState.DELETED] + [
            (LinkState.DELETED.value, "Deleted (tombstones)")
        ]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value() == LinkState.DELETED:
            return queryset.filter(deleted_at__isnull=False)
        if self.value():
            return queryset.live().in_state(self.value())
        return queryset


@admin.register(Link)
class LinkAdmin(admin.ModelAdmin):
    form = LinkAdminForm
    list_display = ["slug", "target", "owner", "state_label", "visit_count", "created_at"]
    list_filter = [StateFilter, "owner", "tags", "redirect_code"]
    search_fields = ["slug", "target", "title", "notes"]
    readonly_fields = ["slug", "visit_count", "deleted_at", "created_at", "updated_at"]
    autocomplete_fields = ["owner"]
    filter_horizontal = ["tags"]
    actions = ["disable_links", "enable_links"]
    list_select_related = ["owner"]

    @admin.display(description="state")
    def state_label(self, link: Link) -> str:
        return link.state.label

    def get_fields(self, request, obj=None):
        fields = list(LinkAdminForm.Meta.fields)
        return (["slug", *fields, *self.readonly_fields[1:]]) if obj else fields

    def save_model(self, request, obj: Link, form, change: bool) -> None:
        if change:
            old_target = Link.objects.get(pk=obj.pk).target
            super().save_model(request, obj, form, change)
            obj.record_target_change(old_target, by=request.user)
            return
        fields = {
            name: form.cleaned_data[name]
            for name in form.cleaned_data
            if name not in {"target", "owner", "tags"}
        }
        created = create_link(target=obj.target, owner=obj.owner, **fields)
        obj.pk, obj.slug = created.pk, created.slug
        obj._state.adding = False

    @admin.action(description="Disable selected links")
    def disable_links(self, request, queryset: QuerySet) -> None:
        count = queryset.live().filter(is_active=True).update(is_active=False)
        messages.success(request, f"Disabled {count} link(s).")

    @admin.action(description="Enable selected links")
    def enable_links(self, request, queryset: QuerySet) -> None:
        count = queryset.live().filter(is_active=False).update(is_active=True)
        messages.success(request, f"Enabled {count} link(s).")


@admin.register(BlockedDomain)
class BlockedDomainAdmin(admin.ModelAdmin):
    list_display = ["domain", "reason", "created_at"]
    search_fields = ["domain", "reason"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Staff can see who holds API tokens and revoke them; nobody can read or forge one here."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "user__username", "prefix"]
    fields = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # tokens are made on /tokens/, where their owner sees them once

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset: QuerySet) -> None:
        for token in queryset:
            token.revoke()
        self.message_user(request, f"Revoked {queryset.count()} token(s).", messages.SUCCESS)


from shortener.webhooks import admin as webhook_admin  # noqa: E402, F401  (registers its models)
