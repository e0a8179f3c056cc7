"""A database made at the last round's head (shortener 0011, before the rooms) migrates to
today's head losing nothing: links, visits, rollups, domains, webhook events and tokens
(which get every scope and no expiry)."""

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

LAST_ROUND = [("shortener", "0011_bulk_jobs"), ("flags", "0003_torii_flags")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_a_database_of_the_last_round_migrates_losing_nothing():
    old = migrate(LAST_ROUND)
    User = old.get_model("auth", "User")
    Domain = old.get_model("shortener", "Domain")
    Link = old.get_model("shortener", "Link")
    owner = User.objects.create(username="keeper")
    short = Domain.objects.create(host="go.example.org")
    link = Link.objects.create(
        slug="kept1",
        target="https://example.com/a",
        owner_id=owner.pk,
        domain_id=short.pk,
        title="Kept",
        visit_count=2,
        password="md5$x$y",
        rules=[{"target": "https://example.com/m", "when": {"device": ["mobile"]}}],
        forward_query="merge",
    )
    old.get_model("shortener", "DestinationChange").objects.create(
        link_id=link.pk, new_target=link.target
    )
    at = datetime(2026, 11, 30, 12, tzinfo=UTC)
    old.get_model("shortener", "Visit").objects.create(
        link_id=link.pk, at=at, visitor="v1", country="DE"
    )
    old.get_model("shortener", "DailyStat").objects.create(
        link_id=link.pk, day=date(2026, 11, 30), clicks=2, visitors=1
    )
    source = old.get_model("shortener", "WebhookSource").objects.create(
        name="ci", owner_id=owner.pk
    )
    old.get_model("shortener", "WebhookEvent").objects.create(
        source_id=source.pk, delivery_id="d1", event_type="link.create", body=b"{}"
    )
    old.get_model("shortener", "ApiToken").objects.create(
        user_id=owner.pk, name="cli", digest="0" * 64, prefix="torii_abcdef"
    )

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    from shortener.models import ApiToken, DailyStat, Link, Visit, WebhookEvent

    kept = Link.objects.get(slug="kept1", domain__host="go.example.org")
    assert (kept.target, kept.title, kept.visit_count, kept.owner.username) == (
        "https://example.com/a",
        "Kept",
        2,
        "keeper",
    )
    assert kept.is_protected and kept.rules and kept.forward_query == "merge"
    assert kept.short_url.endswith("go.example.org/kept1")
    assert list(kept.destination_changes.values_list("new_target", flat=True)) == [
        "https://example.com/a"
    ]
    assert Visit.objects.get(link=kept).country == "DE"
    assert DailyStat.objects.get(link=kept).clicks == 2
    assert WebhookEvent.objects.get().delivery_id == "d1"
    token = ApiToken.objects.get()
    assert token.name == "cli"
    # made before scopes and expiry: it keeps doing everything it did, for ever
    assert token.scopes == ["links:read", "links:write", "stats:read", "webhooks:manage"]
    assert token.expires_at is None
