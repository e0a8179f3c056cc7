"""Acting from the list: sorting (kept in the query string) and bulk actions on the
selected rows, which go through the link core row by row."""

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from shortener import links
from shortener.links import LinkRefused
from shortener.models import DestinationChange, Link, LinkState, Tag
from tests.conftest import make_link, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client):
    user = make_user("alice")
    client.force_login(user)
    return user


def rows(response) -> list[str]:
    return re.findall(r'<tr id="link-row-([^"]+)"', response.content.decode())


def snapshot() -> list[tuple]:
    """Every column a bulk action could touch, of every link, and the rows beside them."""
    links_now = list(
        Link.objects.order_by("pk").values_list(
            "slug", "is_active", "deleted_at", "target", "title", "updated_at"
        )
    )
    tags = sorted(Link.tags.through.objects.values_list("link_id", "tag_id"))
    return [links_now, tags, DestinationChange.objects.count(), Tag.objects.count()]


# Sorting


@pytest.fixture
def three(alice):
    first = make_link(owner=alice, slug="first-one", title="Banana", visit_count_to=5)
    second = make_link(owner=alice, slug="second-one", title="Apple", visit_count_to=50)
    third = make_link(owner=alice, slug="third-one", title="Cherry", visit_count_to=0)
    return first, second, third


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("", ["third-one", "second-one", "first-one"]),  # newest first
        ("-created", ["third-one", "second-one", "first-one"]),
        ("created", ["first-one", "second-one", "third-one"]),
        ("-clicks", ["second-one", "first-one", "third-one"]),
        ("clicks", ["third-one", "first-one", "second-one"]),
        ("title", ["second-one", "first-one", "third-one"]),
        ("-title", ["third-one", "first-one", "second-one"]),
    ],
)
def test_sorting_orders_the_rows(client, three, sort, expected):
    query = {"sort": sort} if sort else {}
    response = client.get(reverse("link-list"), query)
    assert response.status_code == 200
    assert rows(response) == expected


def test_the_sorted_column_says_so_and_its_header_asks_the_other_way(client, three):
    body = client.get(reverse("link-list"), {"sort": "-clicks", "q": "one"}).content.decode()
    assert '<th scope="col" aria-sort="descending"><a href="?sort=clicks&amp;q=one">Clicks' in body
    assert body.count("aria-sort=") == 1
    # The filters' form carries the sort along; paging links carry it too.
    assert '<input type="hidden" name="sort" value="-clicks">' in body


def test_paging_links_keep_the_sort_and_the_filters(client, alice):
    for n in range(25):
        make_link(owner=alice, title=f"t{n:02}", tags=["news"])
    body = client.get(reverse("link-list"), {"sort": "title", "tag": "news"}).content.decode()
    # A plain link (no JavaScript): the next page by cursor, with the sort and the filter.
    href = html.unescape(re.search(r'rel="next" href="([^"]+)"', body).group(1))
    query = parse_qs(urlsplit(href).query)
    assert query["sort"] == ["title"] and query["tag"] == ["news"] and "cursor" in query
    second = client.get(href)
    assert [Link.objects.get(slug=s).title for s in rows(second)] == [
        f"t{n}" for n in range(20, 25)
    ]
    # v1's page numbers still work for old bookmarks.
    numbered = client.get(reverse("link-list"), {"sort": "title", "tag": "news", "page": "2"})
    assert rows(numbered) == rows(second)


@pytest.mark.parametrize(
    "sort", ["bogus", "-", "--clicks", "owner", "visit_count", "clicks\x00", "é" * 300]
)
def test_an_unknown_sort_falls_back_to_newest_first_and_says_so(client, three, sort):
    response = client.get(reverse("link-list"), {"sort": sort})
    assert response.status_code == 200
    assert rows(response) == ["third-one", "second-one", "first-one"]
    assert "That sort order does not exist: showing newest first." in response.content.decode()


@pytest.mark.parametrize("page", ["99", "0", "-1", "two", ""])
def test_a_page_out_of_range_is_a_404_that_says_so(client, three, page):
    response = client.get(reverse("link-list"), {"page": page, "sort": "title"})
    assert response.status_code == 404
    body = response.content.decode()
    assert "There is no such page of this list" in body
    assert "mistyped" not in body
    assert 'href="/links/?sort=title">Go to the first page' in body


# Bulk actions


def post_bulk(client, action, slugs, **extra):
    data = {"action": action, "slug": slugs, "next": "/links/?sort=title", **extra}
    return client.post(reverse("link-bulk"), data, follow=True)


def test_bulk_disable_changes_exactly_the_selected_rows(client, alice):
    chosen = [make_link(owner=alice) for _ in range(3)]
    others = [make_link(owner=alice) for _ in range(2)]
    response = post_bulk(client, "disable", [link.slug for link in chosen])
    assert response.redirect_chain == [("/links/?sort=title", 303)]
    for link in chosen:
        assert Link.objects.get(pk=link.pk).state == LinkState.DISABLED
    for link in others:
        assert Link.objects.get(pk=link.pk).state == LinkState.ACTIVE
    assert "Disabled 3:" in response.content.decode()


def test_bulk_enable_and_the_rows_already_so(client, alice):
    off = make_link(owner=alice, is_active=False)
    on = make_link(owner=alice)
    response = post_bulk(client, "enable", [off.slug, on.slug])
    assert Link.objects.get(pk=off.pk).state == LinkState.ACTIVE
    body = response.content.decode()
    assert f"Enabled 1: {off.slug}." in body and f"Already so, unchanged: {on.slug}." in body


def test_bulk_delete_asks_once_then_leaves_tombstones(client, alice):
    chosen = [make_link(owner=alice) for _ in range(2)]
    kept = make_link(owner=alice)
    slugs = [link.slug for link in chosen]
    asking = client.post(reverse("link-bulk"), {"action": "delete", "slug": slugs})
    assert asking.status_code == 200
    body = asking.content.decode()
    assert "Delete 2 links?" in body and "Delete 2 for good" in body
    assert Link.objects.filter(deleted_at__isnull=False).count() == 0  # asking deletes nothing
    post_bulk(client, "delete", slugs, confirmed="yes")
    for link in chosen:
        assert Link.objects.get(pk=link.pk).state == LinkState.DELETED  # a tombstone, kept
    assert Link.objects.get(pk=kept.pk).state == LinkState.ACTIVE


def test_bulk_tag_adds_the_tag_through_the_core(client, alice):
    tagged = make_link(owner=alice, tags=["old"])
    plain = make_link(owner=alice)
    untouched = make_link(owner=alice, tags=["old"])
    post_bulk(client, "tag", [tagged.slug, plain.slug], tag="  Launch ")
    assert sorted(tagged.tags.values_list("name", flat=True)) == ["launch", "old"]
    assert list(plain.tags.values_list("name", flat=True)) == ["launch"]
    assert list(untouched.tags.values_list("name", flat=True)) == ["old"]


def test_someone_elses_and_deleted_rows_are_refused_and_reported(client, alice):
    mine = make_link(owner=alice)
    theirs = make_link(owner=make_user("bob"))
    gone = make_link(owner=alice, delete=True)
    before_theirs = snapshot()[0][1]
    response = post_bulk(client, "disable", [mine.slug, theirs.slug, gone.slug, "no-such"])
    body = response.content.decode()
    assert Link.objects.get(pk=mine.pk).state == LinkState.DISABLED
    assert Link.objects.get(pk=theirs.pk).state == LinkState.ACTIVE
    assert Link.objects.get(pk=theirs.pk).updated_at == before_theirs[5]
    for slug in (theirs.slug, gone.slug, "no-such"):
        assert f"Not changed, {slug}: No such link of yours" in body


def test_a_rule_refusing_one_row_leaves_the_others_changed(client, alice):
    full = make_link(owner=alice, tags=[f"t{n}" for n in range(20)])
    fine = make_link(owner=alice)
    body = post_bulk(client, "tag", [full.slug, fine.slug], tag="extra").content.decode()
    assert f"Not changed, {full.slug}: A link can carry at most 20 tags." in body
    assert full.tags.count() == 20
    assert list(fine.tags.values_list("name", flat=True)) == ["extra"]


@pytest.mark.parametrize(
    ("data", "sentence"),
    [
        ({"action": "explode", "slug": ["x"]}, "Choose an action"),
        ({"action": "disable"}, "Select at least one link."),
        ({"action": "tag", "slug": ["x"], "tag": ""}, "A tag is one word"),
        ({"action": "tag", "slug": ["x"], "tag": "two words"}, "A tag is one word"),
        ({"action": "tag", "slug": ["x"], "tag": "x" * 51}, "A tag is one word"),
        ({"action": "disable", "slug": [f"s{n}" for n in range(101)]}, "at most 100 links"),
    ],
)
def test_a_bad_bulk_request_writes_nothing_and_says_why(client, alice, data, sentence):
    link = make_link(owner=alice)
    data = {**data, "slug": [link.slug, *data.get("slug", [])]} if "slug" in data else data
    before = snapshot()
    response = client.post(reverse("link-bulk"), data, follow=True)
    assert response.redirect_chain[-1][1] == 303
    assert "Nothing was changed: " in response.content.decode()
    assert sentence in response.content.decode()
    assert snapshot() == before


def test_bulk_needs_a_signed_in_user_and_a_post(client):
    link = make_link(owner=make_user("bob"))
    response = client.post(reverse("link-bulk"), {"action": "disable", "slug": [link.slug]})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert Link.objects.get(pk=link.pk).state == LinkState.ACTIVE
    client.force_login(make_user("alice"))
    assert client.get(reverse("link-bulk")).status_code == 405


def test_bulk_never_sends_the_user_elsewhere(client, alice):
    link = make_link(owner=alice)
    data = {"action": "disable", "slug": [link.slug], "next": "https://evil.example/"}
    response = client.post(reverse("link-bulk"), data)
    assert response["Location"] == reverse("link-list")


def test_staff_may_act_on_everyones_links(client):
    staff = make_user("root", is_staff=True)
    client.force_login(staff)
    theirs = make_link(owner=make_user("bob"))
    post_bulk(client, "disable", [theirs.slug])
    assert Link.objects.get(pk=theirs.pk).state == LinkState.DISABLED


def test_the_core_refuses_a_bad_request_before_touching_any_row():
    user = make_user("carol")
    link = make_link(owner=user)
    with pytest.raises(LinkRefused) as refused:
        links.bulk.apply("tag", [link.slug], by=user, tag="no spaces")
    assert refused.value.field == "tag"
    assert link.tags.count() == 0


def test_the_list_row_offers_what_the_state_allows(client, alice):
    active = make_link(owner=alice, title="On")
    off = make_link(owner=alice, is_active=False)
    body = client.get(reverse("link-list")).content.decode()
    row_on = body.split(f'<tr id="link-row-{active.slug}">')[1].split("</tr>")[0]
    row_off = body.split(f'<tr id="link-row-{off.slug}">')[1].split("</tr>")[0]
    short = active.short_url  # on the link's own domain
    # In tables the text drops the scheme: the same address, shorter.
    bare = short.split("://", 1)[1]
    assert f'<a class="short-url" href="{short}">{bare}</a>' in row_on
    assert f'data-copy="{short}" hidden>' in row_on
    assert f'href="/links/{active.slug}/">Details' in row_on
    assert ">Disable<" in row_on and ">Enable<" not in row_on
    assert ">Enable<" in row_off and ">Disable<" not in row_off
    assert f'href="/links/{active.slug}/delete/">Delete…' in row_on
    assert f'name="slug" value="{active.slug}" form="bulk-form"' in row_on


@pytest.mark.parametrize("on", [True, False])
def test_rows_offer_stats_and_qr_only_while_their_flags_are_on(client, alice, on):
    from waffle.testutils import override_flag

    link = make_link(owner=alice)
    with override_flag("link_analytics", active=on), override_flag("qr_codes", active=on):
        for url in (reverse("link-list"), reverse("home")):
            body = client.get(url).content.decode()
            row = body.split(f'<tr id="link-row-{link.slug}">')[1].split("</tr>")[0]
            assert (f'href="/links/{link.slug}/stats/"' in row) is on
            assert (f'href="/links/{link.slug}/qr.svg"' in row) is on
