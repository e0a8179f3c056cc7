"""Workspaces: every account has a personal one (made with it, or by the migration for
accounts from before, which moves their links in unchanged), links are made in the
current workspace, and the switcher is a plain form kept in the session."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from shortener import links
from shortener.links import access
from shortener.models import Link, Membership, Role, Workspace
from tests.conftest import make_link, make_user

BEFORE = [("shortener", "0022_link_health")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_each_user_a_personal_workspace_with_their_links_unchanged():
    old = migrate(BEFORE)
    User = old.get_model("auth", "User")
    OldLink = old.get_model("shortener", "Link")
    ann, bob = User.objects.create(username="ann"), User.objects.create(username="bob")
    site = old.get_model("shortener", "Domain").objects.create(host="go.example.org")
    made = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    for slug, owner in (("ann1", ann), ("ann2", ann), ("bob1", bob), ("nobody", None)):
        OldLink.objects.create(
            slug=slug,
            target=f"https://example.com/{slug}",
            owner=owner,
            domain_id=site.pk,
            visit_count=7,
        )
    OldLink.objects.update(created_at=made, updated_at=made)
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    for person, slugs in (("ann", {"ann1", "ann2"}), ("bob", {"bob1"})):
        workspace = Workspace.objects.get(personal_of__username=person)
        assert Membership.objects.get(workspace=workspace).role == Role.OWNER
        moved = Link.objects.filter(workspace=workspace)
        assert set(moved.values_list("slug", flat=True)) == slugs
        assert {(link.visit_count, link.updated_at, link.owner.username) for link in moved} == {
            (7, made, person)
        }
    assert Link.objects.get(slug="nobody").workspace is None


@pytest.mark.django_db
def test_a_new_account_gets_its_personal_workspace_as_owner(client):
    from waffle.testutils import override_flag

    with override_flag("open_signup", active=True):
        password = "a-long-enough-passphrase-42"
        client.post(
            "/accounts/signup/",
            {"username": "newt", "password1": password, "password2": password},
        )
    workspace = Workspace.objects.get(personal_of__username="newt")
    assert workspace.memberships.get().role == Role.OWNER
    assert workspace.name == "newt (personal)"


@pytest.mark.django_db
def test_links_are_made_in_the_current_workspace_and_their_maker_stays_recorded(client):
    olga, edda = make_user("olga"), make_user("edda")
    team = Workspace.objects.create(name="Team")
    Membership.objects.create(workspace=team, user=olga, role=Role.OWNER)
    Membership.objects.create(workspace=team, user=edda, role=Role.EDITOR)
    client.force_login(edda)
    page = client.get("/links/")
    assert 'name="workspace"' in page.content.decode()  # the switcher, a plain form
    assert client.post("/workspaces/switch/", {"workspace": team.pk}).status_code == 303
    client.post("/links/", {"target": "https://example.com/shared", "slug": ""})
    link = Link.objects.get(target="https://example.com/shared")
    assert link.workspace == team and link.owner == edda
    assert link.destination_changes.get().changed_by == edda
    client.force_login(olga)  # the owner sees what edda made in Team
    client.post("/workspaces/switch/", {"workspace": team.pk})
    assert "https://example.com/shared" in client.get("/links/").content.decode()
    assert "https://example.com/shared" not in listed_in_personal(client, olga)


def listed_in_personal(client, user) -> str:
    personal = Workspace.objects.get(personal_of=user)
    client.post("/workspaces/switch/", {"workspace": personal.pk})
    return client.get("/links/").content.decode()


@pytest.mark.django_db
def test_a_workspace_one_is_not_a_member_of_cannot_be_switched_to(client):
    olga, otto = make_user("olga"), make_user("otto")
    theirs = Workspace.objects.get(personal_of=otto)
    client.force_login(olga)
    response = client.post("/workspaces/switch/", {"workspace": theirs.pk})
    assert response.status_code == 404
    assert client.session.get("workspace") is None
    forged = client.post("/workspaces/switch/", {"workspace": "1; drop"})
    assert forged.status_code == 404


@pytest.mark.django_db
def test_staff_work_across_all_workspaces_until_they_choose_one(client):
    stan, otto = make_user("stan", is_staff=True), make_user("otto")
    make_link(slug="otto1", owner=otto, target="https://example.com/otto")
    client.force_login(stan)
    assert "https://example.com/otto" in client.get("/links/").content.decode()
    mine = Workspace.objects.get(personal_of=stan)
    client.post("/workspaces/switch/", {"workspace": mine.pk})
    assert "https://example.com/otto" not in client.get("/links/").content.decode()
    client.post("/workspaces/switch/", {"workspace": ""})
    assert "https://example.com/otto" in client.get("/links/").content.decode()


@pytest.mark.django_db
def test_a_viewer_cannot_make_links_in_the_workspace_nothing_is_written():
    vera = make_user("vera")
    team = Workspace.objects.create(name="Team")
    Membership.objects.create(workspace=team, user=vera, role=Role.VIEWER)
    with pytest.raises(links.LinkRefused) as refused:
        links.create({"target": "https://example.com/x"}, actor=vera, workspace=team)
    assert access.NOT_AN_EDITOR in str(refused.value)
    outcomes = links.create_many([{"target": "https://example.com/y"}], actor=vera, workspace=team)
    assert outcomes[0].refusal is not None
    assert not Link.objects.filter(workspace=team).exists()
