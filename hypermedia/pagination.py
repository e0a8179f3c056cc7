"""Pages of a collection for the pages and the API: keyset (cursor) pages, v1's page
numbers (deprecated: OFFSET and an exact count cost more the deeper and bigger the list),
counts that stay fast, and the Link header (RFC 8288).

A cursor names a row's position in one ordering (which must end in a unique column, so
no two rows share a position) and a direction: the page after it or before it. It is
plain base64url JSON, not a secret: a hand-made cursor only names another position, and
the query it becomes is still filtered by who may see what.
"""

import base64
import binascii
import json
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db.models import Max, Q, QuerySet
from django.http import Http404, HttpRequest

# Counting is exact up to this many rows; past it the count is an estimate, flagged as
# such (X-Total-Count-Estimate, "about N"). Counting a million rows costs hundreds of
# milliseconds on every page; counting 10,001 costs a few.
EXACT_COUNT_LIMIT = 10_000
# The estimate: the share of matching rows among the newest this many ids, times the
# largest id (rows here are never destroyed, so ids are about how many rows there are).
ESTIMATE_SAMPLE = 10_000


class BadCursor(ValueError):
    """A cursor that is not one this list made: malformed, or for another sort."""


@dataclass
class Window:
    """One page of a collection and the relations a client may follow from it."""

    object_list: list
    per_page: int
    count: int
    count_is_estimate: bool
    relations: dict[str, str] = field(default_factory=dict)
    number: int | None = None  # only on a ?page= page (v1, deprecated)
    num_pages: int | None = None


def count_of(items: QuerySet) -> tuple[int, bool]:
    """(count, is an estimate): exact up to EXACT_COUNT_LIMIT, an estimate above it."""
    items = items.order_by()
    exact = items[: EXACT_COUNT_LIMIT + 1].count()
    if exact <= EXACT_COUNT_LIMIT:
        return exact, False
    top = items.model._default_manager.order_by().aggregate(top=Max("pk"))["top"] or 0
    low = max(top - ESTIMATE_SAMPLE, 0)
    sampled = items.filter(pk__gt=low).count()
    estimate = round(sampled * top / (top - low)) if top > low else 0
    return max(estimate, EXACT_COUNT_LIMIT + 1), True  # at least what was counted


def encode_cursor(sort: str, direction: str, values: list | None) -> str:
    raw = json.dumps([sort, direction, values], separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, items: QuerySet, order: tuple[str, ...]):
    """(direction, typed values or None) from a cursor made for `sort`; else BadCursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_for, direction, values = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise BadCursor("This cursor is malformed: follow the links a page gives.") from None
    if made_for != sort:
        raise BadCursor("This cursor belongs to another sort order.")
    if direction == "last" and values is None:
        return direction, None
    if direction not in ("after", "before") or not isinstance(values, list):
        raise BadCursor("This cursor is malformed: follow the links a page gives.")
    if len(values) != len(order) or not all(isinstance(v, int | str) for v in values):
        raise BadCursor("This cursor is malformed: follow the links a page gives.")
    typed = []
    for name, value in zip(order, values, strict=True):
        model_field = items.model._meta.get_field(name.removeprefix("-"))
        try:
            typed.append(model_field.to_python(value))
        except ValidationError:
            raise BadCursor("This cursor is malformed: follow the links a page gives.") from None
    return direction, typed


def reverse_order(order: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name[1:] if name.startswith("-") else f"-{name}" for name in order)


def beyond(order: tuple[str, ...], values: list) -> Q:
    """Rows strictly after `values` in `order`: (a, b) > (x, y) spelled out, with the
    first column's bound on its own so that both databases walk the index from there."""
    names = [name.removeprefix("-") for name in order]
    later = ["lt" if name.startswith("-") else "gt" for name in order]
    after = Q()
    for i in range(len(order)):
        step = Q(**{f"{names[i]}__{later[i]}": values[i]})
        for j in range(i):
            step &= Q(**{names[j]: values[j]})
        after |= step
    return Q(**{f"{names[0]}__{later[0]}e": values[0]}) & after


def key_of(row, order: tuple[str, ...]) -> list:
    return [getattr(row, name.removeprefix("-")) for name in order]


def url_with(request: HttpRequest, **changes) -> str:
    query = request.GET.copy()
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = str(value)
    encoded = query.urlencode()
    return request.build_absolute_uri(f"{request.path}?{encoded}" if encoded else request.path)


def keyset_window(
    request: HttpRequest, items: QuerySet, order: tuple[str, ...], sort: str, per_page: int
) -> Window:
    """The page `?cursor=` names (the first without one), newest rows not skipped nor
    repeated however many are added between pages. A bad cursor raises BadCursor."""
    cursor = request.GET.get("cursor", "")
    direction, values = decode_cursor(cursor, sort, items, order) if cursor else ("first", None)
    if direction == "after":
        rows = list(items.filter(beyond(order, values)).order_by(*order)[: per_page + 1])
        has_prev, has_next = True, len(rows) > per_page
        rows = rows[:per_page]
    elif direction in ("before", "last"):
        backwards = reverse_order(order)
        earlier = items.filter(beyond(backwards, values)) if values else items
        rows = list(earlier.order_by(*backwards)[: per_page + 1])
        has_prev, has_next = len(rows) > per_page, direction == "before"
        rows = rows[:per_page][::-1]
        if not has_prev and direction == "before":  # back at the start: a full first page
            return keyset_window_first(request, items, order, sort, per_page)
    else:
        return keyset_window_first(request, items, order, sort, per_page)
    return window_of(request, items, order, sort, per_page, rows, has_prev, has_next)


def keyset_window_first(request, items, order, sort, per_page) -> Window:
    rows = list(items.order_by(*order)[: per_page + 1])
    has_next = len(rows) > per_page
    return window_of(request, items, order, sort, per_page, rows[:per_page], False, has_next)


def window_of(request, items, order, sort, per_page, rows, has_prev, has_next) -> Window:
    count, estimated = count_of(items)
    relations = {"first": url_with(request, cursor=None, page=None)}
    if has_prev and rows:
        before = encode_cursor(sort, "before", key_of(rows[0], order))
        relations["prev"] = url_with(request, cursor=before, page=None)
    if has_next and rows:
        after = encode_cursor(sort, "after", key_of(rows[-1], order))
        relations["next"] = url_with(request, cursor=after, page=None)
    relations["last"] = url_with(request, cursor=encode_cursor(sort, "last", None), page=None)
    return Window(rows, per_page, count, estimated, relations)


def numbered_window(request: HttpRequest, items: QuerySet, per_page: int) -> Window:
    """The ?page= page (v1's, deprecated): OFFSET and an exact count. A malformed or
    out-of-range number is a 404, always."""
    paginator = Paginator(items, per_page)
    try:
        page = paginator.page(request.GET.get("page", "1"))
    except (PageNotAnInteger, EmptyPage):
        raise Http404("No such page.") from None
    relations = {"first": url_with(request, page=1)}
    if page.has_previous():
        relations["prev"] = url_with(request, page=page.previous_page_number())
    if page.has_next():
        relations["next"] = url_with(request, page=page.next_page_number())
    relations["last"] = url_with(request, page=paginator.num_pages)
    return Window(
        list(page.object_list),
        per_page,
        paginator.count,
        False,
        relations,
        number=page.number,
        num_pages=paginator.num_pages,
    )


def count_headers(response, window: Window) -> None:
    """X-Total-Count when the count is exact, X-Total-Count-Estimate when it is not."""
    name = "X-Total-Count-Estimate" if window.count_is_estimate else "X-Total-Count"
    response[name] = str(window.count)
    response["Link"] = link_header(window.relations)


def link_header(relations: dict[str, str]) -> str:
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in relations.items())
