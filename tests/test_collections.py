"""Collections at scale: cursor pages, counts that stay fast, search by an index."""

import base64
import html
import json
import random
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from waffle.testutils import override_flag

from hypermedia import pagination
from shortener.links import models as link_models
from shortener.models import Link
from shortener.policy import targets
from tests.api_client import ApiClient, assert_problem
from tests.conftest import make_link, make_user

pytestmark = pytest.mark.django_db
LINKS = "/api/v1/links"


@pytest.fixture
def api(client):
    with override_flag("api_v1", active=True):
        yield ApiClient(client)


@pytest.fixture
def staff(client):
    user = make_user("staffer", is_staff=True)
    client.force_login(user)
    return user


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def rels(response) -> dict[str, str]:
    found = re.findall(r'<([^>]+)>; rel="(\w+)"', response["Link"])
    return {rel: path_of(url) for url, rel in found}


def made(owner, n: int, *, at=None, **fields) -> list[Link]:
    """`n` links; with `at`, every one created at that same instant (ties)."""
    rows = [make_link(owner=owner, **fields) for _ in range(n)]
    if at is not None:
        Link.objects.filter(pk__in=[r.pk for r in rows]).update(created_at=at)
    return rows


def walk_api(api, first: str, between=None) -> list[str]:
    """Every slug by following rel=next from `first`, calling `between` after each page."""
    seen, response = [], api.client.get(first, headers=api.headers())
    while True:
        assert response.status_code == 200, response.content
        seen += [item["slug"] for item in response.json()["items"]]
        if between:
            between()
        following = rels(response).get("next")
        if not following:
            return seen
        response = api.client.get(following, headers=api.headers())


def test_cursor_pages_walk_every_link_once_while_links_are_added(api):
    now = timezone.now()
    older = made(api.user, 7, at=now - timedelta(days=1))  # ties: one instant for all
    others = made(api.user, 8)
    expected = {link.slug for link in older + others}
    added = []

    def add_one():  # newer than every page walked: must neither appear nor shift others
        added.append(make_link(owner=api.user).slug)

    seen = walk_api(api, f"{LINKS}?per_page=3", add_one)
    assert len(seen) == len(set(seen)) == 15
    assert set(seen) == expected
    assert not set(added) & set(seen)
    assert seen == [link.slug for link in Link.objects.filter(slug__in=seen)]  # newest first


def test_prev_and_last_lead_back_through_the_same_pages(api):
    made(api.user, 7, at=timezone.now())
    forward = []
    response = api.get(LINKS, per_page=3)
    while True:
        forward.append([i["slug"] for i in response.json()["items"]])
        if "next" not in rels(response):
            break
        response = api.client.get(rels(response)["next"], headers=api.headers())
    assert [len(page) for page in forward] == [3, 3, 1]
    assert "prev" not in rels(api.get(LINKS, per_page=3))
    back = api.client.get(rels(response)["prev"], headers=api.headers())
    assert [i["slug"] for i in back.json()["items"]] == forward[1]
    first = api.client.get(rels(back)["prev"], headers=api.headers())
    assert [i["slug"] for i in first.json()["items"]] == forward[0]
    assert "prev" not in rels(first)
    last = api.client.get(rels(first)["last"], headers=api.headers())
    assert [i["slug"] for i in last.json()["items"]] == (forward[1] + forward[2])[-3:]
    assert "next" not in rels(last) and last.json()["page"] is None


@pytest.mark.parametrize("sort", ["title", "-title", "clicks", "-clicks", "created", "-created"])
def test_every_sort_walks_the_list_page_once_under_ties(client, staff, sort):
    now = timezone.now()
    for n in range(45):  # titles and clicks repeat, creation instants too
        link = make_link(owner=staff, title=f"t{n % 3}", visit_count_to=n % 2)
        Link.objects.filter(pk=link.pk).update(created_at=now - timedelta(seconds=n % 4))
    expected = list(
        Link.objects.order_by(
            *((("-" if sort.startswith("-") else "") + f) for f in SORT_FIELDS[sort.strip("-")])
        ).values_list("slug", flat=True)
    )
    seen, url = [], f"{reverse('link-list')}?sort={sort}"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        seen += re.findall(r'<tr id="link-row-([^"]+)"', body)
        found = re.search(r'rel="next" href="([^"]+)"', body)
        url = path_of(html.unescape(found.group(1))) if found else None
    assert seen == expected


SORT_FIELDS = {
    "title": ("title", "slug", "id"),
    "clicks": ("visit_count", "created_at", "id"),
    "created": ("created_at", "id"),
}


def cursor(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


BAD_CURSORS = [
    "!!!",
    "bm90IGpzb24",  # "not json"
    cursor(["-created", "after"]),
    cursor(["-created", "sideways", [1, 2]]),
    cursor(["-created", "after", ["yesterday", 3]]),
    cursor(["-created", "after", ["2026-01-01T00:00:00Z"]]),
    cursor(["-created", "after", [{"a": 1}, 3]]),
    cursor(["title", "after", ["a", "b", 1]]),  # another sort's cursor
    cursor(["-created", "after", ["2026-01-01T00:00:00Z", "x"]]),
]


@pytest.mark.parametrize("bad", BAD_CURSORS)
def test_a_bad_cursor_is_a_400_problem_in_the_api(api, bad):
    make_link(owner=api.user)
    doc = assert_problem(api.get(LINKS, cursor=bad), 400, "malformed-request")
    assert "cursor" in doc["errors"]


def test_cursor_and_page_together_are_refused(api):
    make_link(owner=api.user)
    doc = assert_problem(
        api.get(LINKS, cursor=cursor(["-created", "last", None]), page=1), 400, "malformed-request"
    )
    assert doc["errors"] == {"cursor": ["Send either cursor or page, not both."]}


@pytest.mark.parametrize("bad", BAD_CURSORS)
def test_a_bad_cursor_is_the_list_pages_404(client, staff, bad):
    make_link(owner=staff)
    response = client.get(reverse("link-list"), {"cursor": bad, "tag": "x"})
    assert response.status_code == 404
    body = response.content.decode()
    assert "There is no such page of this list" in body
    assert 'href="/links/?tag=x">Go to the first page' in body


def test_counts_are_exact_up_to_the_limit_then_an_estimate(api, client, monkeypatch):
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 5)
    made(api.user, 5)
    exact = api.get(LINKS)
    assert exact["X-Total-Count"] == "5" and "X-Total-Count-Estimate" not in exact
    assert exact.json()["count"] == 5 and exact.json()["count_is_estimate"] is False
    made(api.user, 4)
    estimated = api.get(LINKS)
    assert "X-Total-Count" not in estimated
    assert estimated["X-Total-Count-Estimate"] == "9"  # every id is in the sample here
    assert estimated.json()["count_is_estimate"] is True
    client.force_login(make_user("boss", is_staff=True))
    page = client.get(reverse("link-list"))
    assert "About 9 links." in page.content.decode()
    assert page["X-Total-Count-Estimate"] == "9"


def test_an_estimate_never_falls_below_what_was_counted(api, monkeypatch):
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 3)
    monkeypatch.setattr(pagination, "ESTIMATE_SAMPLE", 2)
    made(api.user, 5)
    made(make_user("bob"), 4)  # the newest ids, which the sample reads, are not ours
    assert api.get(LINKS)["X-Total-Count-Estimate"] == "4"


def test_v1_page_numbers_still_work_and_are_deprecated(api):
    made(api.user, 5)
    response = api.get(LINKS, per_page=2, page=2)
    body = response.json()
    assert body["page"] == 2 and len(body["items"]) == 2
    assert response["X-Total-Count"] == "5"
    assert set(rels(response)) == {"first", "prev", "next", "last"}
    assert "page=3" in rels(response)["last"]
    schema = api.client.get("/api/v1/openapi.json").json()
    params = {p["name"]: p for p in schema["paths"][LINKS]["get"]["parameters"]}
    assert params["page"].get("deprecated") is True
    assert "cursor" in params and not params["cursor"].get("deprecated")


# Search: the index answers exactly what the scans answered.

TRICKY = [
    "100%",
    "50_50",
    "a\\b",
    'say "hi"',
    "it's",
    "Ж",
    "жж",
    "%D0%96",
    "bücher",
    "Bücher",
    "xn--bcher",
    "STRASSE",
    "straße",
    "🙂",
    "AND",
    "OR",
    "NOT x",
    "*",
    "(a)",
    "^foo",
    "col:x",
    "x y",
    "  ",
    "ab",
    "news",
    "NEWS",
    "tiTLE 1",
    "example.com/p",
    "İstanbul",
]


def scanned(text: str) -> set[str]:
    """Today's search before the index, spelled as it was: icontains on every column."""
    text = text.strip()
    in_target = Q()
    for form in targets.stored_forms(text):
        in_target |= Q(target__icontains=form)
    found = Link.objects.live().filter(
        in_target | Q(title__icontains=text) | Q(notes__icontains=text) | Q(slug__icontains=text)
    )
    return set(found.values_list("slug", flat=True))


@pytest.mark.parametrize("candidates", [10_000, 5])  # rows read by id, or in order
def test_the_indexed_search_finds_what_the_scan_found(api, monkeypatch, candidates):
    monkeypatch.setattr(link_models, "SEARCH_CANDIDATES", candidates)
    rng = random.Random(27)
    words = [
        "news", "Title 1", "100% off", "50_50", "a\\b", 'say "hi"', "it's", "bücher",
        "STRASSE", "İstanbul", "(a) NOT x", "col:x", "^foo*", "x  y", "🙂 smile",
    ]  # fmt: skip
    hosts = ["https://example.com/p/", "https://bücher.example/wiki/", "https://faß.de/"]
    for n in range(300):
        path = rng.choice(["Ж", "%D0%96", "straße", "q?x=🙂", "plain", "News", ""])
        fields = {
            "target": targets.check(f"{rng.choice(hosts)}{path}{n}").url,
            "title": rng.choice(words) + f" {n}" if rng.random() < 0.7 else "",
            "notes": rng.choice(words) if rng.random() < 0.3 else "",
        }
        make_link(owner=api.user, **fields, delete=rng.random() < 0.05)
    some = Link.objects.order_by("?")[:20]
    Link.objects.filter(pk__in=[link.pk for link in some[:10]]).update(title="changed 100%")
    for link in some[10:]:  # through save(), as an edit does: the index follows
        link.title = "edited İstanbul"
        link.save()
    for text in [*TRICKY, "changed 100%", "edited"]:
        indexed = set(Link.objects.live().matching(text=text).values_list("slug", flat=True))
        assert indexed == scanned(text), text
        listed = walk_api(api, f"{LINKS}?{urlencode({'q': text, 'per_page': 100})}")
        assert sorted(listed) == sorted(scanned(text)), text


def test_the_search_index_is_used_and_its_triggers_exist():
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            names = {row[0] for row in cursor.fetchall()}
        assert names >= {f"shortener_link_search_{op}" for op in ("insert", "update", "delete")}
        make_link(title="news of the day")
        assert "json_each" in str(Link.objects.matching(text="news").query)
        assert "json_each" not in str(Link.objects.matching(text="ne").query)  # too short
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'shortener_link'")
            names = {row[0] for row in cursor.fetchall()}
        assert names >= {f"link_search_{c}" for c in ("target", "title", "notes", "slug")}
