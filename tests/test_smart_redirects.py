"""Following links with redirect rules and query forwarding through the real stack, and
editing rules on the link's page (plain forms and htmx)."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from shortener import links
from shortener.models import Link, Visit
from shortener.redirect import lookup, middleware
from shortener.visits import countries
from shortener.visits.recording import buffer
from tests.conftest import flush_visits, make_link, make_user
from tests.geoip import write_country_database

pytestmark = pytest.mark.django_db

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"


@pytest.fixture
def owner():
    return make_user("olga")


def ruled(owner, rules, **extra):
    return links.create(
        {"target": "https://default.example/", "rules": rules, **extra}, actor=owner
    )


def test_an_iphone_and_a_german_desktop_go_where_their_rules_say(client, owner):
    link = ruled(
        owner,
        [
            {"target": "https://apps.apple.com/app", "when": {"os": ["ios"]}},
            {"target": "https://example.de/", "when": {"device": ["desktop"], "language": ["de"]}},
        ],
    )
    assert (
        client.get(f"/{link.slug}", HTTP_USER_AGENT=IPHONE)["Location"]
        == "https://apps.apple.com/app"
    )
    german = client.get(
        f"/{link.slug}", HTTP_USER_AGENT=DESKTOP, HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5"
    )
    assert german["Location"] == "https://example.de/"
    english = client.get(
        f"/{link.slug}", HTTP_USER_AGENT=DESKTOP, HTTP_ACCEPT_LANGUAGE="en-US,de;q=0.5"
    )
    assert english["Location"] == "https://default.example/"
    junk = client.get(f"/{link.slug}", HTTP_ACCEPT_LANGUAGE="\x00;q=;;,,=de")
    assert junk.status_code == 302 and junk["Location"] == "https://default.example/"
    assert junk["Cache-Control"] == "private, max-age=0"
    flush_visits()
    assert Visit.objects.filter(link=link).count() == 4


def test_a_permanent_code_becomes_temporary_when_the_answer_depends_on_the_visitor(client, owner):
    link = ruled(
        owner, [{"target": "https://m.example/", "when": {"device": ["mobile"]}}], redirect_code=301
    )
    assert client.get(f"/{link.slug}").status_code == 302


def test_a_country_header_counts_through_a_trusted_proxy_only(client, owner, settings, tmp_path):
    settings.COUNTRY_HEADER = "CloudFront-Viewer-Country"
    settings.COUNTRY_HEADER_META = "HTTP_CLOUDFRONT_VIEWER_COUNTRY"
    settings.GEOIP_PATH = write_country_database(tmp_path / "c.mmdb")
    countries.lookup.cache_clear()
    link = ruled(owner, [{"target": "https://fr.example/", "when": {"country": ["FR"]}}])
    settings.TRUSTED_PROXY_COUNT = 1
    through_proxy = client.get(
        f"/{link.slug}",
        HTTP_CLOUDFRONT_VIEWER_COUNTRY="FR",
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )
    assert through_proxy["Location"] == "https://fr.example/"
    settings.TRUSTED_PROXY_COUNT = 0
    forged = client.get(
        f"/{link.slug}", HTTP_CLOUDFRONT_VIEWER_COUNTRY="FR", REMOTE_ADDR="192.0.2.7"
    )
    assert forged["Location"] == "https://default.example/"
    flush_visits()
    assert sorted(Visit.objects.values_list("country", flat=True)) == ["DE", "FR"]
    countries.lookup.cache_clear()


def test_a_missing_database_means_country_rules_do_not_match(client, owner, settings, tmp_path):
    settings.GEOIP_PATH = tmp_path / "gone.mmdb"
    link = ruled(owner, [{"target": "https://de.example/", "when": {"country": ["DE"]}}])
    response = client.get(f"/{link.slug}", REMOTE_ADDR="192.0.2.7")
    assert response.status_code == 302 and response["Location"] == "https://default.example/"


def test_inside_and_outside_a_time_window(client, owner):
    now = timezone.now()
    window = {
        "from": (now - timedelta(hours=1)).isoformat(),
        "until": (now + timedelta(hours=1)).isoformat(),
    }
    inside = ruled(owner, [{"target": "https://sale.example/", "when": {"time": window}}])
    later = {"from": (now + timedelta(days=1)).isoformat()}
    outside = ruled(owner, [{"target": "https://sale.example/", "when": {"time": later}}])
    assert client.get(f"/{inside.slug}")["Location"] == "https://sale.example/"
    assert client.get(f"/{outside.slug}")["Location"] == "https://default.example/"


def test_a_query_parameter_rule_and_query_forwarding(client, owner):
    link = ruled(
        owner,
        [
            {
                "target": "https://qr.example/?from=qr",
                "when": {"query": {"name": "src", "value": "qr"}},
            }
        ],
        forward_query="merge",
    )
    response = client.get(f"/{link.slug}?src=qr&from=visitor&utm_source=mail")
    assert response["Location"] == "https://qr.example/?from=qr&src=qr&utm_source=mail"
    assert client.get(f"/{link.slug}?x=1")["Location"] == "https://default.example/?x=1"


def test_forwarding_is_off_by_default_and_plain_links_are_untouched(client, owner):
    link = links.create({"target": "https://a.example/?k=v"}, actor=owner)
    assert link.forward_query == "off"
    assert client.get(f"/{link.slug}?utm=1")["Location"] == "https://a.example/?k=v"
    plain = make_link(redirect_code=301)
    assert client.get(f"/{plain.slug}").status_code == 301


def test_head_of_a_ruled_link_redirects_and_counts_nothing(client, owner):
    link = ruled(owner, [{"target": "https://m.example/", "when": {"device": ["mobile"]}}])
    response = client.head(f"/{link.slug}", HTTP_USER_AGENT=IPHONE)
    assert response["Location"] == "https://m.example/"
    flush_visits()
    assert Visit.objects.count() == 0


def test_a_used_up_ruled_link_is_gone(client, owner):
    link = ruled(
        owner, [{"target": "https://m.example/", "when": {"device": ["mobile"]}}], max_visits=1
    )
    assert client.get(f"/{link.slug}").status_code == 302
    assert client.get(f"/{link.slug}").status_code == 410


# --- the link's page ---

RULE = {"rule-target": "https://mobile.example/", "rule-device": ["mobile"]}


def test_rules_are_added_moved_and_removed_with_plain_forms(client, owner):
    link = links.create({"target": "https://a.example/"}, actor=owner)
    client.force_login(owner)
    response = client.post(reverse("link-rule-add", args=[link.slug]), RULE)
    assert response.status_code == 303 and response["Location"].endswith("#rules")
    client.post(
        reverse("link-rule-add", args=[link.slug]),
        {"rule-target": "https://de.example/", "rule-language": "de, de-CH"},
    )
    link.refresh_from_db()
    assert [rule["target"] for rule in link.rules] == [
        "https://mobile.example/",
        "https://de.example/",
    ]
    page = client.get(reverse("link-detail", args=[link.slug])).content.decode()
    assert "When the device is a phone" in page and "When the browser prefers de or de-ch" in page
    client.post(reverse("link-rule-move", args=[link.slug, 2]), {"direction": "up"})
    link.refresh_from_db()
    assert link.rules[0]["target"] == "https://de.example/"
    client.post(reverse("link-rule-remove", args=[link.slug, 1]))
    link.refresh_from_db()
    assert [rule["target"] for rule in link.rules] == ["https://mobile.example/"]


def test_htmx_swaps_the_rules_section_and_says_what_happened(client, owner):
    link = links.create({"target": "https://a.example/"}, actor=owner)
    client.force_login(owner)
    response = client.post(
        reverse("link-rule-add", args=[link.slug]), RULE, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'id="rules"' in body and "Added rule 1." in body and "mobile.example" in body


def test_a_bad_rule_on_the_page_is_422_with_the_sentence_and_writes_nothing(client, owner):
    link = links.create({"target": "https://a.example/"}, actor=owner)
    client.force_login(owner)
    response = client.post(
        reverse("link-rule-add", args=[link.slug]),
        {"rule-target": "https://a.example/", "rule-country": "Germany"},
    )
    assert response.status_code == 422
    assert "“GERMANY” is not a country code" in response.content.decode()
    assert Link.objects.get(pk=link.pk).rules == []


def test_the_rule_form_says_when_no_country_source_answers(client, owner, settings, tmp_path):
    link = links.create({"target": "https://a.example/"}, actor=owner)
    client.force_login(owner)
    warning = "No country database is configured on this site: a country rule never matches"
    settings.GEOIP_PATH = None  # GEOIP_PATH=off
    page = client.get(reverse("link-detail", args=[link.slug])).content.decode()
    field = re.search(r'<input[^>]*name="rule-country"[^>]*>', page)[0]
    help_id = re.search(r'aria-describedby="([^"]+)"', field)[1]
    assert re.search(rf'id="{help_id}"[^>]*>{warning}', page)  # read with the field

    settings.GEOIP_PATH = tmp_path / "missing.mmdb"  # npm was missing: the same
    page = client.get(reverse("link-detail", args=[link.slug])).content.decode()
    assert warning in page

    settings.GEOIP_PATH = write_country_database(tmp_path / "c.mmdb")
    page = client.get(reverse("link-detail", args=[link.slug])).content.decode()
    assert warning not in page and "ISO codes, comma separated" in page
    settings.GEOIP_PATH = None
    settings.COUNTRY_HEADER_META, settings.TRUSTED_PROXY_COUNT = "HTTP_CF_IPCOUNTRY", 1
    page = client.get(reverse("link-detail", args=[link.slug])).content.decode()
    assert warning not in page  # the proxy tells


def test_a_link_has_at_most_20_rules_and_the_page_stops_offering_more(client, owner):
    rules = [
        {"target": f"https://r{n}.example/", "when": {"device": ["mobile"]}} for n in range(20)
    ]
    link = ruled(owner, rules)
    client.force_login(owner)
    page = client.get(reverse("link-detail", args=[link.slug])).content.decode()
    assert "Add rule" not in page and "the most rules a link can have (20)" in page
    response = client.post(reverse("link-rule-add", args=[link.slug]), RULE)
    assert response.status_code == 422 and "at most 20 rules, not 21" in response.content.decode()


def test_strangers_cannot_edit_rules(client, owner):
    link = links.create({"target": "https://a.example/"}, actor=owner)
    client.force_login(make_user("mallory"))
    assert client.post(reverse("link-rule-add", args=[link.slug]), RULE).status_code == 404
    assert client.post(reverse("link-rule-remove", args=[link.slug, 1])).status_code == 404


def test_the_stats_page_lists_countries_with_flags_as_text(client, owner):
    from waffle.testutils import override_flag

    link = make_link(owner=owner)
    for code in ("DE", "DE", "JP", ""):  # through the buffer, so the rollups count them
        buffer.add(link.pk, {"REMOTE_ADDR": "192.0.2.1"}, country=code)
    assert buffer.flush() == 4
    client.force_login(owner)
    with override_flag("link_analytics", active=True):
        page = client.get(reverse("link-stats", args=[link.slug])).content.decode()
        from tests.api_client import ApiClient

        doc = ApiClient(client, owner).get(f"/api/v1/links/{link.slug}/stats").json()
    assert "Germany" in page and "\U0001f1e9\U0001f1ea" in page and "Unknown" in page
    assert doc["countries"] == {"DE": 2, "JP": 1, "unknown": 1}
    assert "No country database answers on this site" in page  # tests run with none


def test_the_stats_page_names_the_database_that_answers_and_its_date(
    client, owner, settings, tmp_path
):
    from waffle.testutils import override_flag

    link = make_link(owner=owner)
    settings.GEOIP_PATH = write_country_database(tmp_path / "countries.mmdb")
    client.force_login(owner)
    with override_flag("link_analytics", active=True):
        page = client.get(reverse("link-stats", args=[link.slug])).content.decode()
    built = timezone.now().date()  # the test file was written just now
    assert (
        f"the country database <code>countries.mmdb</code> (GeoLite2-Country, built "
        f"{built.day} {built:%B %Y})" in page
    )
    assert "NRO" not in page  # attribution belongs to the shipped file only


def test_moving_or_removing_a_rule_that_is_not_there_says_so(client, owner):
    link = links.create({"target": "https://a.example/"}, actor=owner)
    client.force_login(owner)
    response = client.post(reverse("link-rule-remove", args=[link.slug, 3]))
    assert response.status_code == 422 and "This link has no rule 3." in response.content.decode()
    response = client.post(
        reverse("link-rule-move", args=[link.slug, 1]),
        {"direction": "up"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422 and "This link has no rule 1." in response.content.decode()


def test_a_plain_link_never_reaches_the_decision(client, monkeypatch):
    """Links without a password, rules or forwarding keep the plain path: no facts, no
    decide(), no cookie read."""

    def refuse(*args, **kwargs):
        raise AssertionError("the plain path called the smart one")

    monkeypatch.setattr(middleware, "decide", refuse)
    monkeypatch.setattr(middleware, "facts_of", refuse)
    link = make_link()
    assert lookup.lookup(link.domain_id, link.slug).smart is None
    response = client.get(f"/{link.slug}?utm=1")
    assert response.status_code == 302 and response["Location"] == link.target


def test_htmx_rule_changes_also_update_the_panels_count(client, owner):
    link = links.create({"target": "https://a.example/"}, actor=owner)
    client.force_login(owner)
    body = client.post(
        reverse("link-rule-add", args=[link.slug]), RULE, headers={"HX-Request": "true"}
    ).content.decode()
    assert '<span id="rules-count" hx-swap-oob="true">' in body and "1 rule<" in body
    page = client.get(reverse("link-detail", args=[link.slug])).content.decode()
    assert '<span id="rules-count">' in page and "hx-swap-oob" not in page
