"""The access table for workspace roles: one row per (entry point, action), run as each
of a workspace's viewer, editor and owner, an outsider (a member of another workspace
only) and staff. A row says the status each gets and whether what it asks happened. A
viewer's every write is refused (403, they see the link) and writes nothing; the
outsider gets 404 for every read, as for a link that does not exist.

The world: "Team" (olga owner, edda editor, vera viewer) holds `mine`, made by olga;
otto's personal workspace holds his own `theirs`; stan is staff."""

from dataclasses import dataclass
from typing import Any

import pytest
from django.utils.html import escape
from waffle.testutils import override_flag

from shortener.links import access
from shortener.models import Link, Membership, Role, Workspace
from shortener.tokens import personal as tokens
from tests.conftest import make_link, make_user

pytestmark = pytest.mark.django_db

ACTORS = ("viewer", "editor", "owner", "outsider", "staff")
TARGET = "https://example.com/team"


@dataclass
class World:
    users: dict[str, Any]
    team: Workspace
    link: Link
    theirs: Link
    actor: str = ""
    client: Any = None
    token: str = ""

    @property
    def user(self):
        return self.users[self.actor]

    def fresh(self) -> Link:
        return Link.objects.get(pk=self.link.pk)

    def api(self, method: str, path: str, body=None, **params):
        headers = {"Authorization": f"Bearer {self.token}"}
        if method == "get":
            return self.client.get(path, params, headers=headers)
        if params:
            path += "?" + "&".join(f"{k}={v}" for k, v in params.items())
        return getattr(self.client, method)(
            path, body or {}, content_type="application/json", headers=headers
        )

    def htmx(self, method: str, path: str, data=None):
        headers = {"HX-Request": "true", "HX-Target": "link-panel"}
        return getattr(self.client, method)(path, data or {}, headers=headers)

    def into_team(self):
        """Switch to Team as the switcher does (the outsider is refused and stays out)."""
        return self.client.post("/workspaces/switch/", {"workspace": self.team.pk})


@pytest.fixture
def world(client):
    olga, edda, vera = make_user("olga"), make_user("edda"), make_user("vera")
    otto = make_user("otto")
    stan = make_user("stan", is_staff=True, is_superuser=True)
    team = Workspace.objects.create(name="Team")
    for person, role in ((olga, Role.OWNER), (edda, Role.EDITOR), (vera, Role.VIEWER)):
        Membership.objects.create(workspace=team, user=person, role=role)
    link = make_link(slug="mine", owner=olga, workspace=team, target=TARGET)
    theirs = make_link(slug="theirs", owner=otto, target="https://example.com/otto")
    users = {"viewer": vera, "editor": edda, "owner": olga, "outsider": otto, "staff": stan}
    return World(users, team, link, theirs, client=client)


@pytest.fixture(autouse=True)
def flags_on():
    with (
        override_flag("api_v1", active=True),
        override_flag("qr_codes", active=True),
        override_flag("link_analytics", active=True),
    ):
        yield


@dataclass(frozen=True)
class Row:
    name: str
    do: Any
    codes: tuple[int, int, int, int, int]  # viewer, editor, owner, outsider, staff
    yes: tuple[str, ...] = ()
    happens: Any = None
    before: Any = None


def shows(text: str):
    return lambda w, r: text in r.content.decode()


def streamed(text: str):
    return lambda w, r: r.streaming and text in b"".join(r.streaming_content).decode()


def disabled(w, r):
    return not w.fresh().is_active


def enabled(w, r):
    return w.fresh().is_active


def deleted(w, r):
    return w.fresh().deleted_at is not None


def retitled(w, r):
    return w.fresh().title == "Renamed"


def ruled(w, r):
    return len(w.fresh().rules) == 1


def made_in_team(w, r):
    return Link.objects.filter(workspace=w.team, target="https://example.com/new").exists()


def switch_off(w):
    Link.objects.filter(pk=w.link.pk).update(is_active=False)


def switched(w):
    w.into_team()


WRITERS = ("editor", "owner", "staff")
MEMBERS = ("viewer", "editor", "owner", "staff")
EDIT = {"target": "https://example.org/moved", "title": "Renamed", "redirect_code": "302"}
RULE = {"rule-target": "https://mobile.example/", "rule-device": ["mobile"]}
WRITE = (403, 303, 303, 404, 303)
READ = (200, 200, 200, 404, 200)
API_WRITE = (403, 200, 200, 404, 200)

ROWS = [
    # --- pages and their htmx fragments ---
    Row("page: detail", lambda w: w.client.get("/links/mine/"), READ, MEMBERS, shows(TARGET)),
    Row("page: edit form", lambda w: w.client.get("/links/mine/edit/"), (403, 200, 200, 404, 200)),
    Row("page: edit", lambda w: w.client.post("/links/mine/edit/", EDIT), WRITE, WRITERS, retitled),
    Row("page: disable", lambda w: w.client.post("/links/mine/disable/"), WRITE, WRITERS, disabled),
    Row(
        "page: enable",
        lambda w: w.client.post("/links/mine/enable/"),
        WRITE,
        WRITERS,
        enabled,
        switch_off,
    ),
    Row("page: delete", lambda w: w.client.post("/links/mine/delete/"), WRITE, WRITERS, deleted),
    Row(
        "page: add a rule",
        lambda w: w.client.post("/links/mine/rules/", RULE),
        WRITE,
        WRITERS,
        ruled,
    ),
    Row(
        "htmx: disable",
        lambda w: w.htmx("post", "/links/mine/disable/"),
        (403, 200, 200, 404, 200),
        WRITERS,
        disabled,
    ),
    Row("htmx: edit form", lambda w: w.htmx("get", "/links/mine/edit/"), (403, 200, 200, 404, 200)),
    Row(
        "page: bulk disable",
        lambda w: w.client.post("/links/bulk/", {"action": "disable", "slug": ["mine"]}),
        (303, 303, 303, 303, 303),
        WRITERS,
        disabled,
    ),
    Row(
        "page: create in the current workspace",
        lambda w: w.client.post("/links/", {"target": "https://example.com/new"}),
        (403, 303, 303, 303, 303),
        WRITERS,
        made_in_team,
        switched,
    ),
    Row("QR: svg", lambda w: w.client.get("/links/mine/qr.svg"), READ),
    Row("stats: page", lambda w: w.client.get("/links/mine/stats/"), READ),
    Row("stats: visits CSV", lambda w: w.client.get("/links/mine/visits.csv"), READ),
    # --- the current workspace's lists ---
    Row(
        "switcher: into Team",
        lambda w: w.into_team(),
        (303, 303, 303, 404, 303),
    ),
    Row(
        "page: the list, in Team",
        lambda w: w.client.get("/links/"),
        (200, 200, 200, 200, 200),
        MEMBERS,
        shows(TARGET),
        switched,
    ),
    Row(
        "export: JSON Lines, in Team",
        lambda w: w.client.get("/links/export.jsonl"),
        (200, 200, 200, 200, 200),
        MEMBERS,
        streamed(TARGET),
        switched,
    ),
    # --- API ---
    Row("API: one link", lambda w: w.api("get", "/api/v1/links/mine"), READ),
    Row(
        "API: edit",
        lambda w: w.api("patch", "/api/v1/links/mine", {"title": "Renamed"}),
        API_WRITE,
        WRITERS,
        retitled,
    ),
    Row(
        "API: disable",
        lambda w: w.api("post", "/api/v1/links/mine/disable"),
        API_WRITE,
        WRITERS,
        disabled,
    ),
    Row(
        "API: enable",
        lambda w: w.api("post", "/api/v1/links/mine/enable"),
        API_WRITE,
        WRITERS,
        enabled,
        switch_off,
    ),
    Row(
        "API: delete",
        lambda w: w.api("delete", "/api/v1/links/mine"),
        (403, 204, 204, 404, 204),
        WRITERS,
        deleted,
    ),
    Row("API: stats", lambda w: w.api("get", "/api/v1/links/mine/stats"), READ),
    Row(
        "API: the list of Team",
        lambda w: w.api("get", "/api/v1/links", workspace=w.team.pk),
        READ,
        MEMBERS,
        shows(TARGET),
    ),
    Row(
        "API: the list without a workspace (the personal one)",
        lambda w: w.api("get", "/api/v1/links"),
        (200, 200, 200, 200, 200),
        ("staff",),  # staff without one: every link
        shows(TARGET),
    ),
    Row(
        "API: export of Team",
        lambda w: w.api("get", "/api/v1/export", workspace=w.team.pk),
        READ,
        MEMBERS,
        streamed(TARGET),
    ),
    Row(
        "API: create in Team",
        lambda w: w.api(
            "post", "/api/v1/links", {"target": "https://example.com/new"}, workspace=w.team.pk
        ),
        (403, 201, 201, 404, 201),
        WRITERS,
        made_in_team,
    ),
]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_each_role_through_each_entry_point(world, row, actor):
    world.actor = actor
    world.client.force_login(world.user)
    world.token = tokens.issue(world.user, "role table")[1]
    if row.before:
        row.before(world)
    response = row.do(world)
    expected = row.codes[ACTORS.index(actor)]
    assert response.status_code == expected, getattr(response, "content", b"")[:300]
    if row.happens is not None:
        assert row.happens(world, response) == (actor in row.yes)


def test_a_viewers_refusal_says_why(world):
    world.client.force_login(world.users["viewer"])
    page = world.client.post("/links/mine/edit/", EDIT)
    assert page.status_code == 403 and escape(access.NOT_AN_EDITOR) in page.content.decode()
    raw = tokens.issue(world.users["viewer"], "cli")[1]
    api = world.client.post(
        "/api/v1/links/mine/disable",
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert api.status_code == 403 and api.json()["type"].endswith("role-forbids")
    assert api.json()["detail"] == access.NOT_AN_EDITOR
    assert world.fresh().is_active and world.fresh().title == ""


def test_a_member_of_a_only_gets_404_for_every_read_of_b(world):
    """vera (Team) reads otto's link in his workspace: 404 everywhere, as a link that
    does not exist."""
    world.client.force_login(world.users["viewer"])
    for path in ("/links/theirs/", "/links/theirs/stats/", "/links/theirs/qr.svg"):
        assert world.client.get(path).status_code == 404, path
    raw = tokens.issue(world.users["viewer"], "cli")[1]
    headers = {"Authorization": f"Bearer {raw}"}
    assert world.client.get("/api/v1/links/theirs", headers=headers).status_code == 404
    other = otto_workspace(world)
    listed = world.client.get(f"/api/v1/links?workspace={other.pk}", headers=headers)
    assert listed.status_code == 404 and "not a member" in listed.json()["detail"]


def otto_workspace(world) -> Workspace:
    return world.theirs.workspace


def test_a_removed_member_loses_access_at_once_session_and_token(world):
    edda = world.users["editor"]
    world.client.force_login(edda)
    raw = tokens.issue(edda, "cli")[1]
    headers = {"Authorization": f"Bearer {raw}"}
    assert world.into_team().status_code == 303
    assert world.client.get("/links/mine/").status_code == 200
    Membership.objects.filter(user=edda, workspace=world.team).delete()
    assert world.client.get("/links/mine/").status_code == 404
    assert TARGET not in world.client.get("/links/").content.decode()  # back in her own
    assert world.client.get("/api/v1/links/mine", headers=headers).status_code == 404
    patched = world.client.patch(
        "/api/v1/links/mine", {"title": "Gone"}, content_type="application/json", headers=headers
    )
    assert patched.status_code == 404 and world.fresh().title == ""


@pytest.mark.parametrize(
    ("actor", "answers"),
    [
        ("viewer", (True, False, True, False)),
        ("editor", (True, True, True, True)),
        ("owner", (True, True, True, True)),
        ("outsider", (False, False, False, False)),
        ("staff", (True, True, True, True)),
    ],
)
def test_the_module_answers_for_each_role(world, actor, answers):
    """(may see, may change, may read stats, may create in Team)."""
    user = world.users[actor]
    got = (
        access.may_see(user, world.link),
        access.may_change(user, world.link),
        access.may_read_stats(user, world.link),
        access.may_create_in(user, world.team),
    )
    assert got == answers
