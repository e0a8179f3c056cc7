"""API v1 operations, thin like the HTML views: parse (strict), call the link core, render."""

from typing import Annotated

from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from ninja import Path, Query, Router
from pydantic import WithJsonSchema
from waffle import flag_is_active

from hypermedia import pagination
from hypermedia.context import context_of
from shortener import links
from shortener.api import problems
from shortener.api.auth import BearerToken, needs
from shortener.api.idempotency import idempotent
from shortener.api.openapi import DocumentedAPI
from shortener.api.representations import (
    api_url,
    json_response,
    link_json,
    page_json,
    root_json,
    stats_json,
)
from shortener.api.schemas import (
    BatchResult,
    LinkBatch,
    LinkCreate,
    LinkOut,
    LinkPage,
    LinkPatch,
    Problem,
    Root,
    Stats,
)
from shortener.api.validation import refused, refused_json
from shortener.links import LinkRefused, access
from shortener.links.models import Link, LinkState
from shortener.policy import slugs
from shortener.portability import export
from shortener.tokens import personal as tokens
from shortener.tokens.scopes import LINKS_READ, LINKS_WRITE, STATS_READ
from shortener.visits import analytics, ranges

# A link's key (its slug, `slug@domain` off the site's own host), in the document only:
# a path value outside it names no link, so it answers 404 like an unknown slug (and
# like the HTML pages), not 400.
SlugPath = Annotated[
    str,
    Path(description="The link's key: its slug, or slug@domain on another domain."),
    WithJsonSchema({"type": "string", "pattern": slugs.KEY_SCHEMA_PATTERN}),
]

# The list's one order, newest first; the id breaks ties so that a cursor names one row.
ORDER = ("-created_at", "-id")

DESCRIPTION = """
Create and manage Torii short links from programs.

* **Authentication**: a personal API token from the site's *API tokens* page,
  sent as `Authorization: Bearer <token>`. A token holds scopes (`links:read`,
  `links:write`, `stats:read`, `webhooks:manage`) and each operation names the one it
  needs: without it the answer is 403 `insufficient-scope`. A token may expire (30, 90 or
  365 days, or never); an expired token is 401 `token-expired`.
* **Errors** are `application/problem+json` (RFC 9457) with `type`, `title`, `status`,
  `detail` and, for field problems, `errors` (field → messages). Nothing is written when
  a request is refused.
* **Links**: every representation carries `_links` to follow; a state change
  (`disable` or `enable`) appears only while it is possible.
* **Pagination**: by cursor. Follow the `Link` header (first, prev, next, last) or the
  body's `_links`: each names its page with an opaque `?cursor=`; `?per_page=` (1 to 100,
  default 20). Pages never skip nor repeat a link when links are added between them. A
  malformed cursor, or one of another sort, is a 400. `?page=` (from 1) still works but is
  **deprecated**: it costs more the deeper the page; a page past the last one is a 404.
* **Counts**: `X-Total-Count` (and `count`) is exact up to 10,000 links; above that the
  header is `X-Total-Count-Estimate` instead and `count_is_estimate` is true.
* **Idempotency**: POSTs accept `Idempotency-Key`; see the header's description.
* **Versioning**: the version is in the path. Within v1 changes are only additive.

Problem types:

""" + "\n".join(f"* `{problems.TYPE_BASE}{kind}`: {text}" for kind, text in problems.TYPES.items())

api = DocumentedAPI(
    title="Torii API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=BearerToken(),  # no scope: closed. Each operation declares its own with needs().
    default_router=Router(by_alias=True),  # `_links` and `self` are aliases of field names
)
problems.install(api, links.SENTENCES)  # wrong JSON types read as the link rules


class RoleForbids(Exception):
    """The caller sees the link (a member of its workspace) but their role may not do this."""


@api.exception_handler(RoleForbids)
def role_forbids(request: HttpRequest, exc: RoleForbids) -> HttpResponse:
    return problems.problem(403, "role-forbids", access.NOT_AN_EDITOR)


class NoSuchWorkspace(Exception):
    pass


@api.exception_handler(NoSuchWorkspace)
def no_such_workspace(request: HttpRequest, exc: NoSuchWorkspace) -> HttpResponse:
    errors = {"workspace": [NO_WORKSPACE]}
    return problems.problem(404, "not-found", NO_WORKSPACE, errors=errors)


NO_WORKSPACE = "You are not a member of a workspace with this number."
WORKSPACE = Query(
    None,
    ge=1,
    description="A workspace you are a member of, by number. Without it: your personal "
    "workspace (staff: every link, as the `all` workspace of the site's switcher).",
)


def workspace_of(request: HttpRequest, wanted: int | None):
    """The workspace an answer is scoped to: `wanted` if the caller is a member (access
    decides, on every request), else a 404 problem; none wanted is their personal one
    (staff: None, every link). A token made for a workspace acts for that one alone."""
    bound = token_workspace(request)
    if bound is not None:
        if wanted is not None and wanted != bound:
            raise NoSuchWorkspace
        wanted = bound
    chosen = access.current_workspace(request.user, wanted)
    if wanted is not None and (chosen is None or chosen.pk != wanted):
        raise NoSuchWorkspace
    return chosen


def owned(request: HttpRequest, slug: str, may=access.may_see) -> Link:
    """The link by key if the caller may see it and `may` do this to it (access decides):
    a 404 problem for a link they may not see, a 403 `role-forbids` for one they see (a
    viewer of its workspace) but may not change."""
    if not slugs.is_valid_key(slug):
        raise Http404
    try:
        link = links.get_visible(request.user, slug)
    except Link.DoesNotExist:
        raise Http404 from None
    bound = token_workspace(request)
    if bound is not None and link.workspace_id != bound:
        raise Http404  # a token acts for its one workspace: others' links do not exist
    if not may(request.user, link):
        raise RoleForbids
    return link


def token_workspace(request: HttpRequest) -> int | None:
    """The workspace the request's token was made for, if it was made for one."""
    found = tokens.from_request(request)
    return found.workspace_id if found is not None else None


@api.get(
    "/",
    auth=None,
    response={200: Root},
    url_name="root",
    summary="The map of the API",
)
def root(request: HttpRequest) -> HttpResponse:
    return json_response(root_json(request))


@api.get(
    "/links",
    auth=needs(LINKS_READ),
    response={200: LinkPage, 404: Problem},
    url_name="api-link-list",  # the name the rate limiter knows (settings.RATE_LIMIT_GROUPS)
    summary="Your links",
)
def list_links(
    request: HttpRequest,
    cursor: str = Query("", max_length=500, description="A page's position, from a `Link`."),
    page: int | None = Query(
        None,
        ge=1,
        deprecated=True,
        description="Page number, from 1. Deprecated: follow the cursor links instead.",
    ),
    per_page: int = Query(20, ge=1, le=100, description="Links per page, at most 100."),
    q: str = Query("", max_length=200, description="Search slug, title, target and notes."),
    tag: str = Query("", max_length=50),
    state: LinkState | None = None,
    domain: str = Query("", max_length=253, description="Only links on this short domain."),
    workspace: int | None = WORKSPACE,
) -> HttpResponse:
    scope = workspace_of(request, workspace)
    visible = links.visible_to(request.user, scope).select_related("domain")
    visible = visible.matching(text=q, tag=tag, state=state or "", domain=domain)
    visible = visible.prefetch_related(Prefetch("tags", to_attr="tag_list"))
    if page is not None and cursor:
        errors = {"cursor": ["Send either cursor or page, not both."]}
        return problems.problem(400, "malformed-request", errors["cursor"][0], errors=errors)
    if page is not None:
        found = pagination.numbered_window(request, visible, per_page)
    else:
        try:
            found = pagination.keyset_window(request, visible, ORDER, "-created", per_page)
        except pagination.BadCursor as bad:
            errors = {"cursor": [str(bad)]}
            return problems.problem(400, "malformed-request", str(bad), errors=errors)
    response = json_response(page_json(request, found))
    pagination.count_headers(response, found)
    return response


@api.post(
    "/links",
    auth=needs(LINKS_WRITE),
    response={201: LinkOut, 404: Problem},  # 404: a `workspace` one is not a member of
    summary="Create a link",
)
@idempotent
def create_link(
    request: HttpRequest, payload: LinkCreate, workspace: int | None = WORKSPACE
) -> HttpResponse:
    values = payload.model_dump(exclude_unset=True)  # the core gives unsent fields defaults
    scope = workspace_of(request, workspace) or ...  # staff without one: their own
    if scope is not ... and not access.may_create_in(request.user, scope):
        raise RoleForbids
    try:
        link = links.create(
            values, actor=request.user, own_host=request.get_host(), workspace=scope
        )
    except LinkRefused as refusal:
        return refused(refusal)
    response = json_response(link_json(request, link), status=201)
    response["Location"] = api_url(request, "link", link.key)
    return response


@api.post(
    "/links/batch",
    auth=needs(LINKS_WRITE),
    response={200: BatchResult, 404: Problem},
    url_name="api-link-batch",  # counted in `create` (settings.RATE_LIMIT_GROUPS)
    summary="Create up to 1,000 links",
)
@idempotent
def create_links(
    request: HttpRequest, payload: LinkBatch, workspace: int | None = WORKSPACE
) -> HttpResponse:
    """Each link is cleaned as by POST /links and answered on its own: created, existing
    (a link of yours already has this slug and target) or refused with its problem; one
    refusal never stops the others. The links created count against the `create` rate."""
    items = [item.model_dump(exclude_unset=True) for item in payload.links]
    scope = workspace_of(request, workspace) or ...  # staff without one: their own
    if scope is not ... and not access.may_create_in(request.user, scope):
        raise RoleForbids
    outcomes = links.create_many(
        items, actor=request.user, own_host=request.get_host(), workspace=scope
    )
    results = []
    for index, outcome in enumerate(outcomes):
        if outcome.refusal is not None:
            results.append({"index": index, "status": "refused", **refused_json(outcome.refusal)})
        else:
            status = "existing" if outcome.existing else "created"
            link = link_json(request, outcome.link)
            results.append({"index": index, "status": status, "link": link})
    created = sum(outcome.created for outcome in outcomes)
    limits = context_of(request).rate_limits
    if limits is not None and created > 1:
        limits.links_created(created - 1)  # the request itself counted one already
    return json_response(
        {
            "created": created,
            "existing": sum(outcome.existing for outcome in outcomes),
            "refused": sum(outcome.refusal is not None for outcome in outcomes),
            "results": results,
        }
    )


@api.get(
    "/export",
    auth=needs(LINKS_READ),
    response={200: None, 404: Problem},
    url_name="api-export",
    summary="Export your links (CSV or JSON Lines, streamed)",
    openapi_extra={
        "responses": {
            "200": {
                "description": "Every link you may see, tombstones included (state "
                "`deleted`), with its destination history; streamed.",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/jsonl": {"schema": {"type": "string"}},
                },
            }
        }
    },
)
def export_links(
    request: HttpRequest,
    format: str = Query("jsonl", pattern="^(csv|jsonl)$", description="csv or jsonl."),
    q: str = Query("", max_length=200, description="Search slug, title, target and notes."),
    tag: str = Query("", max_length=50),
    state: LinkState | None = None,
    domain: str = Query("", max_length=253, description="Only links on this short domain."),
    workspace: int | None = WORKSPACE,
) -> HttpResponse:
    scope = workspace_of(request, workspace)
    chosen = access.exportable(request.user, scope).matching(
        text=q, tag=tag, state=state or "", domain=domain
    )
    if state == LinkState.DELETED:
        chosen = chosen.filter(deleted_at__isnull=False)
    items = export.records(chosen)
    response = StreamingHttpResponse(
        export.lines(format, items), content_type=export.FORMATS[format]
    )
    response["Content-Disposition"] = f'attachment; filename="links.{format}"'
    return response


@api.get(
    "/links/{slug}",
    auth=needs(LINKS_READ),
    response={200: LinkOut},
    url_name="link",
    summary="One link",
)
def get_link(request: HttpRequest, slug: SlugPath) -> HttpResponse:
    return json_response(link_json(request, owned(request, slug)))


@api.patch(
    "/links/{slug}",
    auth=needs(LINKS_WRITE),
    response={200: LinkOut},
    summary="Change some of a link's fields",
)
def patch_link(request: HttpRequest, slug: SlugPath, payload: LinkPatch) -> HttpResponse:
    link = owned(request, slug, access.may_change)
    changes = payload.model_dump(exclude_unset=True)
    try:
        links.edit(link, by=request.user, own_host=request.get_host(), **changes)
    except LinkRefused as refusal:
        return refused(refusal)
    return json_response(link_json(request, link))


@api.delete(
    "/links/{slug}",
    auth=needs(LINKS_WRITE),
    response={204: None},
    summary="Delete a link (a tombstone)",
)
def delete_link(request: HttpRequest, slug: SlugPath) -> HttpResponse:
    links.delete(owned(request, slug, access.may_delete), by=request.user)
    return HttpResponse(status=204)


@api.post(
    "/links/{slug}/disable",
    auth=needs(LINKS_WRITE),
    response={200: LinkOut},
    url_name="link-disable",
    summary="Disable a link",
)
@idempotent
def disable_link(request: HttpRequest, slug: SlugPath) -> HttpResponse:
    """Disable: the short URL answers 410 until enabled. Disabling twice changes nothing."""
    link = owned(request, slug, access.may_disable)
    links.disable(link, by=request.user)
    return json_response(link_json(request, link))


@api.post(
    "/links/{slug}/enable",
    auth=needs(LINKS_WRITE),
    response={200: LinkOut},
    url_name="link-enable",
    summary="Enable a link",
)
@idempotent
def enable_link(request: HttpRequest, slug: SlugPath) -> HttpResponse:
    """Enable a disabled link. Enabling an enabled link changes nothing; a link that
    leads to a blocked domain stays disabled (422)."""
    link = owned(request, slug, access.may_enable)
    try:
        links.enable(link, by=request.user)
    except LinkRefused as refusal:  # it leads to a blocked domain: it stays disabled
        return refused(refusal)
    return json_response(link_json(request, link))


@api.get(
    "/links/{slug}/stats",
    auth=needs(STATS_READ),
    response={200: Stats, 400: Problem},
    url_name="link-stats",
    summary="Visits of a link",
)
def link_stats(
    request: HttpRequest,
    slug: SlugPath,
    days: str | None = Query(
        None,
        description=f"The last this many UTC days, 1 to {ranges.MAX_DAYS} "
        f"(default {ranges.DEFAULT_DAYS}).",
    ),
    from_: str | None = Query(
        None, alias="from", description="First UTC day of a custom range (YYYY-MM-DD), with `to`."
    ),
    to: str | None = Query(
        None,
        description=f"Last UTC day of a custom range, included; a range spans at most "
        f"{ranges.MAX_DAYS} days.",
    ),
) -> HttpResponse:
    """Totals, visits per day and breakdowns for a range of days, as on the link's stats
    page (404 while analytics are off). A range's unique visitors are each day's distinct
    visitors added up."""
    if not flag_is_active(request, "link_analytics"):  # as the stats page
        raise Http404
    link = owned(request, slug, access.may_read_stats)
    try:
        period = ranges.parse(days, from_, to, timezone.now().date())
    except ranges.RangeRefused as refused:
        errors = {refused.field: [refused.reason]}
        return problems.problem(400, "malformed-request", refused.reason, errors=errors)
    rows = analytics.day_rows(link, period)
    totals, daily = analytics.totals_of(rows), analytics.daily_of(rows, period)
    breakdowns = analytics.breakdowns(link, period)
    return json_response(stats_json(request, link, period, totals, daily, breakdowns))
