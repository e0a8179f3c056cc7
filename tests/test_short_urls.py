"""Short URLs that work wherever Torii listens: one builder (`Domain.origin`, through
`Link.short_url`) and the same URL in every place that shows or encodes one, on the
site's own host with SITE_URL on a non-default port and on a short domain with and
without a port; the SITE_URL setting and a domain's port refuse what is not one."""

import csv
import html
import io
import json
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse

from config import environment
from shortener.domains.served import forget_domains
from shortener.models import BulkJob, Domain, DomainRefused, Link
from shortener.pages import qr
from tests.api_client import ApiClient
from tests.conftest import make_domain, make_link, make_user, run_manage, set_flag

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}

# Each case: the domain new links go on (None: the site's own) and what their short URLs
# start with. SITE_URL is http://localhost:18431 in all of them.
CASES = {
    "site on a non-default port": (None, "http://localhost:18431"),
    "short domain, usual port": ({"host": "ex.co"}, "https://ex.co"),
    "short domain with a port": ({"host": "ex.co", "port": 8443}, "https://ex.co:8443"),
    "http short domain with a port": (
        {"host": "ex.co", "port": 8080, "http_only": True},
        "http://ex.co:8080",
    ),
}


def body_of(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return html.unescape(response.content.decode())


@pytest.fixture
def staff(client, settings):
    settings.SITE_URL = "http://localhost:18431"
    forget_domains()
    user = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(user)
    set_flag("qr_codes", everyone=True)
    return user


@pytest.mark.parametrize("case", CASES)
def test_every_place_a_short_url_appears_shows_the_one_visitors_reach(client, staff, case):
    fields, origin = CASES[case]
    if fields is not None:
        make_domain(**fields, is_default=True)  # where links go without a choice

    # The created fragment (htmx), with the copy button's data.
    created = client.post(reverse("link-list"), {"target": "https://example.com/a"}, headers=HTMX)
    assert created.status_code == 200, created.content[:500]
    link = Link.objects.get()
    url = f"{origin}/{link.slug}"
    assert link.short_url == url
    fragment = body_of(created)
    assert f'href="{url}"' in fragment and f'data-copy="{url}"' in fragment

    places = {
        "detail page": client.get(link.get_absolute_url()),
        "list page": client.get(reverse("link-list")),
        "recent links": client.get(reverse("home")),
        "admin change page": client.get(reverse("admin:shortener_link_change", args=[link.pk])),
        "admin list": client.get(reverse("admin:shortener_link_changelist")),
    }
    for place, response in places.items():
        assert response.status_code == 200, place
        assert url in body_of(response), place
    detail = body_of(places["detail page"])
    assert f'data-copy="{url}"' in detail
    # QR codes: the inline SVG names what it encodes and is exactly segno's code for it,
    # and the downloads are the same code (encoding is deterministic: any other text
    # gives other modules).
    assert f"QR code for {url}" in detail
    assert qr.inline_svg(url) in places["detail page"].content.decode()
    assert qr.inline_svg(url) != qr.inline_svg(f"http://localhost/{link.slug}")
    for kind in ("svg", "png"):
        download = client.get(reverse("link-qr", args=[link.key, kind]))
        assert download.content == qr.download(url, kind)[0], kind

    # The API, its representations and its export.
    api = ApiClient(client, staff)
    doc = api.get(f"/api/v1/links/{link.key}").json()
    assert (doc["short_url"], doc["_links"]["short_url"]["href"]) == (url, url)
    made = api.post("/api/v1/links", {"target": "https://example.com/api"}).json()
    assert made["short_url"] == f"{origin}/{made['slug']}"
    listed = api.get("/api/v1/links").json()
    assert url in json.dumps(listed)

    # Exports: the list's (CSV, JSON Lines), the API's and the command's.
    lines = body_of(client.get(reverse("link-export", args=["csv"])))
    assert {row["slug"]: row["short_url"] for row in csv.DictReader(io.StringIO(lines))}[
        link.slug
    ] == url
    for text in (
        body_of(client.get(reverse("link-export", args=["jsonl"]))),
        body_of(api.get("/api/v1/export", format="jsonl")),
    ):
        rows = {row["slug"]: row["short_url"] for row in map(json.loads, text.splitlines())}
        assert rows[link.slug] == url
    out = io.StringIO()
    call_command("export_links", format="jsonl", stdout=out)
    rows = {row["slug"]: row["short_url"] for row in map(json.loads, out.getvalue().splitlines())}
    assert rows[link.slug] == url

    # Bulk create: the results page and its CSV, asked on the site's host.
    response = client.post("/import/", {"lines": "https://example.com/bulk", "format": "lines"})
    job = BulkJob.objects.get()
    bulk = Link.objects.get(target="https://example.com/bulk")
    bulk_url = f"{origin}/{bulk.slug}"
    page = body_of(client.get(response["Location"]))
    assert f'href="{bulk.get_absolute_url()}">{bulk_url}</a>' in page
    results = body_of(client.get(f"/import/{job.pk}/results.csv"))
    assert list(csv.reader(io.StringIO(results)))[1][1:3] == ["created", bulk_url]

    # And the URL answers: its host (with the port) and path find this very link.
    parts = urlsplit(url)
    followed = client.get(parts.path, headers={"Host": parts.netloc})
    assert (followed.status_code, followed["Location"]) == (302, "https://example.com/a")


def test_bulk_results_recorded_before_link_ids_were_kept_find_their_links(client, staff):
    ex = make_domain("ex.co", port=8443)
    link = make_link(slug="older", domain=ex, owner=staff)
    job = BulkJob.objects.create(
        owner=staff,
        format="lines",
        source=b"x",
        status="done",
        total=1,
        done=1,
        created=1,
        results=[{"row": 1, "status": "created", "slug": "older", "target": link.target}],
    )
    page = body_of(client.get(f"/import/{job.pk}/"))
    assert '<a class="mono" href="/links/older@ex.co/">https://ex.co:8443/older</a>' in page


def test_a_short_domains_root_and_the_site_links_use_site_url(client, settings):
    settings.SITE_URL = "http://localhost:18431"
    make_domain("ex.co", port=8443)
    response = client.get("/", headers={"Host": "ex.co:8443"})
    assert (response.status_code, response["Location"]) == (302, "http://localhost:18431/")
    missing = body_of(client.get("/nothing-here", headers={"Host": "ex.co:8443"}))
    assert 'href="http://localhost:18431/"' in missing


# --- export honours the list's filters, the domain too ----------------------------------


def test_export_honours_the_lists_domain_filter_on_the_page_and_in_the_api(client):
    owner = make_user()
    client.force_login(owner)
    ex = make_domain("ex.co")
    make_link(slug="home", owner=owner)
    make_link(slug="away", owner=owner, domain=ex)
    listing = client.get(reverse("link-list"), {"domain": "ex.co"}).content.decode()
    assert html.escape(f"{reverse('link-export', args=['csv'])}?domain=ex.co") in listing
    for domain, expected in (("ex.co", ["away"]), ("EX.CO.", ["away"]), ("", ["away", "home"])):
        page = body_of(client.get(reverse("link-export", args=["csv"]), {"domain": domain}))
        assert sorted(row["slug"] for row in csv.DictReader(io.StringIO(page))) == expected
        api = body_of(ApiClient(client, owner).get("/api/v1/export", domain=domain))
        assert sorted(json.loads(line)["slug"] for line in api.splitlines()) == expected
    nowhere = body_of(client.get(reverse("link-export", args=["jsonl"]), {"domain": "no.example"}))
    assert nowhere == ""


# --- SITE_URL ---------------------------------------------------------------------------


def site_url(monkeypatch, **environ) -> str:
    for name in ("SITE_URL", "SITE_HOST", "PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    secure = environ.get("SECURE_SSL") == "true"
    return environment.site_url("SITE_URL", "SITE_HOST", ["localhost", "127.0.0.1"], secure)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "http://localhost"),
        ({"PORT": "8000"}, "http://localhost:8000"),  # make run exports its PORT
        ({"PORT": "18431"}, "http://localhost:18431"),
        ({"PORT": "80"}, "http://localhost"),
        ({"SITE_HOST": "Go.Example.", "PORT": "18431"}, "http://go.example:18431"),
        # Behind a TLS proxy the proxy answers on 443: https, and PORT is granian's own.
        ({"SECURE_SSL": "true", "PORT": "8000"}, "https://localhost"),
        ({"SITE_URL": "https://Go.Example.com:443/"}, "https://go.example.com"),
        ({"SITE_URL": "http://localhost:18431", "PORT": "8000"}, "http://localhost:18431"),
        (
            {"SITE_URL": "https://go.example.com:8443", "SECURE_SSL": "true"},
            "https://go.example.com:8443",
        ),
        (
            {"SITE_URL": "http://go.example.com", "SITE_HOST": "GO.example.com"},
            "http://go.example.com",
        ),
        ({"SITE_URL": "http://bücher.example:8080"}, "http://xn--bcher-kva.example:8080"),
    ],
)
def test_site_url_from_the_setting_or_site_host_and_port(monkeypatch, environ, expected):
    assert site_url(monkeypatch, **environ) == expected
    assert environment.host_of(expected) == urlsplit(expected).hostname


@pytest.mark.parametrize(
    ("environ", "sentence"),
    [
        ({"SITE_URL": "https://go.example.com/links"}, "has a path, query or fragment"),
        ({"SITE_URL": "https://go.example.com?a=1"}, "has a path, query or fragment"),
        ({"SITE_URL": "https://go.example.com#top"}, "has a path, query or fragment"),
        ({"SITE_URL": "https://user:secret@go.example.com"}, "has a user name or password"),
        ({"SITE_URL": "http://localhost:0"}, "has the port '0': a port is a number from 1"),
        ({"SITE_URL": "http://localhost:70000"}, "has the port '70000'"),
        ({"SITE_URL": "http://localhost:"}, "has the port ''"),
        ({"SITE_URL": "http://localhost:\uff18\uff10"}, "has the port"),
        ({"SITE_URL": "http://::1:8000"}, "IPv6 address without brackets"),
        ({"SITE_URL": "http://2001:db8::1"}, "IPv6 address without brackets"),
        ({"SITE_URL": "http://[::1]:8000"}, "names an IP address"),
        ({"SITE_URL": "ftp://go.example.com"}, "start it with http:// or https://"),
        ({"SITE_URL": "javascript:alert(1)"}, "start it with http:// or https://"),
        ({"SITE_URL": "go.example.com"}, "start it with http:// or https://"),
        ({"SITE_URL": "http://"}, "has no valid host name"),
        ({"SITE_URL": "http://exa mple.com"}, "has no valid host name"),
        ({"SITE_URL": "http://go.example.com", "SECURE_SSL": "true"}, "is http while SECURE_SSL"),
        ({"SITE_URL": "http://a.example", "SITE_HOST": "b.example"}, "name different hosts"),
        ({"SITE_HOST": "localhost:8000"}, "put the port in SITE_URL instead"),
        ({"PORT": "0"}, "PORT='0' is not a port"),
        ({"PORT": "http"}, "PORT='http' is not a port"),
    ],
)
def test_a_malformed_site_url_is_one_sentence_naming_the_variable(monkeypatch, environ, sentence):
    with pytest.raises(ImproperlyConfigured) as refused:
        site_url(monkeypatch, **environ)
    message = str(refused.value)
    assert sentence in message and "\n" not in message
    assert any(message.startswith(f"{name}=") for name in environ)  # names the variable


def test_a_malformed_site_url_stops_the_start_naming_it():
    result = run_manage("check", env={"SITE_URL": "http://localhost:70000"})
    assert result.returncode != 0
    assert "SITE_URL='http://localhost:70000' has the port '70000'" in result.stderr


# --- a domain's port --------------------------------------------------------------------


@pytest.mark.parametrize("port", ["0", "70000", "-1", "http"])
def test_admin_refuses_a_port_that_is_none_and_writes_nothing(client, port):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    before = list(Domain.objects.values_list("host", "port"))
    response = client.post(
        reverse("admin:shortener_domain_add"),
        {"host": "new.example", "is_active": "on", "port": port},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["port"]
    assert list(Domain.objects.values_list("host", "port")) == before


def test_admin_says_the_port_of_the_sites_own_host_comes_from_site_url(client, settings):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    site = Domain.objects.site()
    response = client.post(
        reverse("admin:shortener_domain_change", args=[site.pk]),
        {"host": site.host, "is_active": "on", "is_default": "on", "port": "8000"},
    )
    assert response.status_code == 200
    sentence = "The site&#x27;s own port comes from SITE_URL; leave this empty."
    assert sentence in response.content.decode()
    assert Domain.objects.get(pk=site.pk).port is None


def test_admin_saves_a_port_and_short_urls_carry_it(client):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:shortener_domain_add"),
        {"host": "new.example", "is_active": "on", "port": "8443"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    link = make_link(slug="there", domain=Domain.objects.get(host="new.example"))
    assert link.short_url == "https://new.example:8443/there"


@pytest.mark.parametrize("port", [0, 70000, -1])
def test_the_model_refuses_a_port_that_is_none(port):
    with pytest.raises(DomainRefused, match="from 1 to 65535"):
        Domain.objects.create(host="new.example", port=port)
    assert not Domain.objects.filter(host="new.example").exists()
