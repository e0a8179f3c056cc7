"""Links and the blocklist in Django admin: every link write goes through the link core.

Admin never destroys a link: there is no delete permission, and the "delete" action
keeps a tombstone as the site's own delete does, so a deleted slug is never reissued.
Reports and review decisions are read-only here (the queue at /reports/ decides).
Adding and removing a blocklist entry go through `links.block()` and `links.unblock()`,
and the page says what they did.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet, Sum
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from shortener import links
from shortener.domains.models import BlockedDomain, Domain
from shortener.links import BlockRefused, LinkRefused
from shortener.links.blocking import entry_of
from shortener.links.forms import LinkFields, initial_of, text
from shortener.links.models import Link, LinkState, Tag
from shortener.policy import redirect_rules
from shortener.portability.models import BulkJob
from shortener.safety.models import Decision, Report
from shortener.tokens.models import ApiToken


class LinkAdminForm(LinkFields, forms.ModelForm):
    """The site's link fields (raw values for the core) and, for staff, the owner."""

    class Meta:
        model = Link
        fields = ["owner"]

    rules = text(
        "Redirect rules",
        'JSON: a list of {"target": URL, "when": {conditions}} (docs/links.md).',
        widget=forms.Textarea(attrs={"rows": 6, "class": "vLargeTextField"}),
    )
    remove_password = forms.BooleanField(label="Remove the password", required=False)

    core_fields = (*LinkFields.core_fields, "rules", "owner")
    # Chosen when the link is made, shown read-only after (a link's domain never changes).
    domain = text("Domain", widget=forms.Select())

    def __init__(self, *args, actor=None, **kwargs):
        instance = kwargs.get("instance")
        if instance is not None and instance.pk:
            stored = {**initial_of(instance), "rules": json.dumps(instance.rules, indent=2)}
            kwargs["initial"] = {**stored, **(kwargs.get("initial") or {})}
        super().__init__(*args, **kwargs)
        self.actor = actor
        if instance is not None and instance.pk:
            del self.fields["domain"]
        else:
            hosts = [domain.host for domain in links.usable_domains(actor)]
            self.fields["domain"].widget.choices = [(host, host) for host in hosts]
            self.fields["domain"].initial = hosts[0] if hosts else ""

    def values(self) -> dict:
        values = super().values()
        typed = values.pop("rules", "").strip()
        if typed:
            try:
                values["rules"] = json.loads(typed)
            except ValueError:
                values["rules"] = typed  # the core says what rules must be
        elif self.instance.pk and self.instance.rules:
            values["rules"] = []  # emptied: no rules
        return values

    def clean(self):
        cleaned = super().clean()
        link = self.instance if self.instance.pk else None
        values = self.values()
        if link is None:
            values["slug"] = ""
        try:
            self.core_values = links.clean(values, actor=self.actor, link=link)
        except LinkRefused as refusal:
            self.refused(refusal)
        return cleaned


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
    list_display = ["slug", "domain", "short_url_shown", "target", "owner", "workspace"]
    list_display += ["state_label"]
    list_display += ["visit_count", "created_at"]
    list_filter = [StateFilter, "domain", "workspace", "owner", "tags", "redirect_code"]
    search_fields = ["slug", "target", "title", "notes"]
    readonly_fields = ["slug", "domain_host", "short_url_shown", "state_label", "visit_count"]
    readonly_fields += ["deleted_at"]
    readonly_fields += ["created_at", "updated_at"]
    readonly_fields += ["rules_in_words", "password_state", "state_history"]
    autocomplete_fields = ["owner"]
    actions = ["disable_links", "enable_links", "delete_links"]
    list_select_related = ["owner", "domain", "workspace"]

    @admin.display(description="domain")
    def domain_host(self, link: Link) -> str:
        return link.domain.host

    @admin.display(description="short URL", ordering="domain__host")
    def short_url_shown(self, link: Link) -> str:
        return link.short_url if link.pk else "—"

    @admin.display(description="state")
    def state_label(self, link: Link) -> str:
        return link.state.label

    @admin.display(description="rules in words")
    def rules_in_words(self, link: Link) -> str:
        lines = [
            f"{n}. {redirect_rules.describe(rule)}: {rule['target']}"
            for n, rule in enumerate(link.rules, start=1)
        ]
        return "\n".join(lines) or "none"

    @admin.display(description="state history")
    def state_history(self, link: Link) -> str:
        changes = link.state_changes.select_related("changed_by")[:20]
        return (
            format_html_join(
                "",
                "<p>{} {} by {}{}{}</p>",
                (
                    (
                        change.changed_at.strftime("%Y-%m-%d %H:%M"),
                        change.get_action_display().lower(),
                        change.changed_by.get_username() if change.changed_by else "the system",
                        f" ({change.source})" if change.source else "",
                        f": {change.reason}" if change.reason else "",
                    )
                    for change in changes
                ),
            )
            or "none"
        )

    @admin.display(description="password")
    def password_state(self, link: Link) -> str:
        if not link.is_protected:
            return "none"
        return f"set ({link.password_failures} wrong attempts)"

    def get_form(self, request, obj=None, change=False, **kwargs):
        # Only the owner maps onto the model; the other fields are raw values for the core
        # (admin would otherwise copy them, unjudged, onto the instance it shows).
        kwargs["fields"] = ["owner"]
        form = super().get_form(request, obj, change=change, **kwargs)

        class WithActor(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, actor=request.user, **inner)

        return WithActor

    def get_fields(self, request, obj=None):
        fields = [*LinkFields.core_fields, "rules", "owner"]
        if obj:
            if obj.is_protected:
                fields.insert(fields.index("password") + 1, "remove_password")
            return ["slug", "domain_host", "short_url_shown", *fields, *self.readonly_fields[3:]]
        return [fields[0], "domain", *fields[1:]]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a destroyed row would free its slug for a hijack: see delete_links

    def get_queryset(self, request) -> QuerySet:
        """The links access lets this person administer (staff: all, tombstones too)."""
        return links.access.administrable(request.user).select_related(*self.list_select_related)

    def save_model(self, request, obj: Link, form, change: bool) -> None:
        values = form.values()
        owner = values.pop("owner")
        if change:
            link = Link.objects.get(pk=obj.pk)
            links.edit(link, by=request.user, owner=owner, **values)
            obj.refresh_from_db()
            return
        created = links.create(values, actor=request.user, owner=owner)
        obj.pk, obj.slug = created.pk, created.slug
        obj.refresh_from_db()
        obj._state.adding = False

    def save_related(self, request, form, formsets, change) -> None:
        """Tags were written by the core with the link; admin has no related rows to save."""

    def each(self, request, queryset: QuerySet, write, done: str) -> None:
        changed, refused = 0, []
        for link in queryset.live():
            try:
                changed += bool(write(link, by=request.user))
            except LinkRefused as refusal:  # enabling a link that leads to a blocked domain
                refused.append(f"{link.key}: {refusal.reason}")
        messages.success(request, f"{done} {changed} link(s).")
        for sentence in refused:
            messages.error(request, sentence)

    @admin.action(description="Disable selected links")
    def disable_links(self, request, queryset: QuerySet) -> None:
        self.each(request, queryset, links.disable, "Disabled")

    @admin.action(description="Enable selected links")
    def enable_links(self, request, queryset: QuerySet) -> None:
        self.each(request, queryset, links.enable, "Enabled")

    @admin.action(description="Delete selected links (they answer 410; slugs never reused)")
    def delete_links(self, request, queryset: QuerySet) -> None:
        self.each(request, queryset, links.delete, "Deleted")


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    """Short domains; a domain's page lists its links and their clicks. Never deleted
    while links live on it (PROTECT): deactivate it instead."""

    list_display = ["host", "is_default", "is_active", "http_only", "port", "link_count"]
    list_display += ["clicks"]
    list_filter = ["is_active", "is_default"]
    search_fields = ["host"]
    filter_horizontal = ["groups", "workspaces"]
    readonly_fields = ["link_count", "clicks", "links_on_it", "created_at"]
    fields = ["host", "is_default", "is_active", "http_only", "port", "root_redirect"]
    fields += ["unknown_redirect", "refuse_subdomains", "groups", "workspaces", *readonly_fields]
    LINKS_SHOWN = 50

    def get_queryset(self, request) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(link_total=Count("links"), click_total=Sum("links__visit_count"))
        )

    def get_readonly_fields(self, request, obj=None):
        # The host of a domain with links is what their short URLs say: it stays.
        if obj is not None and obj.links.exists():
            return ["host", *self.readonly_fields]
        return self.readonly_fields

    @admin.display(description="links", ordering="link_total")
    def link_count(self, domain: Domain) -> int:
        return getattr(domain, "link_total", 0)

    @admin.display(description="clicks", ordering="click_total")
    def clicks(self, domain: Domain) -> int:
        return getattr(domain, "click_total", None) or 0

    @admin.display(description=f"most followed links (up to {LINKS_SHOWN})")
    def links_on_it(self, domain: Domain) -> str:
        if domain.pk is None:
            return "—"
        rows = domain.links.order_by("-visit_count", "slug")[: self.LINKS_SHOWN]
        body = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:shortener_link_change", args=[link.pk]),
                    link.slug,
                    link.target,
                    link.visit_count,
                )
                for link in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>slug</th><th>destination</th><th>clicks</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            body,
        )


class BlockedDomainForm(forms.ModelForm):
    # Not required: an empty entry gets the blocklist's own sentence, as everywhere else.
    domain = forms.CharField(
        max_length=253, required=False, help_text="Like example.com; it covers every subdomain."
    )

    class Meta:
        model = BlockedDomain
        fields = ["domain", "reason"]

    def clean_domain(self) -> str:
        try:  # the sentence the webhook and the command give
            return entry_of(self.cleaned_data.get("domain", ""))
        except BlockRefused as refusal:
            raise ValidationError(refusal.reason) from None


@admin.register(BlockedDomain)
class BlockedDomainAdmin(admin.ModelAdmin):
    """Adding an entry disables the links that lead there; deleting one (its page or the
    list's action) re-enables those it disabled that nothing else blocks. An entry is
    not edited: remove it and add the new one, so each change says what it did."""

    form = BlockedDomainForm
    list_display = ["domain", "reason", "source", "blocked_by", "created_at"]
    list_filter = ["source"]
    search_fields = ["domain", "reason"]
    readonly_fields = ["source", "blocked_by", "created_at"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: BlockedDomain, form, change: bool) -> None:
        blocked = links.block(obj.domain, by=request.user, reason=obj.reason, source="admin")
        stored = BlockedDomain.objects.get(domain=blocked.domain)
        obj.pk, obj.domain, obj.created_at = stored.pk, stored.domain, stored.created_at
        obj._state.adding = False
        messages.success(request, str(blocked))

    def delete_model(self, request, obj: BlockedDomain) -> None:
        messages.success(request, str(links.unblock(obj.domain, by=request.user, source="admin")))

    def delete_queryset(self, request, queryset: QuerySet) -> None:
        for domain in list(queryset.values_list("domain", flat=True)):
            messages.success(request, str(links.unblock(domain, by=request.user, source="admin")))


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Staff can see who holds API tokens and revoke them; nobody can read or forge one here."""

    list_display = [
        "name", "user", "prefix", "scopes", "created_at", "expires_at", "last_used_at",
        "revoked_at",
    ]  # fmt: skip
    list_filter = [
        ("revoked_at", admin.EmptyFieldListFilter),
        ("expires_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["name", "user__username", "prefix"]
    fields = [
        "name", "user", "prefix", "scopes", "created_at", "expires_at", "last_used_at",
        "revoked_at",
    ]  # fmt: skip
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # tokens are made on /tokens/, where their owner sees them once

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset: QuerySet) -> None:
        for token in queryset:
            token.revoke()
        self.message_user(request, f"Revoked {queryset.count()} token(s).", messages.SUCCESS)


@admin.register(BulkJob)
class BulkJobAdmin(admin.ModelAdmin):
    """Imports from /import/ (pasted lines or a file), as their owners see them there:
    staff can look, and remove a job's record (its links stay)."""

    list_display = ["pk", "owner", "format", "filename", "status", "done", "total"]
    list_display += ["created", "refused", "created_at", "finished_at"]
    list_filter = ["status", "format"]
    search_fields = ["owner__username", "filename"]
    fields = ["owner", "format", "filename", "status", "done", "total", "created", "refused"]
    fields += ["message", "created_at", "finished_at", "refusals"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False  # jobs are made on /import/, never by hand

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Refused rows")
    def refusals(self, job: BulkJob) -> str:
        refused = [row for row in job.results if row.get("status") == "refused"][:100]
        if not refused:
            return "None"
        return format_html_join(
            "", "<p>Row {}: {}</p>", ((row.get("row"), row.get("reason")) for row in refused)
        )


from shortener.admin import audit as audit_admin  # noqa: E402, F401  (registers its models)
from shortener.admin import endpoints as endpoint_admin  # noqa: E402, F401  (registers its models)
from shortener.admin import webhooks as webhook_admin  # noqa: E402, F401  (registers its models)
from shortener.admin import workspaces as workspace_admin  # noqa: E402, F401  (registers its models)


class ReadOnly(admin.ModelAdmin):
    """Evidence and decisions are read here, never written: the review queue
    (`/reports/`) decides, through shortener.safety.review."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Report)
class ReportAdmin(ReadOnly):
    list_display = ["link", "reason", "created_at", "decision"]
    list_filter = ["reason", ("decision", admin.EmptyFieldListFilter)]
    search_fields = ["link__slug", "text", "email"]
    exclude = ["reporter"]  # an HMAC of the address: nothing anyone should read
    list_select_related = ["link", "decision"]


@admin.register(Decision)
class DecisionAdmin(ReadOnly):
    list_display = ["link", "action", "decided_by", "decided_at", "note"]
    list_filter = ["action"]
    search_fields = ["link__slug", "note", "detail"]
    list_select_related = ["link", "decided_by"]
