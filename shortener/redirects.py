"""Following a short link: GET/HEAD /<slug> and the preview page /<slug>+."""

from django.db.models import F, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from shortener import slugs
from shortener.models import Link, LinkState

GONE_REASONS = {
    LinkState.DISABLED: "This short link has been disabled by its owner.",
    LinkState.EXPIRED: "This short link has expired.",
    LinkState.EXHAUSTED: "This short link has reached its maximum number of visits.",
    LinkState.DELETED: "This short link has been deleted.",
}


def find(slug: str) -> Link:
    if not slugs.is_valid_slug(slug):
        raise Http404
    try:
        return Link.objects.get(slug=slug)
    except Link.DoesNotExist:
        raise Http404 from None


def gone(request: HttpRequest, link: Link) -> HttpResponse:
    return render(
        request, "410.html", {"reason": GONE_REASONS[link.state], "state": link.state}, status=410
    )


def count_visit(link: Link) -> bool:
    """Count one visit unless the link is used up; exact under concurrency (one UPDATE)."""
    room = Q(max_visits__isnull=True) | Q(visit_count__lt=F("max_visits"))
    return bool(Link.objects.filter(room, pk=link.pk).update(visit_count=F("visit_count") + 1))


@never_cache
@require_safe
def follow(request: HttpRequest, slug: str) -> HttpResponse:
    link = find(slug)
    if link.state != LinkState.ACTIVE:
        return gone(request, link)
    if request.method == "GET" and not count_visit(link):
        link.visit_count = link.max_visits  # another request took the last visit
        return gone(request, link)
    response = HttpResponse(status=link.redirect_code)
    response["Location"] = link.target
    return response


@require_safe
def preview(request: HttpRequest, slug: str) -> HttpResponse:
    link = find(slug)
    if link.state != LinkState.ACTIVE:
        return gone(request, link)
    return render(request, "links/preview.html", {"link": link})
