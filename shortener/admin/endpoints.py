"""Outbound webhook endpoints in Django admin (staff, this round): the URL judged by the
safe fetcher's policy at save, the secret shown once (when made and when rotated), every
attempt on the endpoint's page, replay and a test event."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from shortener.events import delivery as deliveries
from shortener.events import outbox
from shortener.events.models import (
    Delivery,
    DeliveryAttempt,
    Endpoint,
    OutboundEvent,
    new_secret,
)
from shortener.links.signals import BLOCKED, CREATED, DELETED, DISABLED, ENABLED, UPDATED
from shortener.outbound import fetch

SHOWN_ONCE_PAGE = "admin/shortener/endpoint_secrets.html"
EVENT_TYPES = [CREATED, UPDATED, DISABLED, ENABLED, DELETED, BLOCKED]
ATTEMPTS_SHOWN = 50


def secret_page(request, issued: list[tuple[Endpoint, str]]) -> TemplateResponse:
    """The one page that ever shows an endpoint's secret: right after it is made."""
    response = TemplateResponse(request, SHOWN_ONCE_PAGE, {"issued": issued, "title": "Secrets"})
    response["Cache-Control"] = "no-store"
    return response


class EndpointForm(forms.ModelForm):
    url = forms.CharField(max_length=2048, label="URL")
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every type.",
    )

    class Meta:
        model = Endpoint
        fields = ["owner", "url", "event_types", "enabled", "description"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        problem = fetch.url_problem(url, own_hosts=deliveries.own_hosts())
        if problem:
            raise forms.ValidationError(problem)
        return url


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["url", "owner", "enabled", "state", "description", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["url", "description", "owner__username"]
    readonly_fields = ["state", "secret_rotation", "attempts", "created_at"]
    autocomplete_fields = ["owner"]
    actions = ["rotate_secrets", "send_test_events", "enable_endpoints", "disable_endpoints"]

    def get_fields(self, request, obj=None):
        fields = ["owner", "url", "event_types", "enabled", "description"]
        return fields + (["state", "secret_rotation", "attempts", "created_at"] if obj else [])

    @admin.display(description="state")
    def state(self, endpoint: Endpoint) -> str:
        if endpoint.disabled_reason and not endpoint.enabled:
            return endpoint.disabled_reason
        if endpoint.failing_since:
            return f"Failing since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC."
        return "Enabled." if endpoint.enabled else "Disabled."

    @admin.display(description="secret")
    def secret_rotation(self, endpoint: Endpoint) -> str:
        if endpoint.previous_secret_until and len(endpoint.signing_secrets()) > 1:
            return (
                "Rotated: the previous secret signs too until "
                f"{endpoint.previous_secret_until:%Y-%m-%d %H:%M} UTC."
            )
        return "One secret (shown once, when made or rotated)."

    @admin.display(description="latest attempts")
    def attempts(self, endpoint: Endpoint) -> str:
        tries = (
            DeliveryAttempt.objects.filter(delivery__endpoint=endpoint)
            .select_related("delivery__event")
            .order_by("-at", "-id")[:ATTEMPTS_SHOWN]
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ms</td><td>{}</td></tr>",
            (
                (
                    f"{t.at:%Y-%m-%d %H:%M:%S}",
                    t.delivery.event.event_type,
                    t.delivery.event.public_id,
                    t.status_code or t.error,
                    t.duration_ms,
                    t.response_head[:200],
                )
                for t in tries
            ),
        )
        if not tries:
            return "No attempt yet."
        return format_html(
            "<table><tr><th>at</th><th>type</th><th>webhook-id</th><th>answer</th>"
            "<th>took</th><th>answer's first bytes</th></tr>{}</table>",
            rows,
        )

    def save_model(self, request, obj: Endpoint, form, change: bool) -> None:
        if not change:
            obj.secret = new_secret()
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj: Endpoint, post_url_continue=None):
        return secret_page(request, [(obj, obj.secret)])

    @admin.action(description="Rotate the secret (the old one signs too for a grace period)")
    def rotate_secrets(self, request, queryset: QuerySet) -> TemplateResponse:
        grace = settings.WEBHOOKS_SECRET_GRACE
        return secret_page(request, [(e, e.rotate_secret(grace=grace)) for e in queryset])

    @admin.action(description="Send a test event")
    def send_test_events(self, request, queryset: QuerySet) -> None:
        for endpoint in queryset:
            outbox.test_event(endpoint)
        messages.success(request, f"Queued a test event for {queryset.count()} endpoint(s).")

    @admin.action(description="Enable selected endpoints (and send what waited)")
    def enable_endpoints(self, request, queryset: QuerySet) -> None:
        for endpoint in queryset:
            deliveries.enable(endpoint)
        messages.success(request, f"Enabled {queryset.count()} endpoint(s).")

    @admin.action(description="Disable selected endpoints")
    def disable_endpoints(self, request, queryset: QuerySet) -> None:
        messages.success(request, f"Disabled {queryset.update(enabled=False)} endpoint(s).")


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ["at", "status_code", "duration_ms", "error", "response_head"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "next_attempt_at", "last_outcome"]
    list_filter = ["status", "endpoint"]
    list_select_related = ["event", "endpoint"]
    search_fields = ["event__public_id", "event__event_type", "last_outcome"]
    fields = ["event", "endpoint", "status", "attempts", "next_attempt_at", "retry_until"]
    fields += ["last_outcome", "created_at", "finished_at", "body"]
    readonly_fields = fields
    inlines = [AttemptInline]
    actions = ["replay_deliveries"]

    @admin.display(description="body")
    def body(self, delivery: Delivery) -> str:
        return deliveries.body_of(delivery).decode()

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a record of what was sent; replay is the only action

    def has_replay_permission(self, request) -> bool:
        return request.user.has_perm("shortener.view_delivery")

    @admin.action(description="Replay selected deliveries", permissions=["replay"])
    def replay_deliveries(self, request, queryset: QuerySet) -> None:
        replayed = sum(deliveries.replay(d) for d in queryset)
        messages.success(request, f"Replaying {replayed} delivery(ies).")


@admin.register(OutboundEvent)
class OutboundEventAdmin(admin.ModelAdmin):
    list_display = ["public_id", "event_type", "link", "created_at"]
    list_filter = ["event_type"]
    search_fields = ["public_id"]
    fields = ["public_id", "event_type", "link", "payload", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
