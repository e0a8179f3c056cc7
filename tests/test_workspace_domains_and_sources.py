"""Short domains restricted to workspaces, and webhook sources that act for one
workspace: a domain of workspace Team is offered and accepted for Team's links only (and
staff's); a source of Team creates its links there and disables only there."""

import pytest

from shortener import links
from shortener.admin.webhooks import NOT_THEIRS, WebhookSourceForm
from shortener.models import EventStatus, Link, Membership, Role, WebhookEvent, Workspace
from tests.conftest import make_domain, make_link, make_user
from tests.webhook_delivery import deliver, make_source, payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    olga = make_user("olga")
    workspace = Workspace.objects.create(name="Team")
    Membership.objects.create(workspace=workspace, user=olga, role=Role.OWNER)
    return workspace


def test_a_workspace_domain_is_for_that_workspace_links_only(client, team):
    olga = team.memberships.get().user
    own = make_domain("team.example")
    own.workspaces.set([team])
    made = links.create(
        {"target": "https://example.com/a", "domain": "team.example"}, actor=olga, workspace=team
    )
    assert made.domain == own and made.workspace == team
    with pytest.raises(links.LinkRefused) as refused:
        links.create({"target": "https://example.com/b", "domain": "team.example"}, actor=olga)
    assert "domain" in refused.value.errors
    assert not Link.objects.filter(target="https://example.com/b").exists()
    # The create form offers it in Team only.
    client.force_login(olga)
    assert "team.example" not in client.get("/").content.decode()
    client.post("/workspaces/switch/", {"workspace": team.pk})
    assert "team.example" in client.get("/").content.decode()
    outsider = make_user("otto")
    assert own not in links.usable_domains(outsider)
    stan = make_user("stan", is_staff=True)
    assert own in links.usable_domains(stan)


def test_a_source_of_a_workspace_creates_there_and_disables_only_there(client, team):
    olga = team.memberships.get().user
    source = make_source("team-cms", owner=olga, workspace=team)
    response = deliver(client, source, payload("link.create", url="https://example.com/new"))
    event = WebhookEvent.objects.get(delivery_id=response.json()["id"])
    assert event.status == EventStatus.PROCESSED, event.outcome
    assert Link.objects.get(target="https://example.com/new").workspace == team
    personal = make_link(slug="personal", owner=olga, target="https://example.com/same")
    in_team = make_link(
        slug="teamed", owner=olga, workspace=team, target="https://example.com/same"
    )
    deliver(client, source, payload("link.disable", url="https://example.com/same"))
    assert not Link.objects.get(pk=in_team.pk).is_active
    assert Link.objects.get(pk=personal.pk).is_active


def test_a_source_whose_owner_left_the_workspace_creates_nothing_there(client, team):
    edda = make_user("edda")
    member = Membership.objects.create(workspace=team, user=edda, role=Role.EDITOR)
    source = make_source("edda-cms", owner=edda, workspace=team)
    member.delete()
    response = deliver(client, source, payload("link.create", url="https://example.com/late"))
    event = WebhookEvent.objects.get(delivery_id=response.json()["id"])
    assert event.status == EventStatus.REJECTED, event.outcome
    assert "editor" in event.outcome
    assert not Link.objects.filter(target="https://example.com/late").exists()


def test_admin_refuses_a_source_for_a_workspace_its_owner_only_views(team):
    vera = make_user("vera")
    Membership.objects.create(workspace=team, user=vera, role=Role.VIEWER)
    form = WebhookSourceForm(
        {"name": "vera-cms", "owner": vera.pk, "workspace": team.pk, "scheme": "standard"}
    )
    assert not form.is_valid() and form.errors["workspace"] == [NOT_THEIRS]
