"""Creating, browsing, editing and retiring links through the HTML pages (with and without htmx)."""

import re

import pytest
from django.urls import reverse
from waffle.testutils import override_flag

from shortener.models import DestinationChange, Link, LinkState
from tests.conftest import make_link, make_user

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def alice(client):
    user = make_user("alice")
    client.force_login(user)
    return user


def create(client, htmx=False, **data):
    form = {"target": "https://example.com/article", "redirect_code": "302", **data}
    headers = {**HTMX, "HX-Target": "create-form"} if htmx else {}
    return client.post(reverse("link-list"), form, headers=headers)


# --- creating -------------------------------------------------------------


def test_home_offers_the_create_form_to_a_signed_in_user(client, alice):
    body = client.get(reverse("home")).content.decode()
    assert 'id="create-form"' in body
    assert f'action="{reverse("link-list")}"' in body


def test_home_sends_anonymous_people_to_sign_in(client):
    body = client.get(reverse("home")).content.decode()
    assert 'id="create-form"' not in body
    assert "Sign in to shorten links" in body


def test_create_without_htmx_redirects_to_the_new_link(client, alice):
    response = create(client, title="An article", tags="News, launch")
    link = Link.objects.get()
    assert response.status_code == 303
    assert response["Location"] == link.get_absolute_url()
    assert link.owner == alice and link.title == "An article"
    assert sorted(link.tags.values_list("name", flat=True)) == ["launch", "news"]
    assert link.redirect_code == 302 and link.state == LinkState.ACTIVE
    assert len(link.slug) == 7


def test_create_with_htmx_answers_a_fresh_form_and_the_new_row(client, alice):
    response = create(client, htmx=True)
    link = Link.objects.get()
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<form id="create-form"')
    assert 'value="https://example.com/article"' not in body  # the form is reset
    # The whole recent table comes again out of band, the new row first: it stays at ten.
    table = '<div class="table-wrap" id="recent-table"  hx-swap-oob="true">'
    assert table in body
    rows = re.findall(r'<tr id="link-row-([^"]+)"', body.split(table)[1])
    assert rows == [link.slug]
    assert "HX-Request" in response["Vary"]


def test_the_recent_list_stays_at_ten_under_htmx(client, alice):
    for n in range(12):
        make_link(owner=alice, target=f"https://example.com/{n}")
    body = create(client, htmx=True).content.decode()
    newest = Link.objects.order_by("-created_at", "-id").first()
    rows = re.findall(r'<tr id="link-row-([^"]+)"', body)
    assert len(rows) == 10 and rows[0] == newest.slug


def test_the_created_message_links_to_the_short_url_itself(client, alice):
    body = create(client, htmx=True).content.decode()
    link = Link.objects.get()
    message = body.split('id="messages"')[1]
    short = link.short_url
    assert f'<a class="short-url" href="{short}">{short}</a>' in message
    assert f'data-copy="{short}"' in message
    assert f'<a href="{link.get_absolute_url()}">Details of {link.slug}</a>' in message


def test_the_empty_list_notice_is_always_there_for_htmx_to_hide(client, alice):
    notice = '<p id="no-links-yet" class="muted"'
    assert "hidden" not in client.get(reverse("home")).content.decode().split(notice)[1][:20]
    created = create(client, htmx=True).content.decode()
    assert f'{notice} hidden hx-swap-oob="true">' in created
    page = client.get(reverse("home")).content.decode()
    assert notice in page and page.split(notice)[1].startswith(" hidden")


def test_invalid_create_rerenders_the_form_with_422_and_writes_nothing(client, alice):
    response = create(client, target="javascript:alert(1)")
    assert response.status_code == 422
    assert "Links to javascript: addresses are not allowed" in response.content.decode()
    assert Link.objects.count() == 0


def test_invalid_create_with_htmx_answers_the_form_in_place(client, alice):
    response = create(client, htmx=True, target="http://127.0.0.1/")
    assert response.status_code == 422
    body = response.content.decode()
    assert body.lstrip().startswith('<form id="create-form"')
    assert "private, local or reserved network address" in body
    assert Link.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"target": "https://example.com/" + "x" * 2100}, "longer than 2,048"),
        ({"target": "https://example.com/\x00"}, "control characters"),
        ({"target": ""}, "Enter the address the short link should lead to"),
        ({"redirect_code": "303"}, "Choose a redirect code: 301, 302, 307 or 308."),
        ({"max_visits": "0"}, "at least 1"),
        ({"max_visits": "many"}, "Maximum visits must be a whole number"),
        ({"expires_at": "tomorrow-ish"}, "Enter the expiry as a date and time"),
        ({"tags": "ok, not ok!"}, "Tags are single words"),
        ({"title": "t" * 201}, "at most 200 characters"),
    ],
)
def test_bad_form_input_is_refused_and_nothing_is_written(client, alice, data, message):
    response = create(client, **data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert Link.objects.count() == 0


def test_a_blocked_domain_is_refused(client, alice):
    from shortener.models import BlockedDomain

    BlockedDomain.objects.create(domain="Spam.Example")
    response = create(client, target="https://www.spam.example/win")
    assert response.status_code == 422
    assert "Links to spam.example are blocked" in response.content.decode()
    assert Link.objects.count() == 0


def test_a_link_to_this_site_itself_is_refused(client, alice, settings):
    settings.CONFIGURED_HOSTS = ["go.torii.example", "testserver"]
    response = create(client, target="https://GO.torii.example/abc")
    assert "would loop" in response.content.decode()
    assert Link.objects.count() == 0


def test_a_ten_megabyte_body_is_a_4xx_not_a_500(client, alice):
    client.raise_request_exception = False
    response = create(client, target="https://example.com/" + "x" * 10_000_000)
    assert 400 <= response.status_code < 500
    assert Link.objects.count() == 0


def test_anonymous_people_cannot_create_while_the_flag_is_off(client):
    with override_flag("anonymous_links", active=False):
        response = create(client)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert Link.objects.count() == 0


def test_anonymous_links_when_the_flag_is_on_belong_to_nobody(client):
    with override_flag("anonymous_links", active=True):
        assert 'id="create-form"' in client.get(reverse("home")).content.decode()
        response = create(client)
    link = Link.objects.get()
    assert link.owner is None
    assert response["Location"] == reverse("preview", args=[link.slug])
    assert client.get(link.get_absolute_url()).status_code == 404  # nobody can edit it


# --- custom slugs ---------------------------------------------------------


def test_custom_slug_field_is_hidden_and_ignored_when_the_flag_is_off(client, alice):
    with override_flag("custom_slugs", active=False):
        assert 'name="slug"' not in client.get(reverse("home")).content.decode()
        create(client, slug="my-launch")
    assert Link.objects.get().slug != "my-launch"


def test_custom_slug_when_the_flag_is_on(client, alice):
    with override_flag("custom_slugs", active=True):
        assert 'name="slug"' in client.get(reverse("home")).content.decode()
        response = create(client, slug="my-launch")
    assert response.status_code == 303
    assert Link.objects.get().slug == "my-launch"


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("admin", "is reserved"),
        ("links", "is reserved"),
        ("no", "3 to 64 characters"),
        ("bad/slug", "3 to 64 characters"),
        ("taken-one", "is already taken"),
    ],
)
def test_refused_custom_slugs_say_which(client, alice, slug, message):
    make_link(slug="taken-one")
    with override_flag("custom_slugs", active=True):
        response = create(client, slug=slug)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert Link.objects.count() == 1


# --- browsing -------------------------------------------------------------


def test_the_collection_pages_by_twenty_with_headers_and_rel_links(client, alice):
    for n in range(45):
        make_link(owner=alice, target=f"https://example.com/{n}")
    response = client.get(reverse("link-list"), {"page": 2})
    body = response.content.decode()
    assert response["X-Total-Count"] == "45"
    header = response["Link"]
    for rel, page in [("first", 1), ("prev", 1), ("next", 3), ("last", 3)]:
        assert f'page={page}>; rel="{rel}"' in header
        assert re.search(rf'<a rel="{rel}" href="[^"?]*\?page={page}"', body)
    assert body.count('<tr id="link-row-') == 20


def test_the_last_page_has_no_next(client, alice):
    for _ in range(21):
        make_link(owner=alice)
    response = client.get(reverse("link-list"), {"page": 2})
    assert response.content.decode().count('<tr id="link-row-') == 1
    assert 'rel="next"' not in response["Link"]
    assert 'rel="next"' not in response.content.decode()


@pytest.mark.parametrize("page", ["0", "3", "-1", "abc", "1.5", "99999999999999999999"])
def test_malformed_or_out_of_range_pages_are_404(client, alice, page):
    make_link(owner=alice)
    assert client.get(reverse("link-list"), {"page": page}).status_code == 404


def test_search_and_filters(client, alice):
    make_link(owner=alice, target="https://example.com/cats", title="Cats")
    dogs = make_link(owner=alice, target="https://example.com/dogs", notes="good dogs")
    off = make_link(owner=alice, target="https://example.com/off", tags=["archive"])
    off.disable()

    def slugs_for(**params):
        body = client.get(reverse("link-list"), params).content.decode()
        return set(re.findall(r'<tr id="link-row-([^"]+)"', body))

    assert slugs_for(q="good dogs") == {dogs.slug}
    assert slugs_for(q=dogs.slug) == {dogs.slug}
    assert slugs_for(tag="archive") == {off.slug}
    assert slugs_for(state="disabled") == {off.slug}
    assert len(slugs_for(state="active")) == 2
    assert len(slugs_for(state="bogus")) == 3


def test_people_see_only_their_own_links_and_staff_see_all(client, alice):
    mine = make_link(owner=alice)
    theirs = make_link(owner=make_user("mallory"))
    body = client.get(reverse("link-list")).content.decode()
    assert mine.slug in body and theirs.slug not in body
    for name in ["link-detail", "link-edit", "link-delete"]:
        assert client.get(reverse(name, args=[theirs.slug])).status_code == 404
    for name in ["link-disable", "link-delete", "link-edit"]:
        client.post(reverse(name, args=[theirs.slug]), {"target": "https://evil.example"})
    theirs.refresh_from_db()
    assert theirs.state == LinkState.ACTIVE and theirs.target.startswith("https://example.com")

    client.force_login(make_user("staff", is_staff=True))
    body = client.get(reverse("link-list")).content.decode()
    assert mine.slug in body and theirs.slug in body


def test_the_collection_asks_anonymous_people_to_sign_in(client):
    response = client.get(reverse("link-list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


# --- a link's page: controls follow state ---------------------------------


def controls(body: str) -> set[str]:
    return set(re.findall(r">(Edit|Disable|Enable|Delete…)</", body))


def test_an_active_link_offers_disable_never_enable(client, alice):
    link = make_link(owner=alice)
    body = client.get(link.get_absolute_url()).content.decode()
    assert controls(body) == {"Edit", "Disable", "Delete…"}
    assert link.target in body and link.slug in body


def test_a_disabled_link_offers_enable_never_disable(client, alice):
    link = make_link(owner=alice, is_active=False)
    body = client.get(link.get_absolute_url()).content.decode()
    assert controls(body) == {"Edit", "Enable", "Delete…"}


def test_disable_without_htmx_redirects_back_and_enable_restores(client, alice):
    link = make_link(owner=alice)
    response = client.post(reverse("link-disable", args=[link.slug]))
    assert response.status_code == 303 and response["Location"] == link.get_absolute_url()
    link.refresh_from_db()
    assert link.state == LinkState.DISABLED
    client.post(reverse("link-enable", args=[link.slug]))
    link.refresh_from_db()
    assert link.state == LinkState.ACTIVE


def test_disable_redirects_to_a_safe_next_only(client, alice):
    link = make_link(owner=alice)
    url = reverse("link-disable", args=[link.slug])
    response = client.post(url, {"next": "https://evil.example/"})
    assert response["Location"] == link.get_absolute_url()
    client.post(reverse("link-enable", args=[link.slug]))
    response = client.post(url, {"next": reverse("link-list") + "?page=1"})
    assert response["Location"] == reverse("link-list") + "?page=1"


def test_disable_with_htmx_from_the_panel_answers_the_panel(client, alice):
    link = make_link(owner=alice)
    response = client.post(
        reverse("link-disable", args=[link.slug]), headers={**HTMX, "HX-Target": "link-panel"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="link-panel"')
    assert controls(body) == {"Edit", "Enable", "Delete…"}


def test_disable_with_htmx_from_a_row_answers_the_row(client, alice):
    link = make_link(owner=alice)
    response = client.post(
        reverse("link-disable", args=[link.slug]),
        headers={**HTMX, "HX-Target": f"link-row-{link.slug}"},
    )
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="link-row-{link.slug}">')
    assert ">Enable<" in body and ">Disable<" not in body


def test_state_changes_are_not_possible_with_get(client, alice):
    link = make_link(owner=alice)
    assert client.get(reverse("link-disable", args=[link.slug])).status_code == 405
    link.refresh_from_db()
    assert link.state == LinkState.ACTIVE


# --- editing --------------------------------------------------------------


def test_edit_changes_target_and_title_but_never_the_slug(client, alice):
    link = make_link(owner=alice)
    response = client.post(
        reverse("link-edit", args=[link.slug]),
        {
            "target": "https://example.org/moved",
            "title": "Moved",
            "redirect_code": "307",
            "slug": "hijacked",
            "tags": "a",
        },
    )
    assert response.status_code == 303
    edited = Link.objects.get(pk=link.pk)
    assert edited.slug == link.slug
    assert (edited.target, edited.title, edited.redirect_code) == (
        "https://example.org/moved",
        "Moved",
        307,
    )
    change = DestinationChange.objects.filter(link=link).first()
    assert (change.old_target, change.new_target, change.changed_by) == (
        link.target,
        "https://example.org/moved",
        alice,
    )


def test_edit_with_htmx_answers_the_panel(client, alice):
    link = make_link(owner=alice)
    url = reverse("link-edit", args=[link.slug])
    form = client.get(url, headers={**HTMX, "HX-Target": "link-panel"}).content.decode()
    assert form.lstrip().startswith('<section id="link-panel"') and "<form" in form
    response = client.post(
        url,
        {"target": "https://example.org/x", "redirect_code": "302"},
        headers={**HTMX, "HX-Target": "link-panel"},
    )
    body = response.content.decode()
    # The tab's title, the heading (out of band) and the panel, and "Saved" said aloud.
    assert f"<title>{link.title or link.slug} · Torii</title>" in body
    assert '<h1 id="link-heading" hx-swap-oob="true">' in body
    assert '<section id="link-panel"' in body
    assert "https://example.org/x" in body
    assert "Saved" in response["HX-Trigger"]


def test_invalid_edit_writes_nothing(client, alice):
    link = make_link(owner=alice)
    response = client.post(
        reverse("link-edit", args=[link.slug]),
        {"target": "file:///etc/passwd", "redirect_code": "302"},
    )
    assert response.status_code == 422
    assert "Links to file: addresses are not allowed" in response.content.decode()
    assert Link.objects.get(pk=link.pk).target == link.target
    assert DestinationChange.objects.filter(link=link).count() == 1


# --- deleting -------------------------------------------------------------


def test_delete_asks_for_confirmation_then_leaves_a_tombstone(client, alice):
    link = make_link(owner=alice)
    url = reverse("link-delete", args=[link.slug])
    confirm = client.get(url)
    assert "Delete for good" in confirm.content.decode()
    assert Link.objects.get(pk=link.pk).state == LinkState.ACTIVE

    response = client.post(url)
    assert response.status_code == 303 and response["Location"] == reverse("link-list")
    assert Link.objects.get(pk=link.pk).state == LinkState.DELETED
    assert client.get(link.get_absolute_url()).status_code == 404
    assert client.get(reverse("follow", args=[link.slug])).status_code == 410
    assert link.slug not in client.get(reverse("link-list")).content.decode()


# --- QR codes -------------------------------------------------------------


def test_qr_codes_when_the_flag_is_on(client, alice):
    link = make_link(owner=alice)
    with override_flag("qr_codes", active=True):
        page = client.get(link.get_absolute_url()).content.decode()
        svg = client.get(reverse("link-qr", args=[link.slug, "svg"]))
        png = client.get(reverse("link-qr", args=[link.slug, "png"]))
    assert "<svg" in page and "Download PNG" in page
    assert svg["Content-Type"] == "image/svg+xml" and svg.content.startswith(b"<?xml")
    assert png["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")


def test_qr_codes_are_gone_when_the_flag_is_off(client, alice):
    link = make_link(owner=alice)
    with override_flag("qr_codes", active=False):
        page = client.get(link.get_absolute_url()).content.decode()
        assert client.get(reverse("link-qr", args=[link.slug, "svg"])).status_code == 404
    assert "<svg" not in page and "Download PNG" not in page


# --- accounts -------------------------------------------------------------


def test_sign_up_is_404_while_the_flag_is_off(client):
    with override_flag("open_signup", active=False):
        assert client.get(reverse("signup")).status_code == 404
        assert "Sign up" not in client.get(reverse("home")).content.decode()


def test_sign_up_when_the_flag_is_on(client):
    from django.contrib.auth import get_user_model

    with override_flag("open_signup", active=True):
        assert "Sign up" in client.get(reverse("home")).content.decode()
        response = client.post(
            reverse("signup"),
            {"username": "newbie", "password1": "a-Long-pass-123", "password2": "a-Long-pass-123"},
        )
        assert response.status_code == 303
        bad = client.post(reverse("signup"), {"username": "x", "password1": "1", "password2": "2"})
    assert bad.status_code == 422
    assert get_user_model().objects.filter(username="newbie").exists()
    assert get_user_model().objects.count() == 1


def described_by_ids_missing(body: str) -> set[str]:
    wanted = {i for ids in re.findall(r'aria-describedby="([^"]+)"', body) for i in ids.split()}
    present = set(re.findall(r'\bid="([^"]+)"', body))
    return wanted - present


@override_flag("custom_slugs", active=True)
def test_every_aria_describedby_names_an_element_on_the_page(client, alice):
    link = make_link(owner=alice)
    pages = [
        reverse("home"),
        reverse("link-edit", args=[link.slug]),
        reverse("link-list"),
        reverse("token-list"),
    ]
    for url in pages:
        body = client.get(url).content.decode()
        assert 'aria-describedby="' in body
        assert described_by_ids_missing(body) == set(), url
    # The warning about permanent redirects reaches a screen reader through its id.
    body = client.get(reverse("link-edit", args=[link.slug])).content.decode()
    select = re.search(r'<select name="redirect_code"[^>]*>', body).group(0)
    helptext_id = re.search(r'aria-describedby="([^"]+)"', select).group(1).split()[0]
    assert re.search(rf'id="{helptext_id}">[^<]*(301|308)', body)
    refused = client.post(reverse("link-list"), {"target": "javascript:x", "tags": "x" * 100})
    assert described_by_ids_missing(refused.content.decode()) == set()


def test_no_empty_table_under_no_links_yet(client, alice):
    body = client.get(reverse("home")).content.decode()
    assert '<div class="table-wrap" id="recent-table" hidden>' in body
