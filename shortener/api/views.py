"""API v1 operations, thin like the HTML views: parse, call the domain through the forms, render."""

from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router
from waffle import flag_is_active

from shortener import analytics, slugs
from shortener.api import problems
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
from shortener.api.schemas import LinkCreate, LinkOut, LinkPage, LinkPatch, Problem, Root, Stats
from shortener.api.tokens import BearerToken
from shortener.api.validation import current_values, form_data, form_problem, invalid
from shortener.forms import CreateLinkForm, LinkForm
from shortener.models import Link, LinkState
from shortener.pagination import get_page, link_header
from shortener.views import analytics_or_404, owned_link_or_404

DESCRIPTION = """
Create and manage Torii short links from programs.

* **Authentication**: a personal API token from the site's *API tokens* page,
  sent as `Authorization: Bearer <token>`.
* **Errors** are `application/problem+json` (RFC 9457) with `type`, `title`, `status`,
  `detail` and, for field problems, `errors` (field → messages). Nothing is written when
  a request is refused.
* **Links**: every representation carries `_links` to follow; a state change
  (`disable` or `enable`) appears only while it is possible.
* **Pagination**: `?page=` (from 1) and `?per_page=` (1 to 100, default 20); `X-Total-Count`
  and a `Link` header (first, prev, next, last). A page past the last one is a 404
  problem, as on the HTML list; a malformed or out-of-bounds `page`/`per_page` is a 400.
* **Idempotency**: POSTs accept `Idempotency-Key`; see the header's description.
* **Versioning**: the version is in the path. Within v1 changes are only additive.

Problem types:

""" + "\n".join(f"* `{problems.TYPE_BASE}{kind}`: {text}" for kind, text in problems.TYPES.items())

api = DocumentedAPI(
    title="Torii API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=BearerToken(),
    default_router=Router(by_alias=True),  # `_links` and `self` are aliases of field names
)
problems.install(api)


def owned(request: HttpRequest, slug: str, find=owned_link_or_404) -> Link:
    """The caller's link by slug (the HTML views' rule), or a 404 problem."""
    if not slugs.is_valid_slug(slug):
        raise Http404
    return find(request, slug)


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
    response={200: LinkPage, 404: Problem},
    url_name="api-link-list",  # the name the rate limiter knows (settings.RATE_LIMIT_GROUPS)
    summary="Your links",
)
def list_links(
    request: HttpRequest,
    page: int = Query(1, ge=1, description="Page number, from 1."),
    per_page: int = Query(20, ge=1, le=100, description="Links per page, at most 100."),
    q: str = Query("", max_length=200, description="Search slug, title, target and notes."),
    tag: str = Query("", max_length=50),
    state: LinkState | None = None,
) -> HttpResponse:
    links = Link.objects.live().owned_by(request.user)
    links = links.matching(text=q, tag=tag, state=state or "")
    links = links.prefetch_related(Prefetch("tags", to_attr="tag_list"))
    found = get_page(request, links, per_page)
    response = json_response(page_json(request, found))
    response["X-Total-Count"] = str(found.paginator.count)
    response["Link"] = link_header(request, found)
    return response


@api.post("/links", response={201: LinkOut}, summary="Create a link")
@idempotent
def create_link(request: HttpRequest, payload: LinkCreate) -> HttpResponse:
    values = payload.model_dump()  # unsent fields take their defaults, as the form's do
    allow_custom = flag_is_active(request, "custom_slugs")
    if values.get("slug") and not allow_custom:
        return invalid({"slug": ["Custom slugs are not available to your account."]})
    data, errors = form_data(values)
    if errors:
        return invalid(errors)
    form = CreateLinkForm(data, request_host=request.get_host(), allow_custom_slug=allow_custom)
    link = form.create(request.user) if form.is_valid() else None
    if link is None:
        return form_problem(form)
    response = json_response(link_json(request, link), status=201)
    response["Location"] = api_url(request, "link", link.slug)
    return response


@api.get(
    "/links/{slug}",
    response={200: LinkOut},
    url_name="link",
    summary="One link",
)
def get_link(request: HttpRequest, slug: str) -> HttpResponse:
    return json_response(link_json(request, owned(request, slug)))


@api.patch(
    "/links/{slug}",
    response={200: LinkOut},
    summary="Change some of a link's fields",
)
def patch_link(request: HttpRequest, slug: str, payload: LinkPatch) -> HttpResponse:
    link = owned(request, slug)
    changes = payload.model_dump(exclude_unset=True)
    data, errors = form_data({**current_values(link), **changes})
    if errors:
        return invalid(errors)
    form = LinkForm(data, instance=link, request_host=request.get_host())
    if not form.is_valid():
        return form_problem(form)
    return json_response(link_json(request, form.save_edit(by=request.user)))


@api.delete("/links/{slug}", response={204: None}, summary="Delete a link (a tombstone)")
def delete_link(request: HttpRequest, slug: str) -> HttpResponse:
    owned(request, slug).delete_softly()
    return HttpResponse(status=204)


@api.post(
    "/links/{slug}/disable",
    response={200: LinkOut},
    url_name="link-disable",
    summary="Disable a link",
)
@idempotent
def disable_link(request: HttpRequest, slug: str) -> HttpResponse:
    """Disable: the short URL answers 410 until enabled. Disabling twice changes nothing."""
    link = owned(request, slug)
    link.disable()
    return json_response(link_json(request, link))


@api.post(
    "/links/{slug}/enable",
    response={200: LinkOut},
    url_name="link-enable",
    summary="Enable a link",
)
@idempotent
def enable_link(request: HttpRequest, slug: str) -> HttpResponse:
    """Enable a disabled link. Enabling an enabled link changes nothing."""
    link = owned(request, slug)
    link.enable()
    return json_response(link_json(request, link))


@api.get(
    "/links/{slug}/stats",
    response={200: Stats},
    url_name="link-stats",
    summary="Visits of a link",
)
def link_stats(
    request: HttpRequest,
    slug: str,
    days: int = Query(30, ge=1, le=365, description="How many days of the daily series."),
) -> HttpResponse:
    """Totals and visits per day, as on the link's stats page (404 while analytics are off)."""
    link = owned(request, slug, analytics_or_404)  # the stats page's rule, flag included
    daily = analytics.daily(link, days, timezone.now().date())
    return json_response(stats_json(request, link, analytics.totals(link), daily))
