"""Page numbers and the Link header (RFC 8288) for paginated collections."""

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.http import Http404, HttpRequest


def get_page(request: HttpRequest, items, per_page: int) -> Page:
    """The requested page; a malformed or out-of-range number is a 404, always."""
    paginator = Paginator(items, per_page)
    try:
        return paginator.page(request.GET.get("page", "1"))
    except (PageNotAnInteger, EmptyPage):
        raise Http404("No such page.") from None


def page_url(request: HttpRequest, number: int) -> str:
    query = request.GET.copy()
    query["page"] = str(number)
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


def page_relations(request: HttpRequest, page: Page) -> dict[str, str]:
    """rel → absolute URL for first, prev, next and last."""
    relations = {"first": page_url(request, 1)}
    if page.has_previous():
        relations["prev"] = page_url(request, page.previous_page_number())
    if page.has_next():
        relations["next"] = page_url(request, page.next_page_number())
    relations["last"] = page_url(request, page.paginator.num_pages)
    return relations


def link_header(request: HttpRequest, page: Page) -> str:
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in page_relations(request, page).items())
