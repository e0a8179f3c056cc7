"""The API used as a script would: create, read, page, follow links, change state, delete."""

import re

import pytest
from django.contrib.staticfiles import finders
from waffle.testutils import override_flag

from shortener.models import DestinationChange, Link, LinkState
from tests.api_client import ApiClient, assert_problem
from tests.conftest import make_link, make_user, make_visits

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_on")]
LINKS = "/api/v1/links"


@pytest.fixture
def api_on():
    with override_flag("api_v1", active=True):
        yield


@pytest.fixture
def api(client):
    return ApiClient(client)


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def test_root_maps_the_collections(api):
    response = api.get("/api/v1/")
    assert response.status_code == 200
    links = response.json()["_links"]
    assert path_of(links["links"]["href"]) == LINKS
    assert links["create_link"] == {"href": links["links"]["href"], "method": "POST"}
    assert api.client.get(path_of(links["openapi"]["href"])).status_code == 200
    assert api.client.get(path_of(links["docs"]["href"])).status_code == 200


def test_create_returns_the_link_with_its_links(api):
    response = api.post(
        LINKS,
        {"target": "https://example.com/launch", "title": "Launch", "tags": ["news", "Q4"]},
    )
    assert response.status_code == 201
    body = response.json()
    link = Link.objects.get(slug=body["slug"])
    assert link.owner == api.user and link.target == "https://example.com/launch"
    assert body["tags"] == ["news", "q4"]  # the form's rule: tags are lower-cased
    assert body["state"] == "active" and body["redirect_code"] == 302
    assert path_of(response["Location"]) == f"{LINKS}/{link.slug}"
    assert path_of(body["_links"]["self"]["href"]) == f"{LINKS}/{link.slug}"
    assert path_of(body["_links"]["short_url"]["href"]) == f"/{link.slug}"
    assert path_of(body["_links"]["html"]["href"]) == link.get_absolute_url()
    assert path_of(body["_links"]["stats"]["href"]) == f"{LINKS}/{link.slug}/stats"  # flag on
    assert body["_links"]["disable"]["method"] == "POST"
    assert "enable" not in body["_links"]
    assert DestinationChange.objects.filter(link=link).count() == 1


def test_custom_slug_needs_the_flag(api):
    with override_flag("custom_slugs", active=True):
        response = api.post(LINKS, {"target": "https://example.com/", "slug": "my-launch"})
    assert response.status_code == 201 and response.json()["slug"] == "my-launch"
    response = api.post(LINKS, {"target": "https://example.com/", "slug": "other-one"})
    doc = assert_problem(response, 422, "invalid-link")
    assert "slug" in doc["errors"]
    assert not Link.objects.filter(slug="other-one").exists()


def test_get_patch_and_history(api):
    link = make_link(owner=api.user, title="Old")
    response = api.patch(f"{LINKS}/{link.slug}", {"target": "https://example.org/new"})
    assert response.status_code == 200
    assert response.json()["target"] == "https://example.org/new"
    assert response.json()["title"] == "Old"  # untouched fields stay
    link.refresh_from_db()
    assert link.target == "https://example.org/new"
    assert link.destination_changes.first().old_target == "https://example.com/some/long/path"
    response = api.patch(f"{LINKS}/{link.slug}", {"expires_at": None, "max_visits": 5})
    assert response.json()["max_visits"] == 5
    assert api.get(f"{LINKS}/{link.slug}").json()["max_visits"] == 5


@pytest.mark.usefixtures("api_on")
def test_max_visits_is_what_the_document_says_a_json_integer_is(api):
    """JSON Schema's `integer` includes 7.0: a whole number written with a fraction is
    that number; 7.5, "7", true and the column's overflow stay refused, nothing written."""
    link = make_link(owner=api.user)
    response = api.patch(f"{LINKS}/{link.slug}", {"max_visits": 7.0})
    assert response.status_code == 200 and response.json()["max_visits"] == 7
    for value in (7.5, "7", True, 0, 2_147_483_648):
        response = api.patch(f"{LINKS}/{link.slug}", {"max_visits": value})
        assert response.status_code == 422, value
        link.refresh_from_db()
        assert link.max_visits == 7
    document = api.client.get("/api/v1/openapi.json").json()
    field = document["components"]["schemas"]["LinkPatch"]["properties"]["max_visits"]
    assert {"type": "integer", "minimum": 1, "maximum": 2_147_483_647} in field["anyOf"]
    assert api.patch(f"{LINKS}/{link.slug}", {"max_visits": None}).json()["max_visits"] is None


def test_state_changes_offer_only_what_is_possible(api):
    link = make_link(owner=api.user)
    disabled = api.post(f"{LINKS}/{link.slug}/disable").json()
    assert disabled["state"] == "disabled"
    assert "disable" not in disabled["_links"] and "enable" in disabled["_links"]
    # Disabling twice changes nothing, as the HTML control would.
    assert api.post(f"{LINKS}/{link.slug}/disable").json()["state"] == "disabled"
    enabled = api.post(path_of(disabled["_links"]["enable"]["href"])).json()
    assert enabled["state"] == "active"
    assert "enable" not in enabled["_links"] and "disable" in enabled["_links"]


@pytest.mark.parametrize("active", [True, False])
def test_links_mirror_the_html_controls(api, active):
    link = make_link(owner=api.user, is_active=active)
    api.client.force_login(api.user)
    page = api.client.get(link.get_absolute_url()).content.decode()
    relations = api.get(f"{LINKS}/{link.slug}").json()["_links"]
    for action in ("disable", "enable"):
        drawn = f'action="/links/{link.slug}/{action}/"' in page
        assert drawn == (action in relations), action
    assert drawn != active  # the enable control is drawn exactly when the link is disabled


def test_delete_leaves_a_tombstone(api):
    link = make_link(owner=api.user)
    assert api.delete(f"{LINKS}/{link.slug}").status_code == 204
    link.refresh_from_db()
    assert link.state == LinkState.DELETED
    assert_problem(api.get(f"{LINKS}/{link.slug}"), 404, "not-found")
    assert api.client.get(f"/{link.slug}").status_code == 410


def test_stats_match_the_stats_page(api):
    link = make_link(owner=api.user, visit_count_to=3)
    for days_ago, bot in ((0, False), (0, True), (2, False)):
        make_visits(link, days_ago=days_ago, is_bot=bot, visitor="v")
    with override_flag("link_analytics", active=True):
        relations = api.get(f"{LINKS}/{link.slug}").json()["_links"]
        body = api.get(path_of(relations["stats"]["href"]), days=7).json()
    assert body["total_visits"] == 3
    assert (body["clicks"], body["humans"], body["bots"]) == (3, 2, 1)
    assert len(body["daily"]) == 7
    assert [day["visits"] for day in body["daily"]] == [0, 0, 0, 0, 1, 0, 2]
    assert body["unique_visitors"] == 2  # "v" on two days
    assert body["breakdowns"]["browser"] == [{"value": "Firefox", "visits": 3}]
    assert path_of(body["_links"]["html"]["href"]) == f"/links/{link.slug}/stats/?days=7"


def test_stats_follow_the_link_analytics_flag(api):
    link = make_link(owner=api.user)
    with override_flag("link_analytics", active=False):
        assert "stats" not in api.get(f"{LINKS}/{link.slug}").json()["_links"]
        assert_problem(api.get(f"{LINKS}/{link.slug}/stats"), 404, "not-found")


def test_another_users_link_is_not_found_and_untouched(api):
    other = make_link(owner=make_user("bob"))
    for response in (
        api.get(f"{LINKS}/{other.slug}"),
        api.patch(f"{LINKS}/{other.slug}", {"title": "mine now"}),
        api.post(f"{LINKS}/{other.slug}/disable"),
        api.delete(f"{LINKS}/{other.slug}"),
        api.get(f"{LINKS}/{other.slug}/stats"),
    ):
        assert_problem(response, 404, "not-found")
    other.refresh_from_db()
    assert other.title == "" and other.state == LinkState.ACTIVE
    assert api.get(LINKS).json()["count"] == 0


def test_paging_by_the_link_header(api):
    for n in range(5):
        make_link(owner=api.user, title=f"link {n}")
    make_link(owner=api.user, delete=True)
    make_link(owner=make_user("bob"))
    response = api.get(LINKS, per_page=2)
    assert response["X-Total-Count"] == "5"
    seen = []
    pages = 0
    while response is not None:
        pages += 1
        body = response.json()
        assert body["count"] == 5 and body["per_page"] == 2
        seen += [item["title"] for item in body["items"]]
        rels = {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response["Link"])}
        assert set(rels) >= {"first", "last"}
        assert rels.get("next") == (body["_links"].get("next") or {}).get("href")
        response = api.get(path_of(rels["next"])) if "next" in rels else None
    assert pages == 3
    assert seen == [f"link {n}" for n in (4, 3, 2, 1, 0)]


def test_filters_match_the_html_list(api):
    make_link(owner=api.user, title="alpha", tags=["x"])
    make_link(owner=api.user, title="beta", is_active=False)
    assert [i["title"] for i in api.get(LINKS, q="alp").json()["items"]] == ["alpha"]
    assert [i["title"] for i in api.get(LINKS, tag="x").json()["items"]] == ["alpha"]
    assert [i["tags"] for i in api.get(LINKS).json()["items"]] == [[], ["x"]]
    assert [i["title"] for i in api.get(LINKS, state="disabled").json()["items"]] == ["beta"]


@pytest.mark.parametrize(
    ("params", "status", "kind"),
    [
        ({"page": 3}, 404, "not-found"),  # past the last page, as on the HTML list
        ({"page": 0}, 400, "malformed-request"),
        ({"page": "two"}, 400, "malformed-request"),
        ({"per_page": 101}, 400, "malformed-request"),
        ({"per_page": 0}, 400, "malformed-request"),
        ({"state": "sleepy"}, 400, "malformed-request"),
    ],
)
def test_bad_pages_are_problems(api, params, status, kind):
    make_link(owner=api.user)
    doc = assert_problem(api.get(LINKS, **params), status, kind)
    if status == 400:
        assert set(doc["errors"]) & {"page", "per_page", "state"}


def test_the_html_pages_show_what_the_api_did(api):
    created = api.post(LINKS, {"target": "https://example.com/from-api", "title": "Via API"})
    slug = created.json()["slug"]
    api.patch(f"{LINKS}/{slug}", {"title": "Renamed via API"})
    api.post(f"{LINKS}/{slug}/disable")
    api.client.force_login(api.user)
    listing = api.client.get("/links/").content.decode()
    assert slug in listing and "Renamed via API" in listing
    detail = api.client.get(f"/links/{slug}/").content.decode()
    assert "https://example.com/from-api" in detail and "Disabled" in detail
    assert f'action="/links/{slug}/enable/"' in detail
    assert api.client.get(f"/{slug}").status_code == 410


def test_nul_characters_in_filters_are_dropped_not_sent_to_the_database(api):
    make_link(owner=api.user, title="alpha")
    assert api.get(LINKS, q="al\x00pha").json()["count"] == 1
    assert api.get(LINKS, tag="\x00").json()["count"] == 1
    # A domain filter that is no host name (schemathesis sent "ex\x00co") matches nothing.
    assert api.get(LINKS, domain="ex\x00co").json()["count"] == 0
    api.client.force_login(api.user)
    assert api.client.get("/links/", {"q": "al\x00pha"}).status_code == 200
    assert api.client.get("/links/", {"domain": "ex\x00co"}).status_code == 200


def test_the_docs_page_loads_nothing_from_outside(api):
    """Swagger UI comes from ninja's own static files, so our CSP ('self' only) lets it run."""
    page = api.client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    # What the page loads (scripts, styles, icons); its <a href> links only lead elsewhere.
    sources = re.findall(r'src="([^"]+)"', html) + re.findall(r'<link[^>]*href="([^"]+)"', html)
    assert sources and all(s.startswith("/static/") for s in sources), sources
    assert "<script>" not in html.replace(" ", "")  # no inline script for the CSP to block
    assert "script-src 'self'" in page["Content-Security-Policy"]
    for source in sources:
        assert finders.find(source.removeprefix("/static/")), source


def test_programs_need_no_csrf_token(db):
    """Bearer tokens are not sent by browsers on their own, so the API is exempt from CSRF."""
    from django.test import Client

    api = ApiClient(Client(enforce_csrf_checks=True))
    assert api.post(LINKS, {"target": "https://example.com/"}).status_code == 201
    slug = Link.objects.get().slug
    assert api.patch(f"{LINKS}/{slug}", {"title": "t"}).status_code == 200
    assert api.post(f"{LINKS}/{slug}/disable").status_code == 200
    assert api.delete(f"{LINKS}/{slug}").status_code == 204


def test_staff_see_every_link_as_on_the_html_list(client):
    staff = ApiClient(client, user=make_user("root", is_staff=True))
    link = make_link(owner=make_user("bob"))
    assert staff.get(f"{LINKS}/{link.slug}").status_code == 200
    assert staff.get(LINKS).json()["count"] == 1


def test_answers_are_private_to_the_token(api):
    response = api.get(LINKS)
    assert "Authorization" in response["Vary"]
    assert "private" in response["Cache-Control"]


def test_every_answer_carries_the_api_rate_limit_fields(api, client):
    for response in (api.get(LINKS), api.get("/api/v1/nothing"), client.get(LINKS)):
        assert "RateLimit" in response and "RateLimit-Policy" in response
        assert "api" in response["RateLimit-Policy"]
