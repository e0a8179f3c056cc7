"""Webhook sources and events in Django admin: secrets shown once, events read-only, replay."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.template.response import TemplateResponse

from shortener.events import processing
from shortener.events.models import WebhookEvent, WebhookSource
from shortener.links import access

NOT_THEIRS = "The owner must be an editor or owner of this workspace for the source to act there."


class WebhookSourceForm(forms.ModelForm):
    class Meta:
        model = WebhookSource
        fields = ["name", "owner", "workspace", "scheme", "enabled"]

    def clean(self):
        cleaned = super().clean()
        owner, workspace = cleaned.get("owner"), cleaned.get("workspace")
        if owner and workspace and not access.may_create_in(owner, workspace):
            self.add_error("workspace", NOT_THEIRS)
        return cleaned


SECRETS_PAGE = "admin/shortener/webhook_secrets.html"


def secrets_page(request, issued: list[tuple[WebhookSource, str]]) -> TemplateResponse:
    """The one page that ever shows a secret: right after it is made."""
    response = TemplateResponse(request, SECRETS_PAGE, {"issued": issued, "title": "Secrets"})
    response["Cache-Control"] = "no-store"
    return response


@admin.register(WebhookSource)
class WebhookSourceAdmin(admin.ModelAdmin):
    form = WebhookSourceForm
    list_display = ["name", "owner", "workspace", "scheme", "enabled", "secret_count", "created_at"]
    list_filter = ["enabled", "scheme"]
    search_fields = ["name", "owner__username"]
    fields = ["name", "owner", "workspace", "scheme", "enabled", "receiver", "secret_count"]
    fields += ["created_at"]
    readonly_fields = ["receiver", "secret_count", "created_at"]
    autocomplete_fields = ["owner"]
    actions = ["rotate_secrets", "retire_old_secrets", "disable_sources", "enable_sources"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(number_of_secrets=Count("secrets"))

    @admin.display(description="secrets")
    def secret_count(self, source: WebhookSource) -> int:
        return getattr(source, "number_of_secrets", None) or source.secrets.count()

    @admin.display(description="receiver")
    def receiver(self, source: WebhookSource) -> str:
        return f"POST {source.receiver_path()}" if source.pk else "—"

    def save_model(self, request, obj: WebhookSource, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            request._new_webhook_secret = obj.add_secret()

    def response_add(self, request, obj: WebhookSource, post_url_continue=None):
        return secrets_page(request, [(obj, request._new_webhook_secret)])

    @admin.action(description="Rotate: add a new secret (the old one keeps working)")
    def rotate_secrets(self, request, queryset: QuerySet) -> TemplateResponse:
        return secrets_page(request, [(source, source.add_secret()) for source in queryset])

    @admin.action(description="Retire old secrets (keep only the newest)")
    def retire_old_secrets(self, request, queryset: QuerySet) -> None:
        removed = sum(source.retire_old_secrets() for source in queryset)
        messages.success(request, f"Retired {removed} old secret(s).")

    @admin.action(description="Disable selected sources")
    def disable_sources(self, request, queryset: QuerySet) -> None:
        messages.success(request, f"Disabled {switch_sources(queryset, False)} source(s).")

    @admin.action(description="Enable selected sources")
    def enable_sources(self, request, queryset: QuerySet) -> None:
        messages.success(request, f"Enabled {switch_sources(queryset, True)} source(s).")


def switch_sources(queryset: QuerySet, enabled: bool) -> int:
    """Saved one by one, not update(): each switch is an entry in the audit log."""
    sources = list(queryset)
    for source in sources:
        source.enabled = enabled
        source.save(update_fields=["enabled"])
    return len(sources)


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["delivery_id", "source", "event_type", "status", "attempts", "received_at"]
    list_filter = ["status", "source", "event_type"]
    search_fields = ["delivery_id", "event_type", "outcome"]
    date_hierarchy = "received_at"
    list_select_related = ["source"]
    fields = ["source", "delivery_id", "event_type", "status", "attempts", "outcome"]
    fields += ["received_at", "processed_at", "headers", "raw_body"]
    readonly_fields = fields
    actions = ["replay_events"]

    @admin.display(description="raw body")
    def raw_body(self, event: WebhookEvent) -> str:
        return event.body_text()

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # events are a record of what arrived; replay is the only action

    def has_replay_permission(self, request) -> bool:
        return request.user.has_perm("shortener.change_webhookevent")

    @admin.action(description="Replay selected events", permissions=["replay"])
    def replay_events(self, request, queryset: QuerySet) -> None:
        replayed = sum(processing.replay(event) for event in queryset)
        skipped = queryset.count() - replayed
        messages.success(
            request, f"Replayed {replayed} event(s); skipped {skipped} (processed or ignored)."
        )
