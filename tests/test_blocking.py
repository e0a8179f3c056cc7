"""One meaning of blocked: admin, the webhook and the command all block through
`links.block()`, which reaches links by their destination and by their rules'
destinations (subdomains too), records why on each link, and makes the short URL
answer 410 at once; removing a block re-enables exactly what it disabled."""

import io

import pytest
from cachetools import TTLCache
from django.core.management import CommandError, call_command
from django.urls import reverse

from shortener import links
from shortener.models import BlockedDomain, EventStatus, Link, LinkState, StateChange, WebhookEvent
from shortener.redirect import lookup
from tests.conftest import make_domain, make_link, make_user
from tests.webhook_delivery import deliver, make_source, payload

pytestmark = pytest.mark.django_db

BLOCKED_410 = (
    "This short link has been disabled because it leads to a domain that is blocked on this site."
)

# --- the entry points, driven as their users drive them -------------------------
# Each returns (refusal sentence or None, what it said when it did something).


def through_admin(client, raw: str, *, reason: str = "", remove: bool = False):
    if remove:
        entry = BlockedDomain.objects.get(domain=raw)
        url = reverse("admin:shortener_blockeddomain_delete", args=[entry.pk])
        response = client.post(url, {"post": "yes"}, follow=True)
    else:
        url = reverse("admin:shortener_blockeddomain_add")
        response = client.post(url, {"domain": raw, "reason": reason}, follow=True)
    body = response.content.decode()
    if response.redirect_chain:
        said = [str(m) for m in response.context["messages"]]
        return None, next(m for m in said if m.startswith(("Blocked ", "Already ", "Unblocked ")))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["domain"]
    assert errors[0] in body.replace("&#x27;", "'")  # shown on the form
    return errors[0], None


def through_webhook(client, raw: str, *, reason: str = "", remove: bool = False):
    source = through_webhook.source
    data = {"domain": raw} if remove or not reason else {"domain": raw, "reason": reason}
    response = deliver(
        client, source, payload("domain.unblock" if remove else "domain.block", **data)
    )
    assert response.status_code in (200, 202), response.content
    event = WebhookEvent.objects.get(delivery_id=response.json()["id"])
    if event.status == EventStatus.REJECTED:
        return event.outcome, None
    assert event.status == EventStatus.PROCESSED, event.outcome
    return None, event.outcome


def through_command(client, raw: str, *, reason: str = "", remove: bool = False):
    out = io.StringIO()
    args = [raw, "--remove"] if remove else [raw, *(["--reason", reason] if reason else [])]
    try:
        call_command("block_domain", *args, stdout=out)
    except CommandError as error:
        return str(error), None
    return None, out.getvalue().strip()


ENTRY_POINTS = {"admin": through_admin, "webhook": through_webhook, "command": through_command}


@pytest.fixture(params=list(ENTRY_POINTS))
def entry_point(request, admin_client, client, django_capture_on_commit_callbacks):
    """One entry point, with what it needs: a staff session, a webhook source. Commit
    callbacks run, as they do outside a test's transaction (the lookup cache's)."""
    through_webhook.source = make_source("abuse-feed")
    driver = ENTRY_POINTS[request.param]
    http = admin_client if request.param == "admin" else client

    def run(raw, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return driver(http, raw, **kwargs)

    run.name = request.param
    return run


# --- hostile and malformed entries -----------------------------------------------

REFUSED = {
    "public suffix": (
        "co.uk",
        "co.uk is a public suffix shared by many unrelated sites; "
        "block a domain under it (like example.co.uk) instead.",
    ),
    "wildcard public suffix": (
        "*.co.uk",
        "co.uk is a public suffix shared by many unrelated "
        "sites; block a domain under it (like example.co.uk) instead.",
    ),
    "private IP literal": (
        "127.0.0.1",
        "No link can lead to 127.0.0.1 (a private, reserved or "
        "disguised address), so there is nothing to block.",
    ),
    "bad IP literal": ("256.1.1.1", "256.1.1.1 is not a valid IP address."),
    "empty": ("", "Enter the domain to block, like example.com."),
    "blank": ("   ", "Enter the domain to block, like example.com."),
    "URL with a path": (
        "https://evil.example/path",
        "Enter a domain name only, like example.com, not https://evil.example/path.",
    ),
    "host with a path": (
        "evil.example/login",
        "Enter a domain name only, like example.com, not evil.example/login.",
    ),
}

NORMALISED = {
    "IDN in Unicode": ("Bücher.example", "xn--bcher-kva.example"),
    "IDN in punycode": ("xn--BCHER-kva.example", "xn--bcher-kva.example"),
    "trailing dot": ("evil.example.", "evil.example"),
    "wildcard": ("*.evil.example", "evil.example"),
    "public IP literal": ("0x08080808", "8.8.8.8"),
}


@pytest.mark.parametrize(("raw", "sentence"), REFUSED.values(), ids=REFUSED.keys())
def test_an_entry_that_is_no_blockable_domain_gets_one_sentence_and_writes_nothing(
    entry_point, raw, sentence
):
    link = make_link(target="https://evil.example/path")
    refused, said = entry_point(raw, reason="feed")
    assert (refused, said) == (sentence, None)
    assert not BlockedDomain.objects.exists()
    assert not StateChange.objects.exists()
    assert Link.objects.get(pk=link.pk).state == LinkState.ACTIVE


@pytest.mark.parametrize(("raw", "entry"), NORMALISED.values(), ids=NORMALISED.keys())
def test_an_entry_is_stored_as_target_hosts_are_written_and_blocks_them(
    entry_point, client, raw, entry
):
    link = make_link(target=f"https://{entry}/x")
    refused, said = entry_point(raw)
    assert refused is None
    assert said == f"Blocked {entry}; disabled 1 link(s): {link.key}."
    assert list(BlockedDomain.objects.values_list("domain", flat=True)) == [entry]
    assert client.get(f"/{link.slug}").status_code == 410


# --- a block reaches every link that leads there ---------------------------------


@pytest.fixture
def scene():
    """Links that lead to evil.example by every way a link can, and some that do not."""
    owner, other = make_user("olga"), make_user("bob")
    rule = {"when": {"os": ["ios"]}}
    short = make_domain("go.example")
    hits = {
        "destination": make_link(target="https://evil.example/a", owner=owner),
        "subdomain": make_link(target="https://cdn.EVIL.example/b", owner=other),
        "rule": make_link(
            target="https://ok.example/",
            rules=[
                {**rule, "target": "https://ok.example/ios"},
                {**rule, "target": "https://login.evil.example/x"},
            ],
            owner=owner,
        ),
        "other domain": make_link(target="https://evil.example/c", domain=short, slug="c"),
    }
    misses = {
        "lookalike": make_link(target="https://notevil.example/"),
        "in the path": make_link(target="https://ok.org/evil.example"),
        "rule to a longer name": make_link(
            target="https://ok.example/",
            rules=[{**rule, "target": "https://evil.example.org/"}],
        ),
    }
    off = make_link(target="https://evil.example/off", is_active=False, owner=owner)
    return {"hits": hits, "misses": misses, "off": off, "owner": owner}


def states(found: dict) -> dict:
    return {name: Link.objects.get(pk=link.pk).state for name, link in found.items()}


def followed(client, found: dict) -> dict:
    answers = {}
    for name, link in found.items():
        response = client.get(f"/{link.slug}", HTTP_HOST=link.domain.host)
        answers[name] = response.status_code
        if response.status_code == 410:
            assert BLOCKED_410 in response.content.decode()
    return answers


def test_a_block_disables_links_by_destination_rule_and_subdomain_and_they_answer_410(
    entry_point, scene, client, settings
):
    settings.CONFIGURED_HOSTS = [*settings.CONFIGURED_HOSTS, "go.example"]
    hits, misses = scene["hits"], scene["misses"]
    refused, said = entry_point("evil.example", reason="phishing")
    assert refused is None
    keys = sorted(link.key for link in hits.values())
    assert said.startswith("Blocked evil.example; disabled 4 link(s): ")
    assert sorted(said.removesuffix(".").split(": ", 1)[1].split(", ")) == keys
    assert set(states(hits).values()) == {LinkState.DISABLED}
    assert set(states(misses).values()) == {LinkState.ACTIVE}
    assert followed(client, hits) == dict.fromkeys(hits, 410)
    assert followed(client, misses) == dict.fromkeys(misses, 302)
    assert not scene["off"].state_changes.exists()  # disabled already: not this block's doing


def test_the_entry_keeps_its_reason_source_and_who(entry_point, admin_user):
    entry_point("evil.example", reason="phishing feed")
    entry = BlockedDomain.objects.get()
    expected = {
        "admin": ("admin", admin_user),
        "webhook": ("webhook abuse-feed", through_webhook.source.owner),
        "command": ("command", None),
    }[entry_point.name]
    assert (entry.reason, entry.source, entry.blocked_by) == ("phishing feed", *expected)


def test_each_link_records_why_who_and_what_asked_and_its_page_shows_it(entry_point, scene, client):
    entry_point("evil.example", reason="phishing")
    link = scene["hits"]["rule"]
    change = link.state_changes.get()
    who = {"admin": "admin", "webhook": "abuse-feed-owner", "command": None}[entry_point.name]
    source = {"admin": "admin", "webhook": "webhook abuse-feed", "command": "command"}
    assert change.action == "disabled" and change.blocked_domain == "evil.example"
    assert change.reason == "evil.example is blocked: phishing."
    assert change.source == source[entry_point.name]
    assert (change.changed_by.username if change.changed_by else None) == who
    client.force_login(scene["owner"])
    page = client.get(reverse("link-detail", args=[link.key])).content.decode()
    shown = " ".join(page.split("State history", 1)[1].split("</ol>", 1)[0].split())
    assert f"disabled by {who or 'the system'} ({source[entry_point.name]}): " in shown
    assert "evil.example is blocked: phishing." in shown


def test_the_lookup_cache_is_no_excuse_a_block_holds_at_once(entry_point, client, monkeypatch):
    frozen = TTLCache(maxsize=lookup.LOOKUP_SIZE, ttl=lookup.LOOKUP_TTL, timer=lambda: 0.0)
    monkeypatch.setattr(lookup, "_lookups", frozen)  # nothing expires: only forgetting helps
    by_rule = make_link(
        target="https://ok.example/",
        rules=[{"when": {"os": ["ios"]}, "target": "https://evil.example/app"}],
    )
    assert client.get(f"/{by_rule.slug}").status_code == 302  # now cached as live
    entry_point("evil.example")
    assert client.get(f"/{by_rule.slug}").status_code == 410
    entry_point("evil.example", remove=True)
    assert client.get(f"/{by_rule.slug}").status_code == 302


def test_blocking_again_says_so_and_sweeps_what_still_leads_there(entry_point):
    entry_point("evil.example")
    late = make_link(target="https://www.evil.example/")  # written past cleaning, as by old code
    refused, said = entry_point("evil.example")
    if entry_point.name == "admin":  # admin's form refuses a duplicate row
        assert refused == "Blocked domain with this Domain already exists."
        return
    assert said == f"Already blocked: evil.example; disabled 1 link(s): {late.key}."
    assert BlockedDomain.objects.count() == 1


# --- new links and edits are refused, and nobody re-enables a blocked link ---------


def test_new_links_rules_and_edits_that_lead_there_are_refused():
    owner = make_user("olga")
    links.block("evil.example", by=None, reason="", source="test")
    with pytest.raises(links.LinkRefused) as refused:
        links.create({"target": "https://www.evil.example/"}, actor=owner)
    assert refused.value.errors == {"target": "Links to evil.example are blocked on this site."}
    rule = [{"when": {"os": ["ios"]}, "target": "https://cdn.evil.example/"}]
    with pytest.raises(links.LinkRefused) as refused:
        links.create({"target": "https://ok.example/", "rules": rule}, actor=owner)
    assert refused.value.errors == {
        "rules": "Rule 1: Links to evil.example are blocked on this site."
    }
    link = links.create({"target": "https://ok.example/"}, actor=owner)
    with pytest.raises(links.LinkRefused):
        links.add_rule(link, rule[0], by=owner)
    with pytest.raises(links.LinkRefused):
        links.edit(link, by=owner, target="https://evil.example/")
    assert Link.objects.get(pk=link.pk).target == "https://ok.example/"
    assert Link.objects.get(pk=link.pk).rules == []


def test_a_blocked_link_cannot_be_enabled_on_the_page_the_api_or_admin(client, admin_client):
    owner = make_user("olga")
    link = make_link(target="https://evil.example/", owner=owner)
    links.block("evil.example", by=None, reason="", source="test")
    sentence = "Links to evil.example are blocked on this site, so this link stays disabled."
    client.force_login(owner)
    page = client.post(reverse("link-enable", args=[link.key]), follow=True)
    assert sentence in page.content.decode()
    from shortener.tokens import personal

    _, secret = personal.issue(owner, "test")
    api = client.post(
        f"/api/v1/links/{link.key}/enable",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert api.status_code == 422 and api.json()["detail"] == sentence
    changelist = reverse("admin:shortener_link_changelist")
    action = {"action": "enable_links", "_selected_action": [link.pk]}
    shown = admin_client.post(changelist, action, follow=True).content.decode()
    assert "Enabled 0 link(s)." in shown and sentence in shown
    assert Link.objects.get(pk=link.pk).state == LinkState.DISABLED
    assert link.state_changes.count() == 1  # the block's, nothing since


# --- unblocking -------------------------------------------------------------------


def test_unblocking_re_enables_exactly_what_the_block_disabled(entry_point, scene, client):
    links.block("evil.example", by=None, reason="", source="test")
    hits = scene["hits"]
    refused, said = entry_point("evil.example", remove=True)
    assert refused is None
    assert said.startswith("Unblocked evil.example; re-enabled 4 link(s) it had disabled: ")
    assert not BlockedDomain.objects.exists()
    assert set(states(hits).values()) == {LinkState.ACTIVE}
    assert Link.objects.get(pk=scene["off"].pk).state == LinkState.DISABLED  # its owner's
    change = hits["destination"].state_changes.first()
    assert (change.action, change.reason) == ("enabled", "evil.example was unblocked.")
    assert change.source == {"admin": "admin", "webhook": "webhook abuse-feed"}.get(
        entry_point.name, "command"
    )
    assert client.get(f"/{hits['rule'].slug}").status_code == 302


def test_a_link_another_entry_still_blocks_stays_disabled_and_says_by_which(entry_point):
    sub = make_link(target="https://cdn.evil.example/")
    plain = make_link(target="https://evil.example/")
    links.block("evil.example", by=None, reason="", source="test")
    links.block("cdn.evil.example", by=None, reason="", source="test")  # it finds none live
    assert entry_point("evil.example", remove=True)[1] == (
        f"Unblocked evil.example; re-enabled 1 link(s) it had disabled: {plain.key}. "
        f"1 link(s) it had disabled stay disabled, still blocked by another entry: "
        f"{sub.key} (by cdn.evil.example)."
    )
    assert Link.objects.get(pk=sub.pk).state == LinkState.DISABLED
    held = sub.state_changes.first()
    assert held.blocked_domain == "cdn.evil.example"
    assert (
        held.reason
        == "Still disabled: evil.example was unblocked, but cdn.evil.example is blocked."
    )
    # The entry that holds it now is the one whose removal brings it back.
    assert str(links.unblock("cdn.evil.example", by=None)) == (
        f"Unblocked cdn.evil.example; re-enabled 1 link(s) it had disabled: {sub.key}."
    )
    assert Link.objects.get(pk=sub.pk).state == LinkState.ACTIVE


def test_unblocking_what_disabled_nothing_or_is_not_blocked_says_so(entry_point):
    BlockedDomain.objects.create(domain="quiet.example")
    if entry_point.name == "admin":
        _, said = entry_point("quiet.example", remove=True)
        assert said == (
            "Unblocked quiet.example; it had disabled no link that is still disabled, "
            "so none is re-enabled."
        )
        return
    _, said = entry_point("quiet.example", remove=True)
    assert said.startswith("Unblocked quiet.example; it had disabled no link")
    assert entry_point("Never.Example.", remove=True) == (
        None,
        "never.example was not blocked; nothing changed.",
    )
    refused, _ = entry_point("co.uk", remove=True)
    assert refused.startswith("co.uk is a public suffix")


def test_a_link_edited_while_blocked_comes_back_where_it_now_leads():
    owner = make_user("olga")
    link = make_link(target="https://evil.example/", owner=owner)
    links.block("evil.example", by=owner, reason="", source="test")
    links.edit(Link.objects.get(pk=link.pk), by=owner, target="https://ok.example/")
    assert links.unblock("evil.example", by=None).enabled == (link.key,)
    assert Link.objects.get(pk=link.pk).state == LinkState.ACTIVE


def test_the_list_delete_action_unblocks_each_and_says_what_each_did(admin_client):
    a = make_link(target="https://a-evil.example/")
    b = make_link(target="https://b-evil.example/")
    for domain in ("a-evil.example", "b-evil.example"):
        links.block(domain, by=None, reason="", source="test")
    changelist = reverse("admin:shortener_blockeddomain_changelist")
    ids = list(BlockedDomain.objects.values_list("pk", flat=True))
    response = admin_client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
        follow=True,
    )
    said = [str(m) for m in response.context["messages"]]
    assert f"Unblocked a-evil.example; re-enabled 1 link(s) it had disabled: {a.key}." in said
    assert f"Unblocked b-evil.example; re-enabled 1 link(s) it had disabled: {b.key}." in said
    assert not BlockedDomain.objects.exists()
    assert {Link.objects.get(pk=x.pk).state for x in (a, b)} == {LinkState.ACTIVE}


def test_an_entry_stored_before_todays_rule_can_still_be_removed(admin_client):
    BlockedDomain.objects.bulk_create([BlockedDomain(domain="com")])  # as migration 0005 left it
    entry = BlockedDomain.objects.get()
    url = reverse("admin:shortener_blockeddomain_delete", args=[entry.pk])
    response = admin_client.post(url, {"post": "yes"}, follow=True)
    said = [str(m) for m in response.context["messages"]]
    assert (
        "Unblocked com; it had disabled no link that is still disabled, so none is re-enabled."
        in said
    )
    assert not BlockedDomain.objects.exists()


def test_an_entry_is_not_edited_in_admin_only_added_and_removed(admin_client):
    links.block("evil.example", by=None, reason="spam", source="test")
    entry = BlockedDomain.objects.get()
    url = reverse("admin:shortener_blockeddomain_change", args=[entry.pk])
    admin_client.post(url, {"domain": "other.example", "reason": "x"})
    assert BlockedDomain.objects.get().domain == "evil.example"


def test_the_links_admin_page_shows_its_state_history(admin_client):
    link = make_link(target="https://evil.example/")
    links.block("evil.example", by=None, reason="phishing", source="command")
    page = admin_client.get(reverse("admin:shortener_link_change", args=[link.pk]))
    assert "disabled by the system (command): evil.example is blocked: phishing." in (
        page.content.decode()
    )
