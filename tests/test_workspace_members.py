"""Members: owners invite by username or e-mail address (a link good for 7 days, once,
for the account it names), change roles and remove members; a workspace always keeps
an owner. Each bad input is refused with its status and sentence, and writes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.html import escape
from waffle.testutils import override_flag

from shortener.models import Invitation, Link, Membership, Role, Workspace
from shortener.workspaces import members
from tests.conftest import make_link, make_user

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


@pytest.fixture
def team():
    olga = make_user("olga")
    workspace = members.create_workspace("Team", by=olga)
    return workspace


def owner_of(workspace):
    return workspace.memberships.get(role=Role.OWNER).user


def says(response, sentence: str) -> bool:
    return escape(sentence) in response.content.decode()


def invitation_link(response) -> str:
    text = response.content.decode()
    start = text.index("/invitations/")
    return text[start : text.index("<", start)]


def test_an_owner_invites_by_username_and_the_invitee_joins_once(client, team):
    vera = make_user("vera")
    client.force_login(owner_of(team))
    made = client.post(f"/workspaces/{team.pk}/invite/", {"name": "vera", "role": "viewer"})
    assert made.status_code == 201
    path = invitation_link(made)
    assert Invitation.objects.get().digest != path  # only a digest is kept
    client.force_login(vera)
    page = client.get(path)
    assert page.status_code == 200 and "Join Team" in page.content.decode()
    joined = client.post(path)
    assert joined.status_code == 303 and joined["Location"] == "/links/"
    assert Membership.objects.get(workspace=team, user=vera).role == Role.VIEWER
    assert client.session["workspace"] == team.pk  # working in it at once
    again = client.post(path)
    assert again.status_code == 410 and says(again, members.USED)
    assert Membership.objects.filter(workspace=team, user=vera).count() == 1


def test_an_invitation_by_e_mail_is_accepted_by_signing_up(client, team):
    client.force_login(owner_of(team))
    made = client.post(
        f"/workspaces/{team.pk}/invite/", {"name": "Edda@Example.org", "role": "editor"}
    )
    path = invitation_link(made)
    client.logout()
    page = client.get(path).content.decode()
    assert f"/accounts/signup/?next={path}" in page.replace("%2F", "/")
    with override_flag("open_signup", active=True):
        signed_up = client.post(
            "/accounts/signup/",
            {
                "username": "edda",
                "email": "edda@example.org",
                "password1": "a-long-enough-passphrase-42",
                "password2": "a-long-enough-passphrase-42",
                "next": path,
            },
        )
    assert signed_up.status_code == 303 and signed_up["Location"] == path
    assert client.post(path).status_code == 303
    assert Membership.objects.get(workspace=team, user__username="edda").role == Role.EDITOR


def test_signed_out_accepting_is_sent_to_sign_in_and_nothing_is_written(client, team):
    make_user("vera")
    _, token = members.invite(
        team, by=owner_of(team), name="vera", role="viewer", now=timezone.now()
    )
    response = client.post(f"/invitations/{token}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not Invitation.objects.get().accepted_at
    assert team.memberships.count() == 1


@pytest.mark.parametrize(
    ("case", "status", "sentence"),
    [
        ("forged", 404, members.NOT_VALID),
        ("expired", 410, members.EXPIRED),
        ("another account", 403, members.ANOTHER_ACCOUNT),
        ("reused", 410, members.USED),
    ],
)
def test_bad_invitations_are_refused_and_write_nothing(client, team, case, status, sentence):
    vera, otto = make_user("vera"), make_user("otto")
    sent = timezone.now() - (timedelta(days=7, seconds=1) if case == "expired" else timedelta())
    _, token = members.invite(team, by=owner_of(team), name="vera", role="editor", now=sent)
    if case == "reused":
        members.accept(token, user=vera, now=timezone.now())
    if case == "forged":
        token = token[:-4] + "AAAA"
    client.force_login(otto if case == "another account" else vera)
    before = list(Membership.objects.order_by("pk").values_list("pk", "role"))
    response = client.post(f"/invitations/{token}/")
    assert response.status_code == status and says(response, sentence)
    assert list(Membership.objects.order_by("pk").values_list("pk", "role")) == before


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("", "Name the person to invite: a username or an e-mail address."),
        ("nobody-here", "There is no account named “nobody-here”"),
        ("not@an@address", "This is not an e-mail address."),
        ("olga", "olga is already a member of this workspace."),
    ],
)
def test_bad_invitations_are_not_made(client, team, name, sentence):
    client.force_login(owner_of(team))
    response = client.post(f"/workspaces/{team.pk}/invite/", {"name": name, "role": "viewer"})
    assert response.status_code == 422 and says(response, sentence)
    assert not Invitation.objects.exists()


def test_a_role_that_is_not_one_is_refused(client, team):
    make_user("vera")
    client.force_login(owner_of(team))
    response = client.post(f"/workspaces/{team.pk}/invite/", {"name": "vera", "role": "god"})
    assert response.status_code == 422 and says(response, members.NO_ROLE)
    assert not Invitation.objects.exists()


def test_the_last_owner_can_be_neither_demoted_nor_removed(client, team):
    olga = owner_of(team)
    mine = team.memberships.get(user=olga)
    client.force_login(olga)
    demoted = client.post(f"/workspaces/{team.pk}/members/{mine.pk}/role/", {"role": "editor"})
    assert demoted.status_code == 409 and says(demoted, members.LAST_OWNER)
    removed = client.post(f"/workspaces/{team.pk}/members/{mine.pk}/remove/")
    assert removed.status_code == 409 and says(removed, members.LAST_OWNER)
    assert team.memberships.get(user=olga).role == Role.OWNER
    personal = Workspace.objects.get(personal_of=olga).memberships.get()
    with pytest.raises(members.MembersRefused):
        members.remove(personal)  # the personal workspace keeps its owner too


def test_with_a_second_owner_the_first_may_step_down_and_leave(client, team):
    olga, otto = owner_of(team), make_user("otto")
    Membership.objects.create(workspace=team, user=otto, role=Role.OWNER)
    mine = team.memberships.get(user=olga)
    client.force_login(olga)
    assert (
        client.post(f"/workspaces/{team.pk}/members/{mine.pk}/role/", {"role": "viewer"})[
            "Location"
        ]
        == f"/workspaces/{team.pk}/members/"
    )
    assert team.memberships.get(user=olga).role == Role.VIEWER
    # A viewer now: the members page is no longer hers.
    assert client.get(f"/workspaces/{team.pk}/members/").status_code == 403


def test_removing_a_member_keeps_the_links_with_the_workspace(client, team):
    edda = make_user("edda")
    edit = Membership.objects.create(workspace=team, user=edda, role=Role.EDITOR)
    link = make_link(slug="kept", owner=edda, workspace=team)
    client.force_login(owner_of(team))
    assert client.post(f"/workspaces/{team.pk}/members/{edit.pk}/remove/").status_code == 303
    assert not Membership.objects.filter(pk=edit.pk).exists()
    assert Link.objects.get(pk=link.pk).workspace == team
    assert client.get("/links/kept/").status_code == 200  # the owner still has it


WRITES = [
    ("invite", lambda t, m: (f"/workspaces/{t.pk}/invite/", {"name": "otto", "role": "owner"})),
    ("role", lambda t, m: (f"/workspaces/{t.pk}/members/{m.pk}/role/", {"role": "viewer"})),
    ("remove", lambda t, m: (f"/workspaces/{t.pk}/members/{m.pk}/remove/", {})),
]


@pytest.mark.parametrize(("actor", "status"), [("viewer", 403), ("editor", 403), ("outsider", 404)])
@pytest.mark.parametrize(("action", "request_of"), WRITES, ids=[w[0] for w in WRITES])
def test_only_owners_manage_members_forged_posts_write_nothing(
    client, team, actor, status, action, request_of
):
    otto = make_user("otto")
    person = make_user(actor)
    if actor != "outsider":
        Membership.objects.create(workspace=team, user=person, role=actor)
    owner = team.memberships.get(role=Role.OWNER)
    before = list(Membership.objects.order_by("pk").values_list("pk", "role"))
    client.force_login(person)
    path, data = request_of(team, owner)
    response = client.post(path, data)
    assert response.status_code == status
    if status == 403:
        assert says(response, "Only this workspace's owners manage its members.")
    assert list(Membership.objects.order_by("pk").values_list("pk", "role")) == before
    assert not Invitation.objects.exists() and otto.pk
    assert client.get(f"/workspaces/{team.pk}/members/").status_code == status


def test_a_new_workspace_has_its_maker_as_owner_and_a_name(client):
    olga = make_user("olga")
    client.force_login(olga)
    refused = client.post("/workspaces/", {"name": "  "})
    assert refused.status_code == 422 and says(refused, "Name the workspace")
    made = client.post("/workspaces/", {"name": "Marketing"})
    workspace = Workspace.objects.get(name="Marketing")
    assert made["Location"] == f"/workspaces/{workspace.pk}/members/"
    assert workspace.memberships.get().user == olga and client.session["workspace"] == workspace.pk


def test_every_change_of_members_is_in_the_audit_log_by_whom_it_was_made(client, team):
    from shortener.audit.models import Entry

    olga, vera = owner_of(team), make_user("vera")
    client.force_login(olga)
    path = invitation_link(
        client.post(f"/workspaces/{team.pk}/invite/", {"name": "vera", "role": "viewer"})
    )
    client.force_login(vera)
    client.post(path)
    client.force_login(olga)
    vera_in = team.memberships.get(user=vera)
    client.post(f"/workspaces/{team.pk}/members/{vera_in.pk}/role/", {"role": "editor"})
    client.post(f"/workspaces/{team.pk}/members/{vera_in.pk}/remove/")
    mine = team.memberships.get(user=olga)
    client.post(f"/workspaces/{team.pk}/members/{mine.pk}/remove/")  # refused: no entry
    said = [
        (e.kind, e.action, e.actor_name, e.via, e.summary)
        for e in Entry.objects.filter(kind__in=["workspace", "member"]).order_by("pk")
    ]
    assert said == [
        ("workspace", "created", "olga", "command", "Created the workspace “Team”."),
        ("member", "invited", "olga", "page", "Invited vera to “Team” as viewer."),
        ("member", "joined", "vera", "page", "vera joined “Team” as viewer."),
        ("member", "changed", "olga", "page", "vera is now editor of “Team”."),
        ("member", "removed", "olga", "page", "Removed vera (editor) from “Team”."),
    ]
