"""The Link model and the core's writes: immutable slugs, tombstones, states, bounded slug
retries, links never destroyed."""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from shortener import links
from shortener.models import Link, LinkDestroyRefused, LinkState, SlugChangeRefused
from shortener.policy import slugs
from tests.conftest import make_link, make_user

pytestmark = pytest.mark.django_db


def test_the_model_refuses_to_change_a_slug():
    link = make_link()
    link.slug = "something-else"
    with pytest.raises(SlugChangeRefused):
        link.save()
    assert Link.objects.filter(slug="something-else").count() == 0


def test_the_model_refuses_to_change_a_slug_loaded_fresh():
    slug = make_link().slug
    link = Link.objects.get(slug=slug)
    link.slug = "other"
    with pytest.raises(SlugChangeRefused):
        link.save()


def test_editing_the_target_keeps_the_slug_and_records_history():
    user = make_user()
    link = make_link(owner=user)
    slug, old = link.slug, link.target
    links.edit(link, by=user, target="https://example.org/new")
    link.refresh_from_db()
    assert link.slug == slug
    changes = list(link.destination_changes.values_list("old_target", "new_target"))
    assert changes == [(old, "https://example.org/new"), ("", old)]


def test_slug_collisions_are_retried(monkeypatch):
    taken = make_link().slug
    draws = iter([taken, taken, "Fresh77"])
    monkeypatch.setattr(slugs, "generate_slug", lambda length: next(draws))
    link = links.create({"target": "https://example.com/"}, actor=make_user())
    assert link.slug == "Fresh77"


def test_slug_retries_are_bounded(monkeypatch):
    taken = make_link().slug
    monkeypatch.setattr(slugs, "generate_slug", lambda length: taken)
    with pytest.raises(IntegrityError):
        links.create({"target": "https://example.com/"}, actor=make_user())
    assert Link.objects.count() == 1


def test_slug_length_comes_from_settings(settings):
    settings.SLUG_LENGTH = 10
    assert len(links.create({"target": "https://example.com/"}, actor=make_user()).slug) == 10


def test_slugs_are_case_sensitive():
    make_link(slug="CaseTest")
    other = make_link(slug="casetest")
    assert Link.objects.get(slug="casetest") == other


def test_a_deleted_link_is_a_tombstone_and_its_slug_is_never_reissued():
    link = make_link(slug="gone-forever")
    link.delete_softly()
    link.refresh_from_db()
    assert link.state == LinkState.DELETED
    assert not link.can_enable and not link.can_disable
    with pytest.raises(IntegrityError):
        make_link(slug="gone-forever")


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({}, LinkState.ACTIVE),
        ({"is_active": False}, LinkState.DISABLED),
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, LinkState.EXPIRED),
        ({"expires_at": timezone.now() + timedelta(days=1)}, LinkState.ACTIVE),
        ({"max_visits": 3, "visit_count": 3}, LinkState.EXHAUSTED),
        ({"max_visits": 3, "visit_count": 2}, LinkState.ACTIVE),
    ],
)
def test_state_and_state_filter_agree(fields, state):
    visit_count = fields.pop("visit_count", 0)
    link = make_link(**fields)
    Link.objects.filter(pk=link.pk).update(visit_count=visit_count)
    link.refresh_from_db()
    assert link.state == state
    assert list(Link.objects.in_state(state)) == [link]


def test_disable_and_enable_change_only_what_they_may():
    link = make_link()
    link.disable()
    link.disable()  # twice: still disabled, nothing else touched
    assert Link.objects.get(pk=link.pk).state == LinkState.DISABLED
    link.enable()
    link.enable()
    assert Link.objects.get(pk=link.pk).state == LinkState.ACTIVE
    link.delete_softly()
    link.enable()  # a tombstone never comes back
    stored = Link.objects.get(pk=link.pk)
    assert stored.state == LinkState.DELETED and stored.is_active is False


def test_a_link_is_never_destroyed_by_the_model_or_a_queryset():
    link = make_link()
    with pytest.raises(LinkDestroyRefused):
        link.delete()
    with pytest.raises(LinkDestroyRefused):
        Link.objects.all().delete()
    assert Link.objects.filter(pk=link.pk, deleted_at__isnull=True).exists()


def test_an_edit_judges_only_what_changes():
    """Values stored before a rule (a tag with a space, a passed expiry) never block an edit
    of another field; changing them to something refused still fails."""
    from shortener.links import LinkRefused

    user = make_user()
    link = make_link(
        owner=user, tags=["Hello World"], expires_at=timezone.now() - timedelta(days=1)
    )
    old_expiry = link.expires_at
    links.edit(
        link, by=user, title="New title", tags=["Hello World"], expires_at=old_expiry.isoformat()
    )
    link.refresh_from_db()
    assert link.title == "New title" and link.expires_at == old_expiry
    with pytest.raises(LinkRefused) as refused:
        links.edit(link, by=user, tags=["Hello World", "second one"])
    assert refused.value.field == "tags"
    assert sorted(link.tags.values_list("name", flat=True)) == ["Hello World"]
