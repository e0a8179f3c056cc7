"""International destinations end to end: stored as browsers serialise them, redirected
with exactly those ASCII bytes, shown readable; Unicode blocklist entries block every form."""

import http.client
import importlib
import re
from urllib.parse import urlsplit

import pytest
from django.contrib.admin.sites import site
from django.template import Context, Template
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from shortener.links.readable import readable
from shortener.models import BlockedDomain, BlockedDomainRefused, Link
from shortener.policy import targets
from tests.conftest import make_link, make_user

pytestmark = pytest.mark.django_db

# As typed, as stored and sent in Location, as shown on the pages.
DESTINATIONS = [
    (
        "https://ru.wikipedia.org/wiki/Ж",
        b"https://ru.wikipedia.org/wiki/%D0%96",
        "https://ru.wikipedia.org/wiki/Ж",
    ),
    (
        "https://example.com/search?q=🙂",
        b"https://example.com/search?q=%F0%9F%99%82",
        "https://example.com/search?q=🙂",
    ),
    (
        "https://example.com/preise/€?währung=€#€",
        b"https://example.com/preise/%E2%82%AC?w%C3%A4hrung=%E2%82%AC#%E2%82%AC",
        "https://example.com/preise/€?währung=€#€",
    ),
    (
        "https://Bücher.example/straße",
        b"https://xn--bcher-kva.example/stra%C3%9Fe",
        "https://bücher.example/straße",
    ),
    ("https://faß.de/", b"https://xn--fa-hia.de/", "https://faß.de/"),
]


@pytest.fixture
def alice(client):
    user = make_user("alice")
    client.force_login(user)
    return user


def create_through_the_form(client, target: str) -> Link:
    response = client.post(reverse("link-list"), {"target": target, "redirect_code": "302"})
    assert response.status_code == 303, response.content.decode()[:500]
    return Link.objects.get(pk=Link.objects.latest("pk").pk)


@pytest.mark.parametrize(("typed", "sent", "shown"), DESTINATIONS, ids=[d[0] for d in DESTINATIONS])
def test_a_unicode_destination_redirects_with_the_browser_bytes(client, alice, typed, sent, shown):
    link = create_through_the_form(client, typed)
    assert link.target.encode("ascii") == sent
    assert link.destination_changes.get().new_target == link.target

    response = client.get(f"/{link.slug}")
    assert response.status_code == 302
    location = response.serialize_headers().split(b"\r\nLocation: ", 1)[1].split(b"\r\n")[0]
    assert location == sent  # not RFC 2047 (=?utf-8?q?...?=), not double-encoded

    for page in (link.get_absolute_url(), reverse("preview", args=[link.slug])):
        body = client.get(page).content.decode()
        assert shown in body  # readable text
        assert f'href="{link.target}"' in body  # the link itself is the stored target


def test_the_same_target_typed_encoded_is_the_same_target(client, alice):
    typed = create_through_the_form(client, "https://example.com/€")
    encoded = create_through_the_form(client, "https://example.com/%E2%82%AC")
    assert typed.target == encoded.target == "https://example.com/%E2%82%AC"


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("http://[::127.0.0.1]/", "private, local or reserved"),
        ("http://[::ffff:0:127.0.0.1]/", "private, local or reserved"),
        ("http://[fec0::1]/", "private, local or reserved"),
        ("http://☃.net/", "is not a valid domain name"),
    ],
)
def test_refused_hosts_say_why_and_write_nothing(client, alice, typed, reason):
    response = client.post(reverse("link-list"), {"target": typed, "redirect_code": "302"})
    assert response.status_code == 422
    assert reason in response.content.decode()
    assert not Link.objects.exists()


READABLE = [
    ("https://xn--e1afmkfd.xn--p1ai/wiki/%D0%96", "https://пример.рф/wiki/Ж"),
    (
        "https://xn--fa-hia.de:8443/stra%C3%9Fe?q=%F0%9F%99%82#%E2%82%AC",
        "https://faß.de:8443/straße?q=🙂#€",
    ),
    ("https://xn--r8jz45g.xn--zckzah/", "https://例え.テスト/"),
    ("https://xn--e1aybc.xn--p1ai/", "https://тест.рф/"),  # Cyrillic under a Cyrillic TLD
    ("https://xn--80ak6aa92e.com/", "https://xn--80ak6aa92e.com/"),  # a Cyrillic "apple"
    ("https://xn--e1aybc.com/", "https://xn--e1aybc.com/"),  # Latin lookalikes under .com
    ("https://xn--pypal-4ve.example/", "https://xn--pypal-4ve.example/"),  # Latin + Cyrillic a
    ("https://[2001:4860::1]:8080/%D0%96", "https://[2001:4860::1]:8080/Ж"),
    ("https://example.com/%c3%a9", "https://example.com/é"),
    # never decoded: ASCII escapes, bidi, invisible, blank, broken or unassigned UTF-8
    ("https://example.com/a%20b%2Fc%25", "https://example.com/a%20b%2Fc%25"),
    ("https://example.com/%3Cscript%3E", "https://example.com/%3Cscript%3E"),
    ("https://example.com/%E2%80%AEexe.txt", "https://example.com/%E2%80%AEexe.txt"),
    ("https://example.com/%E2%80%8B", "https://example.com/%E2%80%8B"),
    ("https://example.com/%C2%A0%E3%80%80", "https://example.com/%C2%A0%E3%80%80"),
    ("https://example.com/%C3", "https://example.com/%C3"),
    ("https://example.com/%ED%A0%80", "https://example.com/%ED%A0%80"),
    ("https://example.com/%EF%BF%BF", "https://example.com/%EF%BF%BF"),
    ("https://example.com/%CC%81", "https://example.com/%CC%81"),  # a lone combining mark
    ("https://xn--zz.com/", "https://xn--zz.com/"),  # not Punycode: shown as stored
]


@pytest.mark.parametrize(("stored", "shown"), READABLE, ids=[r[0][:50] for r in READABLE])
def test_destinations_read_as_text_but_never_mislead(stored, shown):
    assert readable(stored) == shown


def test_the_template_filter_shows_the_readable_form_escaped():
    template = Template("{% load readable_urls %}{{ url|readable_url }}")
    rendered = template.render(Context({"url": "https://example.com/%D0%96?q=<b>"}))
    assert rendered == "https://example.com/Ж?q=&lt;b&gt;"


def test_search_finds_a_destination_by_what_a_person_types(client, alice):
    create_through_the_form(client, "https://bücher.example/wiki/Ж")
    for text in ("Ж", "bücher", "xn--bcher", "%D0%96"):
        body = client.get(reverse("link-list"), {"q": text}).content.decode()
        assert "https://bücher.example/wiki/Ж" in body, text
    assert "bücher.example" not in client.get(reverse("link-list"), {"q": "Я"}).content.decode()


# --- the blocklist ------------------------------------------------------------


@pytest.mark.parametrize("entry", ["bücher.example", "Bücher.Example.", "xn--bcher-kva.example"])
@pytest.mark.parametrize(
    "target",
    ["https://bücher.example/", "https://xn--bcher-kva.example/", "https://a.BÜCHER.example/"],
)
def test_a_unicode_entry_blocks_the_domain_in_every_form(client, alice, entry, target):
    BlockedDomain.objects.create(domain=entry)
    assert BlockedDomain.objects.get().domain == "xn--bcher-kva.example"
    response = client.post(reverse("link-list"), {"target": target, "redirect_code": "302"})
    assert response.status_code == 422
    assert "are blocked on this site" in response.content.decode()
    assert not Link.objects.exists()


@pytest.mark.parametrize("entry", ["com", "co.uk", "github.io", "*.co.uk", "https://evil.example/"])
def test_a_bare_public_suffix_or_a_url_cannot_be_saved(entry):
    with pytest.raises(BlockedDomainRefused):
        BlockedDomain.objects.create(domain=entry)
    assert not BlockedDomain.objects.exists()


def test_the_admin_form_normalises_and_refuses_with_the_sentence(admin_client):
    add = reverse("admin:shortener_blockeddomain_add")
    response = admin_client.post(add, {"domain": "co.uk"})
    assert response.status_code == 200
    assert "co.uk is a public suffix shared by many unrelated sites" in response.content.decode()
    admin_client.post(add, {"domain": "*.Bücher.example."})
    assert list(BlockedDomain.objects.values_list("domain", flat=True)) == ["xn--bcher-kva.example"]
    again = admin_client.post(add, {"domain": "xn--BCHER-kva.example"})
    assert "already exists" in again.content.decode()
    assert BlockedDomain.objects.count() == 1
    assert site.is_registered(BlockedDomain)


def test_the_migration_rewrites_stored_entries_and_merges_duplicates():
    from django.apps import apps

    migration = importlib.import_module("shortener.migrations.0005_targets_as_browsers_send_them")
    rows = ["Bücher.example.", "xn--bcher-kva.example", "EVIL.example", "com", "ok.example"]
    BlockedDomain.objects.bulk_create([BlockedDomain(domain=d) for d in rows])  # as before
    migration.normalise_blocklist(apps, None)
    assert sorted(BlockedDomain.objects.values_list("domain", flat=True)) == [
        "com",  # refused now, left to staff rather than silently unblocked
        "evil.example",
        "ok.example",
        "xn--bcher-kva.example",
    ]


def test_the_migration_stores_old_unicode_targets_as_browsers_send_them(client):
    from django.apps import apps

    migration = importlib.import_module("shortener.migrations.0005_targets_as_browsers_send_them")
    old = make_link(target="https://ru.wikipedia.org/wiki/Ж?q=🙂#€")  # written before the fix
    plain = make_link(target="https://example.com/a%20b")
    migration.encode_targets(apps, None)
    old.refresh_from_db()
    assert old.target == "https://ru.wikipedia.org/wiki/%D0%96?q=%F0%9F%99%82#%E2%82%AC"
    assert Link.objects.get(pk=plain.pk).target == "https://example.com/a%20b"
    location = client.get(f"/{old.slug}").serialize_headers()
    assert (
        b"Location: https://ru.wikipedia.org/wiki/%D0%96?q=%F0%9F%99%82#%E2%82%AC\r\n" in location
    )


def test_an_old_unicode_entry_still_blocks_before_the_migration(client, alice):
    BlockedDomain.objects.bulk_create([BlockedDomain(domain="bücher.example")])
    response = client.post(
        reverse("link-list"), {"target": "https://xn--bcher-kva.example/", "redirect_code": "302"}
    )
    assert response.status_code == 422 and not Link.objects.exists()


# --- through a real server ----------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_granian_sends_the_same_location_bytes():
    from tests.servers import granian

    links = [make_link(target=sent.decode()) for _, sent, _ in DESTINATIONS]
    with granian(workers=1) as url:
        parts = urlsplit(url)
        for link, (_, sent, _) in zip(links, DESTINATIONS, strict=True):
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            try:
                connection.request("GET", f"/{link.slug}")
                response = connection.getresponse()
                location = response.getheader("Location")
            finally:
                connection.close()
            assert response.status == 302
            assert location.encode("latin-1") == sent


@given(
    st.sampled_from(["https://example.com", "https://bücher.example", "http://пример.рф:8080"]),
    st.text(max_size=40),
)
def test_what_is_shown_leads_back_to_the_same_stored_target(origin, rest):
    stored = targets.check(f"{origin}/{rest}").url
    if stored is None:
        return
    shown = readable(stored)
    assert targets.check(shown).url == re.sub(r"%[0-9a-f]{2}", lambda m: m[0].upper(), stored)
