"""What events do: links created through the target policy, disabled, domains blocked;
retries with a bound, replay, and nothing done while read_only is on."""

import pytest
from waffle.testutils import override_flag, override_switch

from shortener.events import handlers, processing
from shortener.models import BlockedDomain, EventStatus, Link, LinkState, WebhookEvent
from tests.conftest import make_link, make_user
from tests.webhook_delivery import at_once, deliver, make_event, make_source, payload

pytestmark = pytest.mark.django_db


def send(client, source, event_type, delivery_id=None, **data) -> WebhookEvent:
    response = deliver(client, source, payload(event_type, **data), delivery_id=delivery_id)
    assert response.status_code in (200, 202), response.content
    return WebhookEvent.objects.get(delivery_id=response.json()["id"])


def test_link_create_makes_a_link_owned_by_the_source_owner(client):
    source = make_source()
    event = send(
        client,
        source,
        "link.create",
        url="HTTPS://Example.COM/a?b=C",
        title="Launch",
        tags=["news", "cms"],
    )
    link = Link.objects.get()
    assert link.owner == source.owner and link.title == "Launch"
    assert link.target == "https://example.com/a?b=C"  # normalised by the target policy
    assert sorted(link.tags.values_list("name", flat=True)) == ["cms", "news"]
    assert link.destination_changes.count() == 1
    assert event.status == EventStatus.PROCESSED and link.slug in event.outcome


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://169.254.169.254/latest", "private, local or reserved"),
        ("javascript:alert(1)", "not allowed"),
        ("https://localhost/", "local name"),
        ("https://blocked.example/x", "blocked on this site"),
    ],
)
def test_a_target_the_policy_refuses_creates_nothing_and_says_why(client, url, words):
    BlockedDomain.objects.create(domain="blocked.example")
    event = send(client, make_source(), "link.create", url=url)
    assert event.status == EventStatus.REJECTED and words in event.outcome
    assert Link.objects.count() == 0


def test_a_custom_slug_is_honoured_only_when_the_owner_may_use_them(client):
    source = make_source()
    with override_flag("custom_slugs", active=False):
        off = send(client, source, "link.create", url="https://example.com/1", slug="launch")
    # As on the form and the API: refused, not silently replaced by a generated slug.
    assert off.status == EventStatus.REJECTED
    assert off.outcome == "Custom slugs are not available to your account."
    assert Link.objects.count() == 0
    with override_flag("custom_slugs", active=True):
        on = send(client, source, "link.create", url="https://example.com/2", slug="launch")
        taken = send(client, source, "link.create", url="https://example.com/3", slug="launch")
        reserved = send(client, source, "link.create", url="https://example.com/4", slug="admin")
    assert on.status == EventStatus.PROCESSED and Link.objects.filter(slug="launch").exists()
    assert taken.status == EventStatus.REJECTED and "taken" in taken.outcome
    assert reserved.status == EventStatus.REJECTED and "reserved" in reserved.outcome
    assert Link.objects.count() == 1


def test_link_disable_by_slug_touches_only_the_owners_links(client):
    source = make_source()
    mine = make_link(owner=source.owner)
    theirs = make_link(owner=make_user("bob"))
    send(client, source, "link.disable", slug=mine.slug)
    event = send(client, source, "link.disable", slug=theirs.slug)
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.state == LinkState.DISABLED and theirs.state == LinkState.ACTIVE
    assert event.status == EventStatus.PROCESSED and "No live link" in event.outcome


def test_link_disable_by_url_disables_every_matching_link_of_the_owner(client):
    source = make_source()
    links = [make_link(owner=source.owner, target="https://example.com/post") for _ in range(2)]
    other = make_link(owner=source.owner, target="https://example.com/other")
    event = send(client, source, "link.disable", url="https://EXAMPLE.com/post")
    assert {Link.objects.get(pk=x.pk).state for x in links} == {LinkState.DISABLED}
    assert Link.objects.get(pk=other.pk).state == LinkState.ACTIVE
    assert "Disabled 2 link(s)" in event.outcome


def test_domain_block_blocks_and_disables_live_links_to_it_and_its_subdomains(client):
    source = make_source("abuse-feed")
    hits = [
        make_link(target="https://evil.example/a"),
        make_link(target="https://cdn.evil.example/b", owner=make_user("bob")),
    ]
    misses = [
        make_link(target="https://notevil.example/"),
        make_link(target="https://ok.org/evil.example"),
    ]
    event = send(client, source, "domain.block", domain="Evil.Example.", reason="phishing")
    blocked = BlockedDomain.objects.get()
    assert blocked.domain == "evil.example" and blocked.reason == "phishing"
    assert {Link.objects.get(pk=x.pk).state for x in hits} == {LinkState.DISABLED}
    assert {Link.objects.get(pk=x.pk).state for x in misses} == {LinkState.ACTIVE}
    assert "disabled 2 link(s)" in event.outcome
    refused = send(client, make_source(), "link.create", url="https://www.evil.example/")
    assert refused.status == EventStatus.REJECTED and Link.objects.count() == 4


def test_domain_block_again_is_fine_and_a_bad_domain_is_refused(client):
    source = make_source()
    send(client, source, "domain.block", domain="evil.example")
    again = send(client, source, "domain.block", domain="evil.example")
    bad = send(client, source, "domain.block", domain="not a domain")
    assert again.status == EventStatus.PROCESSED and "Already blocked" in again.outcome
    assert bad.status == EventStatus.REJECTED and BlockedDomain.objects.count() == 1


def test_each_effect_happens_once_per_delivery_id(client):
    event = send(client, make_source(), "link.create", url="https://example.com/once")
    for _ in range(3):
        assert processing.process_event.call(event.pk) == "not pending: nothing to do"
    assert Link.objects.count() == 1
    event.refresh_from_db()
    assert event.attempts == 1


def test_a_failing_handler_is_retried_a_bounded_number_of_times_then_failed(client, monkeypatch):
    calls = []

    def broken(event, data):
        calls.append(event.pk)
        raise RuntimeError("database of the CMS is down")

    monkeypatch.setitem(handlers.HANDLERS, "link.create", broken)
    event = send(client, make_source(), "link.create", url="https://example.com/")
    assert len(calls) == processing.MAX_ATTEMPTS
    assert event.status == EventStatus.FAILED and event.attempts == processing.MAX_ATTEMPTS
    assert "Gave up after 5 attempts" in event.outcome and "CMS is down" in event.outcome


def test_a_handler_that_fails_once_succeeds_on_the_retry(client, monkeypatch):
    real = handlers.create
    failures = ["once"]

    def flaky(event, data):
        if failures:
            failures.pop()
            raise ConnectionError("blip")
        return real(event, data)

    monkeypatch.setitem(handlers.HANDLERS, "link.create", flaky)
    event = send(client, make_source(), "link.create", url="https://example.com/")
    assert event.status == EventStatus.PROCESSED and event.attempts == 2
    assert Link.objects.count() == 1


def test_a_failed_handler_leaves_no_partial_write(client, monkeypatch):
    def half(event, data):
        make_link(owner=event.source.owner)
        raise RuntimeError("after the write")

    monkeypatch.setitem(handlers.HANDLERS, "link.create", half)
    send(client, make_source(), "link.create", url="https://example.com/")
    assert Link.objects.count() == 0


def test_backoff_doubles_when_the_backend_can_defer(monkeypatch):
    delays = []
    monkeypatch.setattr(processing, "schedule", lambda pk, delay=0, **kw: delays.append(delay))
    event = make_event(make_source())
    for _ in range(processing.MAX_ATTEMPTS):
        processing.record_failure(event.pk, "boom")
    assert delays == [30, 60, 120, 240]
    event.refresh_from_db()
    assert event.status == EventStatus.FAILED


def test_replay_runs_a_failed_event_again(client, monkeypatch):
    monkeypatch.setitem(handlers.HANDLERS, "link.create", lambda e, d: 1 / 0)
    event = send(client, make_source(), "link.create", url="https://example.com/")
    assert event.status == EventStatus.FAILED
    monkeypatch.undo()
    assert processing.replay(event) is True
    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSED and event.attempts == 1
    assert processing.replay(event) is False  # processed: its effect happened once
    assert Link.objects.count() == 1


def test_read_only_leaves_events_pending_and_acts_on_nothing(client):
    # The receiver itself answers 503 in maintenance (config.read_only); an event
    # stored before the switch was flipped must still not be acted on.
    source = make_source()
    event = make_event(source)
    with override_switch("read_only", active=True):
        assert "read_only" in processing.process_event.call(event.pk)
        refused = deliver(client, source)
        assert refused.status_code == 503
    event.refresh_from_db()
    assert event.status == EventStatus.PENDING and event.attempts == 0
    assert Link.objects.count() == 0 and WebhookEvent.objects.count() == 1
    assert processing.replay(event) is True
    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSED and Link.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_tasks_racing_on_one_event_act_once():
    event = make_event(make_source())
    at_once(5, lambda: processing.process_event.call(event.pk))
    event.refresh_from_db()
    assert Link.objects.count() == 1
    assert event.status == EventStatus.PROCESSED and event.attempts == 1
