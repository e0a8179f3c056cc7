"""Several short domains on one Torii: the same slug on two domains is two links, each
host answers only its own, and every short URL the site shows carries the link's domain."""

import html
import re

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError
from django.urls import reverse
from waffle.testutils import override_flag

from config import environment
from shortener import links
from shortener.models import Domain, DomainRefused, Link
from shortener.pages import qr
from tests.api_client import ApiClient
from tests.conftest import make_domain, make_link, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(db):
    """The same slug on the site's own host, on ex.co and on bücher.example (an IDN)."""
    ex = make_domain("ex.co")
    idn = make_domain("Bücher.Example.")
    old = make_domain("old.example", is_active=False)
    on_site = make_link(slug="launch", target="https://example.com/site")
    on_ex = make_link(slug="launch", target="https://example.com/ex", domain=ex)
    on_idn = make_link(slug="launch", target="https://example.com/idn", domain=idn)
    make_link(slug="launch", target="https://example.com/old", domain=old)
    return {"ex": ex, "idn": idn, "old": old, "site": on_site, "on_ex": on_ex, "on_idn": on_idn}


def follow(client, path: str, host: str | None):
    headers = {} if host is None else {"Host": host}
    return client.get(path, headers=headers)


# --- the model -------------------------------------------------------------------------


def test_the_site_host_is_the_default_domain_and_links_live_on_it_unless_told(settings):
    site = Domain.objects.site()
    assert site.is_default and site.is_active and site.is_site
    link = make_link(slug="plain")
    assert link.domain == site
    assert link.key == "plain" and link.get_absolute_url() == "/links/plain/"
    assert link.short_url == f"http://{settings.SITE_HOST}/plain"  # SECURE_SSL off: http


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Go.Example.COM", "go.example.com"),
        ("go.example.com.", "go.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
    ],
)
def test_a_domain_is_stored_lower_case_in_idna_form(typed, stored):
    assert make_domain(typed).host == stored


@pytest.mark.parametrize("typed", ["ex.co:8080", "https://ex.co", "ex.co/x", "", "a..b", "*.ex.co"])
def test_a_domain_that_is_no_host_name_is_refused(typed):
    with pytest.raises(DomainRefused):
        make_domain(typed)
    assert not Domain.objects.exclude(host="localhost").exists()


def test_urls_are_https_unless_the_domain_is_marked_http_only():
    assert make_domain("ex.co").url_for("a") == "https://ex.co/a"
    assert make_domain("plain.example", http_only=True).url_for("a") == "http://plain.example/a"


def test_one_default_domain_choosing_another_moves_it(settings):
    ex = make_domain("ex.co", is_default=True)
    assert list(Domain.objects.filter(is_default=True)) == [ex]
    assert not Domain.objects.site().is_default


def test_slugs_are_unique_per_domain_in_the_database_too():
    ex = make_domain("ex.co")
    make_link(slug="same")
    make_link(slug="same", domain=ex)
    with pytest.raises(IntegrityError):
        make_link(slug="same", domain=ex)


def test_a_saved_links_domain_cannot_change_even_in_code():
    from shortener.models import SlugChangeRefused

    link = make_link(slug="fixed")
    link.domain = make_domain("ex.co")
    with pytest.raises(SlugChangeRefused, match="domain"):
        link.save()
    assert Link.objects.get(pk=link.pk).domain.host != "ex.co"


def test_reserved_words_apply_only_on_the_site_host(client):
    make_domain("ex.co")
    owner = make_user()
    with override_flag("custom_slugs", active=True):
        with pytest.raises(links.LinkRefused, match="reserved"):
            links.create({"target": "https://example.com/", "slug": "admin"}, actor=owner)
        link = links.create(
            {"target": "https://example.com/", "slug": "admin", "domain": "ex.co"}, actor=owner
        )
    assert link.short_url == "https://ex.co/admin"
    response = follow(client, "/admin", "ex.co")
    assert (response.status_code, response["Location"]) == (302, "https://example.com/")


# --- following links by host -----------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", "https://example.com/site"),
        ("testserver", "https://example.com/site"),  # configured, no domain: the site's
        (None, "https://example.com/site"),  # no Host: SERVER_NAME, as Django reads it
        ("127.0.0.1:8000", "https://example.com/site"),
        ("[::1]", "https://example.com/site"),
        ("ex.co", "https://example.com/ex"),
        ("EX.CO", "https://example.com/ex"),
        ("ex.co.", "https://example.com/ex"),
        ("ex.co:8443", "https://example.com/ex"),
        ("Ex.Co.:80", "https://example.com/ex"),
        ("xn--bcher-kva.example", "https://example.com/idn"),
        ("XN--BCHER-KVA.EXAMPLE", "https://example.com/idn"),
        ("bücher.example", 400),  # Unicode is not what browsers send: no valid Host
        ("b\u00fccher.example".encode().decode("latin-1"), 400),  # its UTF-8 bytes as sent
        ("sub.ex.co", 400),  # not a domain here
        ("nowhere.example", 400),
        ("old.example", 400),  # an inactive domain serves nothing
        ("ex.co:port", 400),
        ("ex.co:8080:90", 400),
        ("ex.co, localhost", 400),
        ("ex.co/launch", 400),
        ("user@ex.co", 400),
        ("", 400),
        (" ", 400),
        ("..", 400),
    ],
)
def test_each_host_gets_its_own_link_or_a_defined_refusal(client, two, host, expected):
    for method in (client.get, client.head):
        headers = {} if host is None else {"Host": host}
        response = method("/launch", headers=headers)
        if isinstance(expected, int):
            assert response.status_code == expected
            assert "Location" not in response
        else:
            assert (response.status_code, response["Location"]) == (302, expected)


def test_unknown_slugs_never_reach_another_domains_link(client, two):
    make_link(slug="only-site", target="https://example.com/only")
    assert follow(client, "/only-site", "ex.co").status_code == 404
    assert follow(client, "/only-site+", "ex.co").status_code == 404
    assert follow(client, "/only-site", "localhost").status_code == 302


def test_a_tombstone_blocks_only_its_own_domain(client, two):
    links.delete(two["on_ex"], by=links.SYSTEM)  # an ownerless link: the site deletes it
    assert follow(client, "/launch", "ex.co").status_code == 410
    assert follow(client, "/launch", "localhost")["Location"] == "https://example.com/site"


def test_the_preview_shows_the_link_of_its_own_domain(client, two):
    body = follow(client, "/launch+", "ex.co").content.decode()
    assert "example.com/ex" in body and "example.com/site" not in body


def test_x_forwarded_host_counts_only_behind_trusted_proxies(client, two, settings):
    forwarded = {"Host": "localhost", "X-Forwarded-Host": "ex.co"}
    assert client.get("/launch", headers=forwarded)["Location"] == "https://example.com/site"
    settings.USE_X_FORWARDED_HOST = True  # what TRUSTED_PROXY_COUNT > 0 sets
    assert client.get("/launch", headers=forwarded)["Location"] == "https://example.com/ex"
    response = client.get("/launch", headers={**forwarded, "X-Forwarded-Host": "evil.example"})
    assert response.status_code == 400


# --- what a short domain answers --------------------------------------------------------


SITE_ONLY = ["/admin/", "/links/", "/api/v1/", "/accounts/login/", "/tokens/", "/flags/"]


@pytest.mark.parametrize(
    "path", [*SITE_ONLY, "/webhooks/x/", "/links/launch/", "/launch/", "/a/b", "/launch++"]
)
def test_a_short_domain_answers_nothing_but_its_links(client, two, path):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    assert follow(client, path, "ex.co").status_code == 404
    if path in SITE_ONLY:  # the same path is a page on the site's own host
        assert follow(client, path, "localhost").status_code in (200, 302)


def test_a_short_domain_answers_health_checks(client, two):
    assert follow(client, "/healthz", "ex.co").status_code == 200


def test_a_short_domains_root_goes_home_or_where_staff_said(client, two, settings):
    response = follow(client, "/", "ex.co")
    assert (response.status_code, response["Location"]) == (302, f"http://{settings.SITE_HOST}/")
    two["ex"].root_redirect = "https://brand.example/"
    two["ex"].save()
    assert follow(client, "/", "ex.co")["Location"] == "https://brand.example/"
    assert follow(client, "/", "localhost").status_code == 200  # the site's home page


def test_an_unknown_slug_is_a_404_or_goes_where_staff_said(client, two):
    assert follow(client, "/nope", "ex.co").status_code == 404
    two["ex"].unknown_redirect = "https://brand.example/missing"
    two["ex"].save()
    response = follow(client, "/nope", "ex.co")
    assert (response.status_code, response["Location"]) == (302, "https://brand.example/missing")
    assert follow(client, "/nope", "localhost").status_code == 404  # only that domain's
    assert follow(client, "/admin/", "ex.co").status_code == 404  # not a slug: no redirect


SITE_LINK = re.compile(r'(?:href|action)="([^"#]*)"')


@pytest.mark.parametrize("path", ["/nope", "/gone", "/accounts/login/"])
def test_a_short_domains_error_pages_lead_to_the_site_not_to_more_404s(client, two, path):
    """A short domain answers only its links: the site's links on its 404 and 410 pages
    (sign in, sign up, home, the API docs) carry the site's own address."""
    make_link(slug="gone", target="https://example.com/x", domain=two["ex"], is_active=False)
    response = follow(client, path, "ex.co")
    assert response.status_code in (404, 410)
    page = response.content.decode()
    targets = [url for url in SITE_LINK.findall(page) if not url.startswith("/static/")]
    assert "http://localhost/accounts/login/" in targets
    assert "http://localhost/" in targets  # the brand and "Go to the home page"
    # The link's own report page is on its own domain, and answers there.
    own = [url for url in targets if url.startswith("/") and url.endswith("+report")]
    assert not [url for url in targets if url.startswith("/") and url not in own]
    for url in own:
        assert follow(client, url, "ex.co").status_code == 200
    on_site = follow(client, "/nope", "localhost").content.decode()
    assert 'href="/accounts/login/"' in on_site  # the site's own pages stay relative


def test_the_site_root_cannot_redirect_nor_the_site_host_go_inactive(settings):
    site = Domain.objects.site()
    site.root_redirect, site.is_active = "https://elsewhere.example/", False
    assert set(site.problems()) == {"root_redirect", "is_active", "is_default"}


# --- short URLs carry the link's domain ---------------------------------------------------


def test_every_short_url_the_pages_show_is_on_the_links_domain(client, two):
    owner = make_user()
    Link.objects.filter(pk=two["on_ex"].pk).update(owner=owner)
    client.force_login(owner)
    with override_flag("qr_codes", active=True):
        detail = client.get("/links/launch@ex.co/", headers={"Host": "localhost"})
        svg = client.get("/links/launch@ex.co/qr.svg").content
    body = html.unescape(detail.content.decode())
    # The short URL is a link to itself, with its copy button.
    assert 'href="https://ex.co/launch">https://ex.co/launch</a>' in body
    assert 'data-copy="https://ex.co/launch"' in body
    assert qr.inline_svg("https://ex.co/launch") in detail.content.decode()
    assert svg == qr.download("https://ex.co/launch", "svg")[0]
    assert 'href="https://ex.co/launch+"' in body  # the preview on its own domain
    listing = client.get("/links/").content.decode()
    assert "ex.co" in listing and 'id="link-row-launch·' in listing


def test_the_created_message_and_the_api_use_the_links_domain(client, two):
    owner = make_user()
    client.force_login(owner)
    with override_flag("custom_slugs", active=True):
        response = client.post(
            reverse("link-list"),
            {"target": "https://example.com/x", "slug": "fresh", "domain": "ex.co"},
            follow=True,
        )
    # Without JavaScript the message links the short URL on its own domain.
    created = 'Created <a href="https://ex.co/fresh" rel="nofollow">https://ex.co/fresh</a>'
    assert created in response.content.decode()
    doc = ApiClient(client, owner).get("/api/v1/links/fresh@ex.co").json()
    assert (doc["short_url"], doc["domain"], doc["key"]) == (
        "https://ex.co/fresh",
        "ex.co",
        "fresh@ex.co",
    )
    assert doc["_links"]["short_url"]["href"] == "https://ex.co/fresh"
    assert doc["_links"]["self"]["href"].endswith("/api/v1/links/fresh@ex.co")


# --- choosing a domain ------------------------------------------------------------------


def test_the_create_form_offers_the_domains_the_user_may_use_default_first(client, settings):
    make_domain("ex.co", is_default=True)
    make_domain("team.example", groups=[Group.objects.create(name="team")])
    make_domain("old.example", is_active=False)
    user = make_user()
    client.force_login(user)
    body = client.get("/").content.decode()
    options = re.findall(r'<option value="([^"]+)"( selected)?', body.split('name="domain"')[1])
    assert [host for host, _ in options[:2]] == ["ex.co", settings.SITE_HOST]
    assert options[0][1] == " selected" and "team.example" not in body
    user.groups.add(Group.objects.get(name="team"))
    assert "team.example" in client.get("/").content.decode()


def test_without_a_choice_links_go_on_the_default_domain():
    make_domain("ex.co", is_default=True)
    link = links.create({"target": "https://example.com/"}, actor=make_user())
    assert link.domain.host == "ex.co" and link.short_url.startswith("https://ex.co/")


def test_with_one_usable_domain_the_form_asks_nothing(client):
    client.force_login(make_user())
    assert 'name="domain"' not in client.get("/").content.decode()


def test_the_list_and_the_api_filter_by_domain(client, two):
    owner = make_user()
    Link.objects.update(owner=owner)
    client.force_login(owner)
    listing = client.get("/links/", {"domain": "EX.CO"})
    assert listing["X-Total-Count"] == "1"
    assert client.get("/links/", {"domain": "bücher.example"})["X-Total-Count"] == "1"
    api = ApiClient(client, owner)
    page = api.get("/api/v1/links?domain=ex.co").json()
    assert [item["short_url"] for item in page["items"]] == ["https://ex.co/launch"]
    assert api.get("/api/v1/links?domain=nowhere.example").json()["count"] == 0


def test_the_edit_page_shows_the_domain_and_offers_no_change(client, two):
    owner = make_user()
    Link.objects.filter(pk=two["on_ex"].pk).update(owner=owner)
    client.force_login(owner)
    body = client.get("/links/launch@ex.co/edit/").content.decode()
    assert "https://ex.co/launch" in body and 'name="domain"' not in body


# --- the target policy ------------------------------------------------------------------


def test_no_link_may_lead_to_an_active_domain_its_subdomains_only_where_marked():
    make_domain("ex.co")
    make_domain("brand.example", refuse_subdomains=True)
    make_domain("old.example", is_active=False)
    user = make_user()

    def refused(target: str) -> bool:
        try:
            links.create({"target": target}, actor=user)
        except links.LinkRefused as refusal:
            assert "would loop" in refusal.reason
            return True
        return False

    assert refused("https://ex.co/launch") and refused("https://EX.CO./x")
    assert not refused("https://shop.ex.co/")  # someone else's subdomain
    assert refused("https://brand.example/") and refused("https://www.brand.example/")
    assert not refused("https://old.example/")


# --- admin ------------------------------------------------------------------------------


def test_a_domains_admin_page_shows_its_links_and_clicks(client, two):
    Link.objects.filter(pk=two["on_ex"].pk).update(visit_count=42)
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    listing = client.get(reverse("admin:shortener_domain_changelist")).content.decode()
    assert "ex.co" in listing and ">42<" in listing
    page = client.get(reverse("admin:shortener_domain_change", args=[two["ex"].pk]))
    body = page.content.decode()
    assert "launch" in body and "https://example.com/ex" in body and "42" in body


def test_staff_add_a_domain_in_admin_and_it_serves_at_once(client):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:shortener_domain_add"),
        {"host": "New.Example.", "is_active": "on", "is_default": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    domain = Domain.objects.get(host="new.example")
    assert domain.is_default
    make_link(slug="fresh", domain=domain, target="https://example.com/new")
    assert follow(client, "/fresh", "new.example")["Location"] == "https://example.com/new"


def test_staff_choose_the_domain_when_adding_a_link_in_admin(client, two):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:shortener_link_add"),
        {"target": "https://example.com/admin", "domain": "ex.co", "redirect_code": "302"},
    )
    assert response.status_code == 302
    assert Link.objects.get(target="https://example.com/admin").domain == two["ex"]


# --- SITE_HOST --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "allowed", "expected"),
    [
        (None, ["go.example.com", "localhost"], "go.example.com"),
        (None, [".example.com"], "example.com"),
        (None, ["*"], "localhost"),
        (None, ["[::1]", "Torii.Example."], "torii.example"),
        ("Go.Example.COM.", ["localhost"], "go.example.com"),
    ],
)
def test_site_host_comes_from_the_environment_or_allowed_hosts(
    monkeypatch, value, allowed, expected
):
    if value is None:
        monkeypatch.delenv("SITE_HOST", raising=False)
    else:
        monkeypatch.setenv("SITE_HOST", value)
    assert environment.site_host("SITE_HOST", allowed) == expected


@pytest.mark.parametrize("value", ["https://go.example.com", "go.example.com:443", "a b"])
def test_a_malformed_site_host_fails_at_start_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("SITE_HOST", value)
    with pytest.raises(ImproperlyConfigured, match="SITE_HOST"):
        environment.site_host("SITE_HOST", ["localhost"])


# --- the migration ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_puts_every_existing_link_on_the_site_host(client, settings):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("shortener", "0007_visit_rollups")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    try:
        old_link = executor.loader.project_state(before).apps.get_model("shortener", "Link")
        old_link.objects.create(slug="older", target="https://example.com/older")
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)
    link = Link.objects.get(slug="older")
    assert link.domain.host == settings.SITE_HOST and link.domain.is_default
    assert link.short_url == f"http://{settings.SITE_HOST}/older"
    assert client.get("/older")["Location"] == "https://example.com/older"
