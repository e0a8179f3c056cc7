"""`OrphanVisitMiddleware`: counts visits to no link (shortener/visits/orphans.py).

In MIDDLEWARE just before `DomainMiddleware`, after the redirect's: a live redirect is
answered before it (by the WSGI fast path or `RedirectMiddleware`) and never reaches it,
so a followed link pays nothing. It sees a short domain's root however it is answered,
and every 404 below it, the resolver's included; an unknown slug that `DomainMiddleware`
sends to the domain's `unknown_redirect` is counted as the 404 it was.
"""

from django.http import HttpRequest, HttpResponse

from shortener.domains.served import of_request
from shortener.visits import orphans
from shortener.visits.models import OrphanKind


class OrphanVisitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method in ("GET", "HEAD"):
            kind = missed(request, response)
            if kind is not None:
                domain = of_request(request)
                if domain is not None:
                    orphans.count(domain.pk, kind)
        return response


def missed(request: HttpRequest, response: HttpResponse) -> OrphanKind | None:
    """Which kind of visit to no link this request was, or None."""
    path = request.path_info
    if path == "/":
        domain = of_request(request)  # the site's own root is its home page, not a visit
        return OrphanKind.ROOT if domain is not None and not domain.is_site else None
    status = response.status_code
    if status == 404:
        return orphans.kind_of_missing(path)
    if status == 302 and response.get("Location"):
        domain = of_request(request)
        if domain is not None and response["Location"] == domain.unknown_redirect:
            kind = orphans.kind_of_missing(path)
            return kind if kind is OrphanKind.UNKNOWN else None
    return None
