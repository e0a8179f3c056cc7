"""Links, pages and stats as API JSON, each with the relations a client may follow now."""

import json
from datetime import date

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import urlencode
from waffle import flag_is_active

from hypermedia.pagination import Window
from shortener.links.models import Link
from shortener.links.representation import link_fields
from shortener.visits import analytics
from shortener.visits.ranges import DateRange


def json_response(data: dict, status: int = 200) -> HttpResponse:
    return HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder), status=status, content_type="application/json"
    )


def href(url: str, method: str = "GET") -> dict:
    return {"href": url, "method": method}


def api_url(request: HttpRequest, name: str, slug: str | None = None) -> str:
    args = {"slug": slug} if slug else {}
    return request.build_absolute_uri(reverse(f"api-v1:{name}", kwargs=args))


PLACEHOLDER = "__slug__"


def slug_url(request: HttpRequest, name: str, slug: str) -> str:
    """An absolute URL for a route with a slug, reversed once per request and route.

    A page needs several per link; reversing each costs more than the query.
    """
    templates = request.__dict__.setdefault("_slug_url_templates", {})
    if name not in templates:
        path = reverse(name, kwargs={"slug": PLACEHOLDER})
        templates[name] = request.build_absolute_uri(path)
    return templates[name].replace(PLACEHOLDER, slug)


def analytics_on(request: HttpRequest) -> bool:
    """The link_analytics flag, asked once per request (a page has 100 links)."""
    if "_analytics_on" not in request.__dict__:
        request._analytics_on = flag_is_active(request, "link_analytics")
    return request._analytics_on


def link_relations(request: HttpRequest, link: Link) -> dict:
    """The same controls the link's HTML page draws: a disabled link offers enable, never both."""
    own = slug_url(request, "api-v1:link", link.key)
    relations = {
        "self": href(own),
        "short_url": href(link.short_url),
        "html": href(slug_url(request, "link-detail", link.key)),
        "edit": href(own, "PATCH"),
        "delete": href(own, "DELETE"),
    }
    if analytics_on(request):  # as the page draws its Stats button
        relations["stats"] = href(slug_url(request, "api-v1:link-stats", link.key))
    if link.can_disable:
        relations["disable"] = href(slug_url(request, "api-v1:link-disable", link.key), "POST")
    if link.can_enable:
        relations["enable"] = href(slug_url(request, "api-v1:link-enable", link.key), "POST")
    return relations


def link_json(request: HttpRequest, link: Link) -> dict:
    return {**link_fields(link), "_links": link_relations(request, link)}


def page_json(request: HttpRequest, page: Window) -> dict:
    relations = {"self": href(request.build_absolute_uri())}
    relations |= {rel: href(url) for rel, url in page.relations.items()}
    return {
        "items": [link_json(request, link) for link in page.object_list],
        "count": page.count,
        "count_is_estimate": page.count_is_estimate,
        "page": page.number,
        "per_page": page.per_page,
        "_links": relations,
    }


def stats_json(
    request: HttpRequest,
    link: Link,
    period: DateRange,
    totals: analytics.Totals,
    daily: list[tuple[date, int]],
    breakdowns: list[analytics.Breakdown],
) -> dict:
    return {
        "slug": link.slug,
        "from": period.start,
        "to": period.end,
        "total_visits": link.visit_count,
        "clicks": totals.clicks,
        "unique_visitors": totals.unique_visitors,
        "humans": totals.humans,
        "bots": totals.bots,
        "daily": [{"date": day, "visits": visits} for day, visits in daily],
        "breakdowns": {
            b.name: [{"value": value, "visits": n} for value, n in b.rows] for b in breakdowns
        },
        "countries": {code or "unknown": n for code, n in analytics.countries(link, period)},
        "_links": {
            "self": href(request.build_absolute_uri()),
            "link": href(slug_url(request, "api-v1:link", link.key)),
            "html": href(
                f"{slug_url(request, 'link-stats', link.key)}?{urlencode(period.query())}"
            ),
        },
    }


def root_json(request: HttpRequest) -> dict:
    links = api_url(request, "api-link-list")
    return {
        "name": "Torii API",
        "version": "1",
        "_links": {
            "self": href(api_url(request, "root")),
            "links": href(links),
            "create_link": href(links, "POST"),
            "openapi": href(api_url(request, "openapi-json")),
            "docs": href(api_url(request, "openapi-view")),
        },
    }
