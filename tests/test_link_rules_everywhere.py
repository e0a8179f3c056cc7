"""One table of bad link input, run through every entry point: the HTML form, the htmx
form, the API, a webhook event and Django admin. Each refuses with the same sentence (the
link core's) in its own form, and nothing is written: no link, tag, history row or visit.
"""

import csv
import html
import io
import json
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from django.core.cache import caches
from django.core.management import call_command
from django.urls import reverse
from waffle.testutils import override_flag

from shortener.models import (
    BlockedDomain,
    DestinationChange,
    EventStatus,
    Link,
    Tag,
    Visit,
    WebhookEvent,
)
from tests.api_client import ApiClient
from tests.conftest import make_domain, make_link, make_user
from tests.webhook_delivery import deliver, make_source, payload

pytestmark = pytest.mark.django_db

FORM_ONLY = object()  # a value no JSON entry point can send as it is
JSON_ONLY = object()  # a JSON type a form cannot express


@dataclass(frozen=True)
class Bad:
    name: str
    field: str
    value: object  # as JSON (the API and webhooks)
    sentence: str
    form_value: object = None  # as typed in a form, when it differs from `value`
    also: tuple = ()  # other fields sent with it, as (name, value) pairs

    @property
    def typed(self) -> object:
        return self.value if self.form_value is None else self.form_value


VISITS = "Maximum visits must be a whole number of at least 1, or left empty."
CODES = "Choose a redirect code: 301, 302, 307 or 308."
EXPIRY = "Enter the expiry as a date and time (UTC), for example 2031-12-31T23:59."
PAST = "The expiry must lie in the future"
SLUG_SHAPE = "A custom slug is 3 to 64 characters: letters, digits, hyphens and underscores only."
TAG_WORDS = "Tags are single words of letters, digits, - or _ (at most 50)"
CONTROLS = "contains control or text-direction characters"

BAD = [
    # A target without a scheme is given https:// and then meets the whole policy.
    Bad(
        "bare-own-host",
        "target",
        "torii.example.com/loop",
        "That address is this site itself; a short link to it would loop.",
    ),
    Bad("bare-blocked", "target", "blocked.example/x", "Links to blocked.example are blocked"),
    Bad(
        "bare-private-ip",
        "target",
        "10.0.0.1/admin",
        "private, local or reserved network address",
    ),
    Bad(
        "javascript",
        "target",
        "javascript:alert(1)",
        "Links to javascript: addresses are not allowed",
    ),
    Bad(
        "data-url", "target", "data:text/html,<b>hi</b>", "Links to data: addresses are not allowed"
    ),
    Bad(
        "metadata-ip",
        "target",
        "http://169.254.169.254/latest",
        "private, local or reserved network address",
    ),
    Bad(
        "decimal-loopback",
        "target",
        "http://2130706433/",
        "private, local or reserved network address",
    ),
    Bad(
        "ipv6-mapped",
        "target",
        "http://[::ffff:10.0.0.1]/",
        "private, local or reserved network address",
    ),
    Bad(
        "ipv4-compatible",
        "target",
        "http://[::127.0.0.1]/",
        "private, local or reserved network address",
    ),
    Bad(
        "ipv4-translated",
        "target",
        "http://[::ffff:0:127.0.0.1]/",
        "private, local or reserved network address",
    ),
    Bad(
        "ipv6-site-local",
        "target",
        "http://[fec0::1]/",
        "private, local or reserved network address",
    ),
    Bad(
        "fullwidth-loopback",
        "target",
        "http://\uff11\uff12\uff17.0.0.1/",
        "private, local or reserved network address",
    ),
    Bad("localhost", "target", "https://localhost/admin", "is a local name"),
    Bad("credentials", "target", "https://user:pw@example.com/", "user name or password"),
    Bad(
        "own-site",
        "target",
        "https://torii.example.com/loop",
        "this site itself; a short link to it would loop",
    ),
    Bad(
        "blocked", "target", "https://cdn.blocked.example/x", "Links to blocked.example are blocked"
    ),
    Bad("empty-target", "target", "", "Enter the address the short link should lead to"),
    Bad(
        "long-target", "target", "https://example.com/" + "x" * 2100, "longer than 2,048 characters"
    ),
    Bad("bell-in-target", "target", "https://example.com/\x07", "control characters"),
    Bad(
        "surrogate-target",
        "target",
        "https://example.com/\ud800",
        "The destination contains text that is not valid Unicode",
        JSON_ONLY,
    ),
    Bad(
        "number-target", "target", 42, "Enter the address the short link should lead to", JSON_ONLY
    ),
    Bad("reserved-slug", "slug", "admin", "“admin” is reserved for the site's own pages"),
    Bad("reserved-slug-case", "slug", "Healthz", "“Healthz” is reserved for the site's own pages"),
    Bad("taken-slug", "slug", "taken-one", "“taken-one” is already taken; choose another."),
    Bad("deleted-slug", "slug", "gone-one", "“gone-one” is already taken; choose another."),
    Bad("slug-with-space", "slug", "a b c", SLUG_SHAPE),
    Bad("short-slug", "slug", "ab", SLUG_SHAPE),
    Bad("slug-with-slash", "slug", "a/b/c", SLUG_SHAPE),
    Bad("tag-punctuation", "tags", ["ok", "not ok!"], TAG_WORDS, "ok, not ok!"),
    Bad("tag-with-space", "tags", ["Hello World"], TAG_WORDS, "Hello World"),
    Bad("tag-too-long", "tags", ["t" * 51], TAG_WORDS, "t" * 51),
    Bad(
        "too-many-tags",
        "tags",
        [f"t{n}" for n in range(21)],
        "at most 20 tags",
        ", ".join(f"t{n}" for n in range(21)),
    ),
    Bad("tags-as-text", "tags", "a,b", "Tags are a list of single words", JSON_ONLY),
    Bad("past-expiry", "expires_at", "2001-01-01T00:00:00Z", PAST, "2001-01-01T00:00"),
    Bad("malformed-expiry", "expires_at", "tomorrow-ish", EXPIRY),
    Bad("impossible-date", "expires_at", "2031-13-45T25:61", EXPIRY),
    Bad("integer-expiry", "expires_at", 0, EXPIRY, JSON_ONLY),
    Bad("zero-visits", "max_visits", 0, VISITS, "0"),
    Bad("negative-visits", "max_visits", -3, VISITS, "-3"),
    Bad("word-visits", "max_visits", "many", VISITS),
    Bad("fraction-visits", "max_visits", 1.5, VISITS, "1.5"),
    Bad("boolean-visits", "max_visits", True, VISITS, JSON_ONLY),
    Bad("unknown-code", "redirect_code", 303, CODES, "303"),
    Bad("word-code", "redirect_code", "soon", CODES),
    Bad("long-title", "title", "t" * 201, "The title can be at most 200 characters, not 201."),
    Bad("long-notes", "notes", "n" * 2001, "The notes can be at most 2,000 characters, not 2,001."),
    Bad("ansi-title", "title", "\x1b[31mred", CONTROLS),
    Bad("bidi-title", "title", "abc\u202edcba", CONTROLS),
    Bad("bell-notes", "notes", "ding\x07", CONTROLS),
    Bad(
        "surrogate-notes",
        "notes",
        "half \udc00",
        "The notes contains text that is not valid Unicode",
        JSON_ONLY,
    ),
    Bad("number-title", "title", 5, "The title must be text.", JSON_ONLY),
    # Short domains (docs/domains.md): the world has ex.co (open), team.example (one
    # group's) and old.example (inactive).
    Bad("unknown-domain", "domain", "nowhere.example", "There is no short domain nowhere.example"),
    Bad("inactive-domain", "domain", "old.example", "The domain old.example is not active"),
    Bad(
        "group-only-domain",
        "domain",
        "team.example",
        "Your account cannot use the domain team.example",
    ),
    Bad("domain-not-a-host", "domain", "ex.co/path", "There is no short domain"),
    Bad("number-domain", "domain", 7, "The domain must be a host name", JSON_ONLY),
    Bad(
        "taken-on-its-domain",
        "slug",
        "short-taken",
        "“short-taken” is already taken on ex.co; choose another.",
        also=(("domain", "ex.co"),),
    ),
    Bad(
        "tombstone-on-its-domain",
        "slug",
        "short-gone",
        "“short-gone” is already taken on ex.co; choose another.",
        also=(("domain", "EX.CO."),),
    ),
]


@pytest.fixture
def world(db, settings):
    """What the table refers to: a taken slug, a deleted one, a blocked domain, our host,
    and short domains: an open one with its own taken and deleted slugs, one for a group
    nobody in the table belongs to, an inactive one."""
    settings.CONFIGURED_HOSTS = [*settings.CONFIGURED_HOSTS, "torii.example.com"]
    BlockedDomain.objects.create(domain="blocked.example")
    make_link(slug="taken-one")
    make_link(slug="gone-one", delete=True)
    short = make_domain("ex.co")
    make_domain("team.example", groups=[Group.objects.create(name="team")])
    make_domain("old.example", is_active=False)
    make_link(slug="short-taken", domain=short)
    make_link(slug="short-gone", domain=short, delete=True)
    with override_flag("custom_slugs", active=True):
        yield


def written() -> tuple:
    """Everything a refused request must leave as it was, visit counters included."""
    counters = [f"link-visits:{pk}" for pk in Link.objects.values_list("pk", flat=True)]
    return (
        Link.objects.count(),
        Tag.objects.count(),
        DestinationChange.objects.count(),
        Visit.objects.count(),
        sorted(caches["counters"].get_many(counters).items()),
    )


def base(bad: Bad, typed: bool) -> dict:
    value = bad.typed if typed else bad.value
    values = {"target": "https://example.com/fine", "redirect_code": "302" if typed else 302}
    values.update(bad.also)
    values[bad.field] = value
    return values


def through_form(client, bad: Bad, htmx: bool = False) -> str:
    client.force_login(make_user("former", is_staff=False))
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.post(reverse("link-list"), base(bad, typed=True), headers=headers)
    assert response.status_code == 422
    if htmx:
        assert b"<html" not in response.content  # the form fragment, not a page
    return html.unescape(response.content.decode())


def through_api(client, bad: Bad) -> str:
    api = ApiClient(client, make_user("scripter"))
    response = api.post("/api/v1/links", base(bad, typed=False))
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    doc = response.json()
    assert doc["type"] == "urn:torii:problem:invalid-link"
    assert bad.sentence in doc["errors"][bad.field][0]
    return doc["detail"]


def through_webhook(client, bad: Bad) -> str:
    source = make_source()
    data = {("url" if k == "target" else k): v for k, v in base(bad, typed=False).items()}
    response = deliver(client, source, payload("link.create", **data))
    assert response.status_code in (200, 202), response.content
    event = WebhookEvent.objects.get(delivery_id=response.json()["id"])
    assert event.status == EventStatus.REJECTED
    return event.outcome


def through_admin(client, bad: Bad) -> str:
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    response = client.post(reverse("admin:shortener_link_add"), base(bad, typed=True))
    assert response.status_code == 200  # the form again, with the error
    return html.unescape(response.content.decode())


def through_batch(client, bad: Bad) -> str:
    api = ApiClient(client, make_user("batcher"))
    response = api.post("/api/v1/links/batch", {"links": [base(bad, typed=False)]})
    if response.status_code == 422:  # a JSON type the schema refuses: the whole batch
        return json.dumps(response.json(), ensure_ascii=False)
    assert response.status_code == 200, response.content
    (result,) = response.json()["results"]
    assert result["status"] == "refused"
    assert result["problem"]["type"] == "urn:torii:problem:invalid-link"
    return result["problem"]["errors"][bad.field][0]


def through_import(client, bad: Bad) -> str:
    import tempfile
    from pathlib import Path

    make_user("importer")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "links.jsonl"
        path.write_text(json.dumps({"slug": "imported-one", **base(bad, typed=False)}) + "\n")
        out, err = io.StringIO(), io.StringIO()
        call_command("import_links", str(path), "--owner", "importer", stdout=out, stderr=err)
    assert "1 refused" in out.getvalue()
    return err.getvalue()


def through_bulk_page(client, bad: Bad) -> str:
    client.force_login(make_user("paster"))
    values = base(bad, typed=True)
    if isinstance(values.get("tags"), str):
        values["tags"] = values["tags"].replace(",", " ")
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(values)
    writer.writerow(values.values())
    response = client.post(reverse("bulk-create"), {"lines": text.getvalue(), "format": "lines"})
    assert response.status_code == 302, response.content
    page = client.get(response["Location"])
    assert "0 created</strong>, 1 refused" in page.content.decode()
    return html.unescape(page.content.decode())


ENTRY_POINTS = {
    "form": lambda client, bad: through_form(client, bad),
    "htmx-form": lambda client, bad: through_form(client, bad, htmx=True),
    "api": through_api,
    "webhook": through_webhook,
    "admin": through_admin,
    "api-batch": through_batch,
    "import": through_import,
    "bulk-page": through_bulk_page,
}
# An import keeps what a link already had elsewhere: its expiry (even past), a slug of any
# length (its own rule, tests/test_import_export.py); and a CSV's tags are split on spaces.
IMPORT_KEEPS = {"past-expiry", "short-slug", "slug-with-space", "slug-with-slash", "tags-as-text"}


def expressible(entry: str, bad: Bad) -> bool:
    if entry == "import" and bad.name in IMPORT_KEEPS:
        return False
    if entry == "bulk-page" and bad.name == "tag-with-space":
        return False
    typed = entry in ("form", "htmx-form", "admin", "bulk-page")
    if typed and bad.form_value is JSON_ONLY:
        return False
    if entry == "admin" and bad.name == "group-only-domain":
        return False  # staff may use every active domain
    return not (entry == "admin" and bad.field == "slug")  # admin always generates slugs


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("bad", BAD, ids=[bad.name for bad in BAD])
def test_every_entry_point_refuses_with_the_cores_sentence_and_writes_nothing(
    client, world, entry, bad
):
    if not expressible(entry, bad):
        pytest.skip(f"{entry} cannot send {bad.name}")
    before = written()
    answer = ENTRY_POINTS[entry](client, bad)
    assert bad.sentence in answer
    assert written() == before


def test_the_table_is_wide_enough():
    assert len(BAD) >= 25
    assert {bad.field for bad in BAD} >= {
        "target",
        "slug",
        "tags",
        "expires_at",
        "max_visits",
        "redirect_code",
        "title",
        "notes",
        "domain",
    }


SLUG_FREE_ELSEWHERE = ["form", "htmx-form", "api", "webhook"]  # admin generates slugs


@pytest.mark.parametrize("entry", SLUG_FREE_ELSEWHERE)
def test_a_slug_taken_or_deleted_on_one_domain_is_free_on_another(client, world, entry):
    """taken-one lives on the site's host and gone-one is a tombstone there: both are
    free on ex.co, through every entry point that takes a slug."""
    for slug in ("taken-one", "gone-one"):
        values = {"target": "https://example.com/fine", "slug": slug, "domain": "ex.co"}
        if entry in ("form", "htmx-form"):
            client.force_login(make_user(f"former-{slug}"))
            headers = {"HX-Request": "true"} if entry == "htmx-form" else {}
            response = client.post(reverse("link-list"), values, headers=headers)
            assert response.status_code in (200, 303), response.content
        elif entry == "api":
            response = ApiClient(client, make_user(f"scripter-{slug}")).post(
                "/api/v1/links", values
            )
            assert response.status_code == 201, response.content
            assert response.json()["short_url"] == f"https://ex.co/{slug}"
        else:
            data = {"url": values["target"], "slug": slug, "domain": "ex.co"}
            response = deliver(client, make_source(f"cms-{slug}"), payload("link.create", **data))
            event = WebhookEvent.objects.get(delivery_id=response.json()["id"])
            assert event.status == EventStatus.PROCESSED, event.outcome
        assert Link.objects.filter(slug=slug).count() == 2
        assert Link.objects.get(slug=slug, domain__host="ex.co").short_url.endswith(f"/{slug}")


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_the_same_good_input_creates_one_link_everywhere(client, world, entry):
    """The control case: the table's base values are accepted by every entry point."""
    good = Bad("good", "title", "Fine", "", "Fine")
    if entry == "form" or entry == "htmx-form":
        client.force_login(make_user("former"))
        headers = {"HX-Request": "true"} if entry == "htmx-form" else {}
        response = client.post(reverse("link-list"), base(good, typed=True), headers=headers)
        assert response.status_code in (200, 303)
    elif entry == "api":
        response = ApiClient(client, make_user("scripter")).post(
            "/api/v1/links", base(good, typed=False)
        )
        assert response.status_code == 201
    elif entry == "webhook":
        data = {"url": "https://example.com/fine", "title": "Fine"}
        deliver(client, make_source(), payload("link.create", **data))
    else:
        client.force_login(make_user("root", is_staff=True, is_superuser=True))
        response = client.post(reverse("admin:shortener_link_add"), base(good, typed=True))
        assert response.status_code == 302
    link = Link.objects.get(title="Fine")
    assert link.target == "https://example.com/fine" and link.destination_changes.count() == 1


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_a_target_without_a_scheme_gets_https_everywhere(client, world, entry):
    """`example.com/page`, as an address bar shows it, is https://example.com/page."""
    typed = {"target": "example.com/page?q=1", "title": "Bare", "redirect_code": "302"}
    if entry in ("form", "htmx-form"):
        client.force_login(make_user("former"))
        headers = {"HX-Request": "true"} if entry == "htmx-form" else {}
        assert client.post(reverse("link-list"), typed, headers=headers).status_code in (200, 303)
    elif entry == "api":
        api = ApiClient(client, make_user("scripter"))
        sent = {**typed, "redirect_code": 302}
        assert api.post("/api/v1/links", sent).status_code == 201
    elif entry == "webhook":
        data = {"url": "example.com/page?q=1", "title": "Bare"}
        deliver(client, make_source(), payload("link.create", **data))
    else:
        client.force_login(make_user("root", is_staff=True, is_superuser=True))
        assert client.post(reverse("admin:shortener_link_add"), typed).status_code == 302
    link = Link.objects.get(title="Bare")
    assert link.target == "https://example.com/page?q=1"
    assert link.destination_changes.get().new_target == "https://example.com/page?q=1"


def test_wrong_json_types_are_refused_by_the_api_schema_in_the_cores_words(client, world):
    api = ApiClient(client, make_user("scripter"))
    response = api.post("/api/v1/links", {"target": "https://example.com/", "expires_at": 0})
    doc = json.loads(response.content)
    assert response.status_code == 422 and doc["errors"] == {"expires_at": [EXPIRY]}
    assert Link.objects.count() == 4  # the world's own


def edit_on_form(client, link, bad: Bad) -> str:
    client.force_login(link.owner)
    values = {"target": link.target, "redirect_code": "302", bad.field: bad.typed}
    response = client.post(reverse("link-edit", args=[link.slug]), values)
    assert response.status_code == 422
    return html.unescape(response.content.decode())


def edit_through_api(client, link, bad: Bad) -> str:
    response = ApiClient(client, link.owner).patch(
        f"/api/v1/links/{link.slug}", {bad.field: bad.value}
    )
    assert response.status_code == 422, response.content
    return response.json()["errors"][bad.field][0]


def edit_in_admin(client, link, bad: Bad) -> str:
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    values = {"target": link.target, "redirect_code": "302", "owner": link.owner.pk}
    values[bad.field] = bad.typed
    response = client.post(reverse("admin:shortener_link_change", args=[link.pk]), values)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


EDITORS = {"form-edit": edit_on_form, "api-patch": edit_through_api, "admin-edit": edit_in_admin}
EDITABLE_BAD = [
    bad
    for bad in BAD
    if bad.field not in ("slug", "domain") and bad.name != "empty-target" and not bad.also
]


@pytest.mark.parametrize("editor", list(EDITORS))
@pytest.mark.parametrize("bad", EDITABLE_BAD, ids=[bad.name for bad in EDITABLE_BAD])
def test_every_edit_refuses_with_the_cores_sentence_and_changes_nothing(client, world, editor, bad):
    if editor != "api-patch" and bad.form_value is JSON_ONLY:
        pytest.skip(f"{editor} cannot send {bad.name}")
    link = make_link(owner=make_user("editor"), title="Before", tags=["kept"])
    before = (Link.objects.filter(pk=link.pk).values().get(), written())
    assert bad.sentence in EDITORS[editor](client, link, bad)
    assert (Link.objects.filter(pk=link.pk).values().get(), written()) == before
    assert list(link.tags.values_list("name", flat=True)) == ["kept"]


def test_a_links_domain_never_changes_on_any_edit(client, world):
    """The edit form and admin offer no domain; the API refuses one; the core says why."""
    from shortener import links

    link = make_link(owner=make_user("editor"), title="Before")
    site = link.domain
    client.force_login(link.owner)
    form = {"target": link.target, "redirect_code": "302", "domain": "ex.co", "title": "After"}
    assert client.post(reverse("link-edit", args=[link.key]), form).status_code == 303
    response = ApiClient(client, link.owner).patch(f"/api/v1/links/{link.key}", {"domain": "ex.co"})
    assert response.status_code == 400 and "domain" in response.json()["detail"]
    with pytest.raises(links.LinkRefused) as refused:
        links.edit(link, by=link.owner, domain="ex.co")
    assert refused.value.errors == {"domain": links.cleaning.DOMAIN_FIXED}
    link.refresh_from_db()
    assert (link.domain, link.title) == (site, "After")


# --- redirect rules and passwords: the same core sentences through every entry point ---

GOOD = "https://example.com/fine"


@dataclass(frozen=True)
class BadRules:
    name: str
    rules: object  # as JSON (API, webhooks, admin's JSON box)
    sentence: str
    form: dict | None = None  # the one rule as the link page's form posts it, if it can


def one(when: dict, target: str = GOOD) -> list:
    return [{"target": target, "when": when}]


BAD_RULES = [
    BadRules(
        "unknown-condition",
        one({"weather": ["rain"]}),
        "Rule 1: unknown condition “weather”",
    ),
    BadRules(
        "no-condition",
        [{"target": GOOD, "when": {}}],
        "Rule 1: give at least one condition",
        {"rule-target": GOOD},
    ),
    BadRules(
        "bad-language",
        one({"language": ["klingon!"]}),
        "“klingon!” is not a language code",
        {"rule-target": GOOD, "rule-language": "klingon!"},
    ),
    BadRules(
        "bad-country",
        one({"country": ["ZZ"]}),
        "“ZZ” is not a country code",
        {"rule-target": GOOD, "rule-country": "ZZ"},
    ),
    BadRules(
        "country-name",
        one({"country": ["Germany"]}),
        "“GERMANY” is not a country code",
        {"rule-target": GOOD, "rule-country": "Germany"},
    ),
    BadRules(
        "unknown-device",
        one({"device": ["toaster"]}),
        "“toaster” is not a device class",
        {"rule-target": GOOD, "rule-device": ["toaster"]},
    ),
    BadRules(
        "reversed-window",
        one({"time": {"from": "2031-05-02T10:00", "until": "2031-05-01T10:00"}}),
        "Rule 1: the time window ends before it starts.",
        {
            "rule-target": GOOD,
            "rule-time_from": "2031-05-02T10:00",
            "rule-time_until": "2031-05-01T10:00",
        },
    ),
    BadRules(
        "malformed-window",
        one({"time": {"from": "next tuesday"}}),
        "the time condition is",
        {"rule-target": GOOD, "rule-time_from": "next tuesday"},
    ),
    BadRules(
        "half-query",
        one({"query": {"name": "", "value": "x"}}),
        "the query condition is",
        {"rule-target": GOOD, "rule-query_value": "x"},
    ),
    BadRules(
        "twenty-one-rules",
        one({"device": ["mobile"]}) * 21,
        "A link can have at most 20 rules, not 21.",
    ),
    BadRules(
        "javascript-destination",
        one({"device": ["mobile"]}, "javascript:alert(1)"),
        "Rule 1: Links to javascript: addresses are not allowed",
        {"rule-target": "javascript:alert(1)", "rule-device": ["mobile"]},
    ),
    BadRules(
        "metadata-destination",
        one({"device": ["mobile"]}, "http://169.254.169.254/latest"),
        "private, local or reserved network address",
        {"rule-target": "http://169.254.169.254/latest", "rule-device": ["mobile"]},
    ),
    BadRules(
        "own-site-destination",
        one({"device": ["mobile"]}, "https://torii.example.com/loop"),
        "this site itself; a short link to it would loop",
        {"rule-target": "https://torii.example.com/loop", "rule-device": ["mobile"]},
    ),
    BadRules(
        "blocked-destination",
        one({"device": ["mobile"]}, "https://cdn.blocked.example/x"),
        "Links to blocked.example are blocked",
        {"rule-target": "https://cdn.blocked.example/x", "rule-device": ["mobile"]},
    ),
    BadRules("rules-as-text", "mobile → m.example", "Rules are a list of rules."),
]


def rules_through_page(client, link, bad: BadRules, htmx: bool) -> str:
    client.force_login(link.owner)
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.post(reverse("link-rule-add", args=[link.slug]), bad.form, headers=headers)
    assert response.status_code == 422
    if htmx:
        assert b"<html" not in response.content
    return html.unescape(response.content.decode())


def rules_through_api_create(client, link, bad: BadRules) -> str:
    api = ApiClient(client, link.owner)
    response = api.post("/api/v1/links", {"target": GOOD, "rules": bad.rules})
    assert response.status_code == 422, response.content
    return response.json()["errors"]["rules"][0]


def rules_through_api_patch(client, link, bad: BadRules) -> str:
    response = ApiClient(client, link.owner).patch(
        f"/api/v1/links/{link.slug}", {"rules": bad.rules}
    )
    assert response.status_code == 422, response.content
    return response.json()["errors"]["rules"][0]


def rules_through_webhook(client, link, bad: BadRules) -> str:
    response = deliver(client, make_source(), payload("link.create", url=GOOD, rules=bad.rules))
    event = WebhookEvent.objects.get(delivery_id=response.json()["id"])
    assert event.status == EventStatus.REJECTED
    return event.outcome


def rules_in_admin(client, link, bad: BadRules) -> str:
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    values = {"target": link.target, "redirect_code": "302", "owner": link.owner.pk}
    values["forward_query"] = "off"
    values["rules"] = json.dumps(bad.rules) if not isinstance(bad.rules, str) else bad.rules
    response = client.post(reverse("admin:shortener_link_change", args=[link.pk]), values)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


RULE_ENTRY_POINTS = {
    "page-form": lambda client, link, bad: rules_through_page(client, link, bad, htmx=False),
    "page-htmx": lambda client, link, bad: rules_through_page(client, link, bad, htmx=True),
    "api-create": rules_through_api_create,
    "api-patch": rules_through_api_patch,
    "webhook": rules_through_webhook,
    "admin": rules_in_admin,
}


@pytest.mark.parametrize("entry", list(RULE_ENTRY_POINTS))
@pytest.mark.parametrize("bad", BAD_RULES, ids=[bad.name for bad in BAD_RULES])
def test_bad_rules_are_refused_everywhere_in_the_cores_words_and_write_nothing(
    client, world, entry, bad
):
    if entry.startswith("page") and bad.form is None:
        pytest.skip(f"the page's form adds one rule at a time: it cannot send {bad.name}")
    link = make_link(owner=make_user("editor"), rules=[])
    before = (Link.objects.filter(pk=link.pk).values().get(), written())
    assert bad.sentence in RULE_ENTRY_POINTS[entry](client, link, bad)
    assert (Link.objects.filter(pk=link.pk).values().get(), written()) == before


LONG_PASSWORD = "p" * 129
BAD_PASSWORDS = [
    ("empty", "", "A password cannot be empty"),
    ("too-long", LONG_PASSWORD, "A link's password can be at most 128 characters."),
    ("number", 1234, "A link's password must be text."),
]


def password_through_form(client, value, htmx: bool) -> str:
    client.force_login(make_user("former"))
    headers = {"HX-Request": "true"} if htmx else {}
    data = {"target": GOOD, "redirect_code": "302", "password": value}
    response = client.post(reverse("link-list"), data, headers=headers)
    assert response.status_code == 422
    return html.unescape(response.content.decode())


def password_through_edit_form(client, value, htmx: bool = False) -> str:
    link = make_link(owner=make_user("editor"))
    client.force_login(link.owner)
    data = {"target": link.target, "redirect_code": "302", "password": value}
    response = client.post(reverse("link-edit", args=[link.slug]), data)
    assert response.status_code == 422
    return html.unescape(response.content.decode())


def password_through_api(client, value) -> str:
    response = ApiClient(client, make_user("scripter")).post(
        "/api/v1/links", {"target": GOOD, "password": value}
    )
    assert response.status_code == 422, response.content
    return response.json()["errors"]["password"][0]


def password_in_admin(client, value) -> str:
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    data = {"target": GOOD, "redirect_code": "302", "forward_query": "off", "password": value}
    response = client.post(reverse("admin:shortener_link_add"), data)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


PASSWORD_ENTRY_POINTS = {
    "form": lambda client, value: password_through_form(client, value, htmx=False),
    "htmx-form": lambda client, value: password_through_form(client, value, htmx=True),
    "edit-form": password_through_edit_form,
    "api": password_through_api,
    "admin": password_in_admin,
}


@pytest.mark.parametrize("entry", list(PASSWORD_ENTRY_POINTS))
@pytest.mark.parametrize(
    ("name", "value", "sentence"), BAD_PASSWORDS, ids=[b[0] for b in BAD_PASSWORDS]
)
def test_bad_passwords_are_refused_everywhere_and_write_nothing(
    client, world, entry, name, value, sentence
):
    if entry != "api" and not isinstance(value, str):
        pytest.skip("a form sends text")
    if entry != "api" and value == "":
        pytest.skip("an empty password box in a form means: keep the password as it is")
    before = written()
    assert sentence in PASSWORD_ENTRY_POINTS[entry](client, value)
    assert Link.objects.exclude(password="").count() == 0  # no password stored anywhere
    if entry != "edit-form":  # which makes the link it edits
        assert written() == before


def test_webhooks_never_carry_a_password(client, world):
    """An event's body is stored as sent: a password in it is refused by the schema."""
    response = deliver(client, make_source(), payload("link.create", url=GOOD, password="pw"))
    assert response.status_code == 400
    assert Link.objects.exclude(password="").count() == 0
