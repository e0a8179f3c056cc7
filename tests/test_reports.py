"""Reporting a link, quarantine and the staff review queue (issue 30, items 1-3).

Forms are posted as a browser posts them; the form's timed token is made for a moment
in the past (form_token.issue with an earlier time) rather than waited for."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from shortener import links
from shortener.links import LinkRefused, access
from shortener.models import BlockedDomain, Decision, Link, LinkState, Report, StateChange
from shortener.redirect.lookup import forget_lookups
from shortener.redirect.middleware import live_redirect
from shortener.safety import form_token, reports
from tests.conftest import make_link, make_user, per_day

pytestmark = pytest.mark.django_db

TARGET = "https://login.bank.example/verify?account=1"
WARNING = "reported as phishing; staff are reviewing it"


@pytest.fixture
def owner():
    return make_user("olive")


@pytest.fixture
def link(owner):
    return make_link(owner=owner, target=TARGET, slug="bankhelp")


@pytest.fixture
def staff(client):
    person = make_user("root", is_staff=True)
    client.force_login(person)
    return person


def token_for(link, seconds_ago: float = 10) -> str:
    return form_token.issue(link.pk, time.time() - seconds_ago)


def report_form(link, **fields):
    data = {
        "reason": "phishing",
        "text": "It asks for my bank password.",
        "email": "",
        form_token.FIELD: token_for(link),
        form_token.HONEYPOT: "",
    }
    return {**data, **fields}


def post_report(client, link, address="198.51.100.1", **fields):
    return client.post(
        f"/{link.slug}+report", report_form(link, **fields), HTTP_X_FORWARDED_FOR=address
    )


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1


# --- reporting ------------------------------------------------------------------


def test_the_report_page_works_without_javascript(client, link):
    page = client.get(f"/{link.slug}+report")
    body = page.content.decode()
    assert page.status_code == 200
    assert '<form id="report-form" method="post"' in body
    for value in ("phishing", "malware", "spam", "illegal", "other"):
        assert f'value="{value}"' in body
    assert f'name="{form_token.FIELD}"' in body
    assert 'class="trap"' in body and f'name="{form_token.HONEYPOT}"' in body


def test_the_preview_and_the_410_page_offer_to_report(client, link):
    preview = client.get(f"/{link.slug}+").content.decode()
    assert f'href="/{link.slug}+report"' in preview
    links.disable(link, by=link.owner)
    forget_lookups()  # a disable holds everywhere within LOOKUP_TTL; here at once
    gone = client.get(f"/{link.slug}")
    assert gone.status_code == 410
    assert f'href="/{link.slug}+report"' in gone.content.decode()


def test_htmx_loads_the_form_alone(client, link):
    fragment = client.get(f"/{link.slug}+report", HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert body.lstrip().startswith('<form id="report-form"')
    assert "<html" not in body


def test_a_report_is_stored_without_the_address(client, link, behind_proxy):
    response = post_report(client, link, address="198.51.100.23", email="me@example.org")
    assert response.status_code == 200
    assert "Thank you." in response.content.decode()
    report = Report.objects.get()
    assert (report.reason, report.email) == ("phishing", "me@example.org")
    assert report.text == "It asks for my bank password."
    stored = " ".join(str(v) for v in Report.objects.values().get().values())
    assert "198.51.100.23" not in stored
    assert report.reporter == reports.reporter_of(link, "198.51.100.23")


def test_one_reporter_twice_is_one_report(client, link, behind_proxy):
    post_report(client, link, address="198.51.100.5")
    again = post_report(client, link, address="198.51.100.5")
    assert again.status_code == 200
    assert Report.objects.count() == 1


# --- acceptance: three addresses through a trusted proxy ---------------------------


# For real commits: the lookup cache forgets a switched link once its change commits.
@pytest.mark.django_db(transaction=True)
def test_three_reporters_quarantine_the_link_on_the_fast_path(client, link, behind_proxy):
    assert client.get(f"/{link.slug}").status_code == 302  # and now in the lookup cache
    for n in (1, 2):
        post_report(client, link, address=f"203.0.113.{n}")
        assert client.get(f"/{link.slug}").status_code == 302  # two are not enough
    post_report(client, link, address="203.0.113.3", reason="malware")

    link.refresh_from_db()
    assert link.state == LinkState.QUARANTINED
    assert link.quarantine_reason == "phishing"  # the most given
    change = link.state_changes.get(action=StateChange.Action.QUARANTINED)
    assert change.changed_by is None and change.source == "reports"
    # The fast path answers nothing for it, and the site shows the warning at once.
    request = RequestFactory().get(f"/{link.slug}")
    assert live_redirect(request, link.slug) is None
    warned = client.get(f"/{link.slug}")
    body = warned.content.decode()
    assert warned.status_code == 200 and "Location" not in warned
    assert WARNING in body
    assert "login.bank.example/verify?account=1" in body  # the destination, as text
    assert 'href="https://login.bank.example' not in body  # never as a link
    assert "+continue" not in body  # staff have not let visitors past it
    assert client.get(f"/{link.slug}+continue").status_code == 200  # the warning again
    assert client.head(f"/{link.slug}").status_code == 200


def test_reports_older_than_a_day_do_not_add_up(link):
    now = timezone.now()
    for n, hours_ago in enumerate((30, 2, 1)):
        reports.report(
            link,
            reason="spam",
            text="",
            email="",
            address=f"192.0.2.{n}",
            now=now - timedelta(hours=hours_ago),
        )
    link.refresh_from_db()
    assert link.state == LinkState.ACTIVE
    reports.report(link, reason="spam", text="", email="", address="192.0.2.9", now=now)
    link.refresh_from_db()
    assert (link.state, link.quarantine_reason) == (LinkState.QUARANTINED, "spam")


def test_the_threshold_is_a_setting(client, link, behind_proxy, settings):
    settings.REPORT_QUARANTINE_THRESHOLD = 1
    post_report(client, link)
    link.refresh_from_db()
    assert link.state == LinkState.QUARANTINED


# --- bad input: refused with 4xx and nothing stored --------------------------------


BAD_POSTS = {
    "no token": ({form_token.FIELD: ""}, 400, form_token.STALE),
    "a forged token": ({form_token.FIELD: "1700000000:forged"}, 400, form_token.STALE),
    "the honeypot filled": ({form_token.HONEYPOT: "http://spam.example"}, 400, "could not"),
    "too fast": ({form_token.FIELD: "fresh"}, 422, form_token.TOO_FAST),
    "too old": ({form_token.FIELD: "old"}, 422, form_token.TOO_OLD),
    "no reason": ({"reason": ""}, 422, reports.NO_REASON),
    "a made-up reason": ({"reason": "boring"}, 422, reports.NO_REASON),
    "overlong text": ({"text": "x" * 1001}, 422, "at most 1,000 characters"),
    "a control character": ({"text": "look\x1b[31m here"}, 422, "control"),
    "a NUL": ({"text": "nul\x00"}, 422, "control"),
    "a bidi override": ({"text": "abc\u202edef"}, 422, "text-direction"),
    "a bad e-mail address": ({"email": "not an address"}, 422, "e-mail address such as"),
    "a control character in the e-mail": ({"email": "a\x07@example.org"}, 422, "control"),
}


@pytest.mark.parametrize("case", BAD_POSTS, ids=list(BAD_POSTS))
def test_bad_reports_are_refused_and_nothing_is_stored(client, link, case):
    fields, status, sentence = BAD_POSTS[case]
    if fields.get(form_token.FIELD) == "fresh":
        fields = {form_token.FIELD: token_for(link, seconds_ago=0)}
    if fields.get(form_token.FIELD) == "old":
        fields = {form_token.FIELD: token_for(link, seconds_ago=form_token.OLDEST + 60)}
    response = post_report(client, link, **fields)
    assert response.status_code == status
    assert sentence in response.content.decode().replace("&#x27;", "'")
    assert not Report.objects.exists()


def test_the_token_of_another_link_does_not_hold(client, link):
    other = make_link(slug="another")
    response = post_report(client, link, **{form_token.FIELD: token_for(other)})
    assert response.status_code == 400
    assert not Report.objects.exists()


def test_the_page_s_own_token_posted_at_once_is_too_fast(client, link):
    page = client.get(f"/{link.slug}+report").content.decode()
    token = page.split(f'name="{form_token.FIELD}" value="')[1].split('"')[0]
    response = post_report(client, link, **{form_token.FIELD: token})
    assert response.status_code == 422
    assert form_token.TOO_FAST in response.content.decode().replace("&#x27;", "'")


def test_too_many_reports_from_one_address_are_refused(client, link, settings, behind_proxy):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "report": per_day(2)}
    others = [make_link(slug=f"other{n}") for n in range(3)]
    answers = [post_report(client, each, address="198.51.100.77") for each in others]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert Report.objects.count() == 2
    # Another address still may; reading the form is not a report.
    assert post_report(client, others[2], address="198.51.100.78").status_code == 200
    assert (
        client.get(f"/{link.slug}+report", HTTP_X_FORWARDED_FOR="198.51.100.77").status_code == 200
    )


def test_a_tombstone_or_an_unknown_slug_has_nothing_to_report(client, link):
    assert client.get("/nosuchslug+report").status_code == 404
    links.delete(link, by=link.owner)
    assert post_report(client, link).status_code == 404
    assert not Report.objects.exists()


# --- owners and access ---------------------------------------------------------------


def quarantined(link, **extra):
    links.quarantine(link, by=access.SYSTEM, reason="phishing", why="Reported as phishing.")
    link.refresh_from_db()
    return link


def test_the_owner_sees_the_state_and_the_reasons_not_the_reporters(client, link, behind_proxy):
    for n in range(3):
        post_report(client, link, address=f"203.0.113.{n}", email=f"r{n}@example.org")
    client.force_login(link.owner)
    page = client.get(link.get_absolute_url()).content.decode()
    assert "Quarantined" in page and "reported as phishing" in page
    assert "only they can lift the quarantine" in page
    assert "Phishing (3)" in page
    assert "r0@example.org" not in page and "bank password" not in page


def test_owners_cannot_lift_a_quarantine(client, link):
    quarantined(link)
    for write in (links.release, lambda each, by: links.let_continue(each, by=by, allowed=True)):
        with pytest.raises(LinkRefused):
            write(link, by=link.owner)
    with pytest.raises(LinkRefused):
        links.quarantine(make_link(owner=link.owner), by=link.owner, reason="spam")
    client.force_login(link.owner)
    assert (
        client.post(reverse("report-decide", args=[link.pk]), {"action": "release"}).status_code
        == 404
    )
    link.refresh_from_db()
    assert link.state == LinkState.QUARANTINED


def test_the_list_filters_quarantined_links(link):
    quarantined(link)
    other = make_link()
    assert list(Link.objects.in_state(LinkState.QUARANTINED)) == [link]
    assert list(Link.objects.in_state(LinkState.ACTIVE)) == [other]


# --- the review queue ------------------------------------------------------------------


def test_the_queue_is_for_staff_only(client, link):
    assert client.get("/reports/").status_code == 404
    client.force_login(link.owner)
    assert client.get("/reports/").status_code == 404
    assert 'href="/reports/"' not in client.get("/").content.decode()  # not in their header
    assert (
        client.post(reverse("report-decide", args=[link.pk]), {"action": "dismiss"}).status_code
        == 404
    )


def test_staff_find_the_queue_in_the_header(client, staff):
    client.force_login(staff)
    page = client.get("/").content.decode()
    assert '<a href="/reports/">Reports</a>' in page
    assert (
        'href="/reports/" aria-current="page">Reports' in client.get("/reports/").content.decode()
    )


def test_staff_see_reports_grouped_by_link_newest_first(client, link, staff, behind_proxy):
    older = make_link(slug="olderone", target="https://spam.example/")
    post_report(client, older, address="192.0.2.1", reason="spam")
    post_report(client, link, address="192.0.2.2")
    post_report(client, link, address="192.0.2.3", text="Second report")
    page = client.get("/reports/").content.decode()
    assert page.index("bankhelp") < page.index("olderone")
    assert "Open reports (2)" in page and "Open reports (1)" in page
    assert "olive" in page  # the owner
    assert "Second report" in page
    assert 'value="dismiss"' in page and 'value="block"' in page and 'value="suspend"' in page


def decide(client, link, action, *, htmx=False, **fields):
    headers = {"HX-Request": "true"} if htmx else {}
    url = reverse("report-decide", args=[link.pk])
    return client.post(url, {"action": action, **fields}, headers=headers)


# For real commits: the lookup cache forgets a switched link once its change commits.
@pytest.mark.django_db(transaction=True)
def test_review_the_acceptance_link_as_staff(client, link, staff, behind_proxy):
    for n in range(3):
        post_report(client, link, address=f"203.0.113.{n}")
    # Keep it quarantined but let visitors continue.
    answer = decide(client, link, "quarantine", note="Looks like a bank", passable="on")
    assert answer.status_code == 303
    link.refresh_from_db()
    assert link.quarantine_passable
    client.logout()
    warned = client.get(f"/{link.slug}").content.decode()
    assert WARNING in warned and f'action="/{link.slug}+continue"' in warned
    onward = client.get(f"/{link.slug}+continue")
    assert (onward.status_code, onward["Location"]) == (302, TARGET)
    decision = Decision.objects.get()
    assert (decision.action, decision.note, decision.decided_by) == (
        "quarantined",
        "Looks like a bank",
        staff,
    )
    assert not Report.objects.filter(decision__isnull=True).exists()


# For real commits: the lookup cache forgets a switched link once its change commits.
@pytest.mark.django_db(transaction=True)
def test_dismissing_lifts_the_quarantine_and_closes_the_reports(client, link, staff, behind_proxy):
    for n in range(3):
        post_report(client, link, address=f"203.0.113.{n}")
    response = decide(client, link, "dismiss", note="A real bank", htmx=True)
    assert response.status_code == 200
    assert "Dismissed the reports of bankhelp." in response.content.decode()
    link.refresh_from_db()
    assert link.state == LinkState.ACTIVE
    assert client.get(f"/{link.slug}").status_code == 302
    assert link.state_changes.first().action == StateChange.Action.RELEASED
    assert Report.objects.filter(decision__action="dismissed").count() == 3
    assert "bankhelp" not in client.get("/reports/").content.decode()


def test_disable_from_the_queue(client, link, staff, behind_proxy):
    post_report(client, link)
    decide(client, link, "disable", note="phishing kit")
    link.refresh_from_db()
    assert link.state == LinkState.DISABLED
    forget_lookups()
    assert client.get(f"/{link.slug}").status_code == 410


def test_block_the_domain_through_the_one_blocking_function(client, link, staff, behind_proxy):
    sibling = make_link(target="https://login.bank.example/other")
    post_report(client, link)
    decide(client, link, "block", domain="login.bank.example", note="phishing host")
    entry = BlockedDomain.objects.get()
    assert (entry.domain, entry.source, entry.reason) == (
        "login.bank.example",
        "review",
        "phishing host",
    )
    for each in (link, sibling):
        each.refresh_from_db()
        assert each.state == LinkState.DISABLED
    assert Decision.objects.get().detail == "login.bank.example"


def test_suspend_the_owner_from_creating_links(client, link, staff, behind_proxy):
    post_report(client, link)
    decide(client, link, "suspend", note="repeat phisher")
    assert not access.may_create(link.owner)
    with pytest.raises(LinkRefused, match="suspended your right to create links"):
        links.create({"target": "https://example.org/"}, actor=link.owner)
    assert Report.objects.filter(decision__isnull=True).count() == 1  # the link still waits
    assert Decision.objects.get().detail == "olive"


def test_staff_cannot_be_suspended_and_refusals_write_nothing(client, staff):
    mine = make_link(owner=staff)
    response = decide(client, mine, "suspend", htmx=True)
    assert response.status_code == 422
    assert access.may_create(staff)
    bad_note = decide(client, mine, "dismiss", note="x\x00y")
    assert bad_note.status_code == 303
    unknown = decide(client, mine, "explode")
    assert unknown.status_code == 303
    assert not Decision.objects.exists()


def test_a_suspended_person_is_told_so_on_every_entry_point(client, owner):
    group = Group.objects.create(name=access.SUSPENDED_GROUP)
    owner.groups.add(group)
    client.force_login(owner)
    home = client.get("/").content.decode()
    assert "suspended your right to create links" in home.replace("&#x27;", "'")
    assert 'id="create-form"' not in home
    assert client.post("/links/", {"target": "https://example.org/"}).status_code == 403
    [outcome] = links.create_many([{"target": "https://example.org/"}], actor=owner)
    assert "suspended" in outcome.refusal.reason
    assert not Link.objects.exists()


def test_a_quarantined_link_comes_back_disabled_from_an_export(owner):
    [outcome] = links.create_many(
        [{"target": "https://example.org/", "slug": "wasbad", "state": "quarantined"}],
        actor=owner,
        restoring=True,
    )
    assert outcome.refusal is None
    assert Link.objects.get(slug="wasbad").state == LinkState.DISABLED


def test_quarantined_links_without_open_reports_wait_last(client, link, staff, behind_proxy):
    quiet = quarantined(make_link(slug="quietone"))
    post_report(client, link)
    page = client.get("/reports/").content.decode()
    assert page.index("bankhelp") < page.index(quiet.slug)
    assert 'value="release"' in page


def test_admin_shows_reports_and_decisions_read_only(admin_client, link, behind_proxy, client):
    post_report(client, link, text="Evidence here")
    listing = admin_client.get(reverse("admin:shortener_report_changelist")).content.decode()
    assert "bankhelp" in listing
    page = admin_client.get(
        reverse("admin:shortener_report_change", args=[Report.objects.get().pk])
    )
    assert page.status_code == 200 and "Evidence here" in page.content.decode()
    assert Report.objects.get().reporter not in page.content.decode()
    assert admin_client.get(reverse("admin:shortener_report_add")).status_code == 403
    assert admin_client.get(reverse("admin:shortener_decision_changelist")).status_code == 200
