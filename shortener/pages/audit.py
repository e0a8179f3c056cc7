"""The audit log for staff (`/audit/`): newest first, filtered by actor, action, kind and
days, a keyset page at a time, and the filtered entries as CSV. Who may read it is
`shortener.links.access.may_read_audit`; anyone else gets the 404 of a page that does
not exist. The filters are a plain GET form; htmx swaps only the entries."""

from dataclasses import dataclass, field
from datetime import date

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from hypermedia import pagination
from hypermedia.fragments import varies_on_htmx, wants_fragment
from shortener.audit.models import Action, EntryQuerySet, Kind
from shortener.links import access
from shortener.portability.spreadsheets import csv_lines

PER_PAGE = 50
ORDER = ("-at", "-id")
SORT = "newest"
DATE_SENTENCE = "Write the {} date like 2026-03-01."
CSV_HEADER = ("time", "actor", "action", "kind", "object id", "object name", "summary")
CSV_HEADER += ("changes", "via", "via detail")


@dataclass
class Filters:
    actor: str = ""
    action: str = ""
    kind: str = ""
    since: date | None = None
    until: date | None = None
    typed: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return any(self.typed.values())


def day(typed: str, name: str, errors: dict[str, str]) -> date | None:
    if not typed:
        return None
    try:
        return date.fromisoformat(typed)
    except ValueError:
        errors[name] = DATE_SENTENCE.format("first" if name == "since" else "last")
        return None


def filters_of(request: HttpRequest) -> Filters:
    typed = {
        name: request.GET.get(name, "").strip()[:150]
        for name in ("actor", "action", "kind", "since", "until")
    }
    errors: dict[str, str] = {}
    if typed["action"] and typed["action"] not in Action.values:
        errors["action"] = "Choose an action from the list."
    if typed["kind"] and typed["kind"] not in Kind.values:
        errors["kind"] = "Choose a kind from the list."
    since = day(typed["since"], "since", errors)
    until = day(typed["until"], "until", errors)
    if since and until and since > until:
        errors["until"] = "The last day must not come before the first."
    return Filters(typed["actor"], typed["action"], typed["kind"], since, until, typed, errors)


def readable_or_404(request: HttpRequest) -> EntryQuerySet:
    if not access.may_read_audit(request.user):
        raise Http404
    return access.readable_audit(request.user)


def filtered(entries: EntryQuerySet, filters: Filters) -> EntryQuerySet:
    if filters.errors:
        return entries.none()
    return entries.matching(
        actor=filters.actor,
        action=filters.action,
        kind=filters.kind,
        since=filters.since,
        until=filters.until,
    )


@varies_on_htmx
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    entries = readable_or_404(request)
    filters = filters_of(request)
    shown = filtered(entries, filters).order_by(*ORDER)
    try:
        page = pagination.keyset_window(request, shown, ORDER, SORT, PER_PAGE)
    except pagination.BadCursor as refusal:
        filters.errors["cursor"] = str(refusal)
        page = pagination.keyset_window_first(request, entries.none(), ORDER, SORT, PER_PAGE)
    template = "audit.html#entries" if wants_fragment(request) else "audit.html"
    response = render(
        request,
        template,
        {
            "page": page,
            "relations": page.relations,
            "filters": filters,
            "actions": Action.choices,
            "kinds": Kind.choices,
        },
        status=422 if filters.errors else 200,
    )
    pagination.count_headers(response, page)
    return response


@require_GET
def audit_csv(request: HttpRequest) -> HttpResponse:
    entries = readable_or_404(request)
    filters = filters_of(request)
    if filters.errors:
        sentences = " ".join(filters.errors.values())
        return HttpResponse(sentences, status=422, content_type="text/plain; charset=utf-8")
    shown = filtered(entries, filters).order_by(*ORDER)
    rows = (
        (
            entry.at.isoformat(),
            entry.actor_name,
            entry.action,
            entry.kind,
            entry.object_id,
            entry.object_name,
            entry.summary,
            entry.changes_text,
            entry.via,
            entry.via_detail,
        )
        for entry in shown.iterator(chunk_size=2000)
    )
    response = StreamingHttpResponse(
        csv_lines(CSV_HEADER, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="torii-audit.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
