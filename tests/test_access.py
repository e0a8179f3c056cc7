"""Who may do what to a link, through every entry point: one row per (entry point,
action), each run as each actor (nobody signed in, the link's owner, another person,
staff). A row says the status each actor gets and whether what it asks for happened;
what one may not see is a 404, as a link that does not exist. A new entry point is a row.

The world: olga's link `mine` on the site's own host (and a protected one, `hush`),
otto's link with the same slug on ex.co (`mine@ex.co`), and stan, who is staff."""

import io
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings
from waffle.testutils import override_flag

from shortener.links import access
from shortener.models import BulkJob, BulkStatus, EventStatus, ExitJob, Link, WebhookEvent
from shortener.portability import exit_jobs
from shortener.tokens import personal as tokens
from tests.conftest import make_domain, make_link, make_user
from tests.webhook_delivery import deliver, make_source, payload

pytestmark = pytest.mark.django_db

ACTORS = ("anonymous", "owner", "other", "staff")
SECRET = "https://secret.example/plans"
JSON = "application/json"


@dataclass
class World:
    users: dict[str, Any]
    link: Link  # olga's, on the site's host
    theirs: Link  # otto's, same slug, on ex.co
    hush: Link  # olga's, protected
    job: BulkJob  # olga's import job
    exit: ExitJob  # olga's nginx map, written in the background
    actor: str = ""
    client: Any = None
    api_token: str = ""

    @property
    def user(self):
        return self.users.get(self.actor)

    def fresh(self, link: Link | None = None) -> Link:
        return Link.objects.get(pk=(link or self.link).pk)

    # --- how each kind of client asks ---

    def api(self, method: str, path: str, body=None, **params):
        headers = {"Authorization": f"Bearer {self.api_token}"} if self.api_token else {}
        if method == "get":
            return self.client.get(path, params, headers=headers)
        return getattr(self.client, method)(
            path, body or {}, content_type="application/json", headers=headers
        )

    def htmx(self, method: str, path: str, data=None, target: str = "link-panel"):
        headers = {"HX-Request": "true", "HX-Target": target}
        return getattr(self.client, method)(path, data or {}, headers=headers)


@pytest.fixture
def world(client, settings, tmp_path):
    olga, otto = make_user("olga"), make_user("otto")
    stan = make_user("stan", is_staff=True, is_superuser=True)
    ex = make_domain("ex.co")
    link = make_link(slug="mine", owner=olga, target="https://example.com/olga")
    theirs = make_link(slug="mine", owner=otto, domain=ex, target="https://example.com/otto")
    hush = make_link(slug="hush", owner=olga, target=SECRET)
    from shortener import links

    links.edit(hush, by=olga, password="open sesame")
    job = BulkJob.objects.create(owner=olga, format="lines", source=b"x", total=1)
    settings.EXPORT_DIR = tmp_path
    exit = ExitJob.objects.create(owner=olga, kind="nginx", status=BulkStatus.DONE, written=1)
    exit_jobs.path_of(exit).write_text("map $host$uri $torii_302 { olga }")
    users = {"owner": olga, "other": otto, "staff": stan}
    return World(users, link, theirs, hush, job, exit, client=client)


@pytest.fixture(autouse=True)
def flags_on():
    with (
        override_flag("api_v1", active=True),
        override_flag("qr_codes", active=True),
        override_flag("link_analytics", active=True),
    ):
        yield


def shows(text: str):
    return lambda w, r: text in r.content.decode()


def streamed(text: str):
    return lambda w, r: r.streaming and text in b"".join(r.streaming_content).decode()


@dataclass(frozen=True)
class Row:
    """One entry point and action: `codes` for (anonymous, owner, other, staff); `happens`
    (world, response) → bool is true exactly for the actors in `yes`."""

    name: str
    do: Any
    codes: tuple[int, int, int, int]
    yes: tuple[str, ...] = ()
    happens: Any = None
    before: Any = None  # set the world up for this row


def disabled(w, r) -> bool:
    return not w.fresh().is_active


def enabled(w, r) -> bool:
    return w.fresh().is_active


def deleted(w, r) -> bool:
    return w.fresh().deleted_at is not None


def retitled(w, r) -> bool:
    return w.fresh().title == "Renamed"


def ruled(w, r) -> bool:
    return len(w.fresh().rules) == 1


def otto_disabled(w, r) -> bool:
    return not w.fresh(w.theirs).is_active


def links_disable_as_staff(w) -> None:
    from shortener import links

    links.disable(w.link, by=w.users["staff"])


def switch_off(w) -> None:
    Link.objects.filter(pk=w.link.pk).update(is_active=False)


EDIT = {"target": "https://example.org/moved", "title": "Renamed", "redirect_code": "302"}
RULE = {"rule-target": "https://mobile.example/", "rule-device": ["mobile"]}
BOTH = ("owner", "staff")
LOGIN = 302  # signed out on a page that needs an account: the sign-in page
OWN_ONLY = ("owner",)

ROWS = [
    # --- pages ---
    Row("page: detail", lambda w: w.client.get("/links/mine/"), (404, 200, 404, 200)),
    Row(
        "page: detail of another domain's slug@host",
        lambda w: w.client.get("/links/mine@ex.co/"),
        (404, 404, 200, 200),
    ),
    Row(
        "page: forged key of no link",
        lambda w: w.client.get("/links/mine@nowhere.example/"),
        (404, 404, 404, 404),
    ),
    Row("page: edit form", lambda w: w.client.get("/links/mine/edit/"), (404, 200, 404, 200)),
    Row(
        "page: edit",
        lambda w: w.client.post("/links/mine/edit/", EDIT),
        (404, 303, 404, 303),
        BOTH,
        retitled,
    ),
    Row(
        "page: disable",
        lambda w: w.client.post("/links/mine/disable/"),
        (404, 303, 404, 303),
        BOTH,
        disabled,
    ),
    Row(
        "page: enable",
        lambda w: w.client.post("/links/mine/enable/"),
        (404, 303, 404, 303),
        BOTH,
        enabled,
        before=switch_off,
    ),
    Row(
        "page: delete asks first",
        lambda w: w.client.get("/links/mine/delete/"),
        (404, 200, 404, 200),
    ),
    Row(
        "page: delete",
        lambda w: w.client.post("/links/mine/delete/"),
        (404, 303, 404, 303),
        BOTH,
        deleted,
    ),
    Row(
        "page: add a rule",
        lambda w: w.client.post("/links/mine/rules/", RULE),
        (404, 303, 404, 303),
        BOTH,
        ruled,
    ),
    Row("QR: svg", lambda w: w.client.get("/links/mine/qr.svg"), (404, 200, 404, 200)),
    Row("QR: png", lambda w: w.client.get("/links/mine/qr.png"), (404, 200, 404, 200)),
    Row("stats: page", lambda w: w.client.get("/links/mine/stats/"), (404, 200, 404, 200)),
    Row("site stats: page", lambda w: w.client.get("/stats/"), (404, 404, 404, 200)),
    Row("site stats: CSV", lambda w: w.client.get("/stats/days.csv"), (404, 404, 404, 200)),
    Row(
        "stats: visits CSV", lambda w: w.client.get("/links/mine/visits.csv"), (404, 200, 404, 200)
    ),
    Row(
        "page: the list",
        lambda w: w.client.get("/links/"),
        (LOGIN, 200, 200, 200),
        BOTH,
        shows("https://example.com/olga"),
    ),
    Row(
        "page: the list filtered by health",
        lambda w: w.client.get("/links/", {"health": "unchecked"}),
        (LOGIN, 200, 200, 200),
        BOTH,
        shows("https://example.com/olga"),
    ),
    Row(
        "page: recent links are one's own",
        lambda w: w.client.get("/"),
        (200, 200, 200, 200),
        OWN_ONLY,
        shows("https://example.com/olga"),
    ),
    Row(
        "page: bulk disable",
        lambda w: w.client.post("/links/bulk/", {"action": "disable", "slug": ["mine"]}),
        (LOGIN, 303, 303, 303),
        BOTH,
        disabled,
    ),
    Row(
        "page: bulk disable by another domain's key",
        lambda w: w.client.post("/links/bulk/", {"action": "disable", "slug": ["mine@ex.co"]}),
        (LOGIN, 303, 303, 303),
        ("other", "staff"),
        otto_disabled,
    ),
    Row(
        "page: export",
        lambda w: w.client.get("/links/export.jsonl"),
        (LOGIN, 200, 200, 200),
        BOTH,
        streamed("https://example.com/olga"),
    ),
    Row(
        "page: the way out (an nginx map)",
        lambda w: w.client.get("/links/redirects.nginx"),
        (LOGIN, 200, 200, 200),
        BOTH,
        shows("https://example.com/olga"),
    ),
    Row(
        "page: export holds tombstones",
        lambda w: w.client.get("/links/export.jsonl", {"state": "deleted"}),
        (LOGIN, 200, 200, 200),
        BOTH,
        streamed("https://example.com/olga"),
        before=lambda w: w.link.delete_softly(),
    ),
    Row(
        "page: an import job by its id",
        lambda w: w.client.get(f"/import/{w.job.pk}/"),
        (LOGIN, 200, 404, 404),  # a job is its owner's alone; staff read them in admin
    ),
    Row(
        "page: a redirects file written in the background",
        lambda w: w.client.get(f"/links/redirects/{w.exit.pk}/"),
        (LOGIN, 200, 404, 404),  # staff ask for their own
    ),
    Row(
        "page: its download",
        lambda w: w.client.get(f"/links/redirects/{w.exit.pk}/download"),
        (LOGIN, 200, 404, 404),
        ("owner",),
        streamed("{ olga }"),
    ),
    # --- htmx fragments ---
    Row(
        "htmx: edit form",
        lambda w: w.htmx("get", "/links/mine/edit/"),
        (404, 200, 404, 200),
        BOTH,
        shows('name="title"'),
    ),
    Row(
        "htmx: disable from the panel",
        lambda w: w.htmx("post", "/links/mine/disable/"),
        (404, 200, 404, 200),
        BOTH,
        disabled,
    ),
    Row(
        "htmx: disable a row of the list",
        lambda w: w.htmx("post", "/links/mine/disable/", {"view": "list"}, target="row"),
        (404, 200, 404, 200),
        BOTH,
        disabled,
    ),
    Row(
        "htmx: stats totals",
        lambda w: w.htmx("get", "/links/mine/stats/", target="stats-totals"),
        (404, 200, 404, 200),
    ),
    Row(
        "htmx: add a rule",
        lambda w: w.htmx("post", "/links/mine/rules/", RULE),
        (404, 200, 404, 200),
        BOTH,
        ruled,
    ),
    # --- preview (anyone may open it; the destination of a protected link is not for all)
    Row(
        "preview: a protected link's destination",
        lambda w: w.client.get("/hush+"),
        (200, 200, 200, 200),
        BOTH,
        shows("secret.example"),
    ),
    Row(
        "preview: an open link's destination",
        lambda w: w.client.get("/mine+"),
        (200, 200, 200, 200),
        ACTORS,
        shows("example.com/olga"),
    ),
    # --- API with each actor's own token (anonymous: none) ---
    Row("API: one link", lambda w: w.api("get", "/api/v1/links/mine"), (401, 200, 404, 200)),
    Row(
        "API: another domain's slug@host",
        lambda w: w.api("get", "/api/v1/links/mine@ex.co"),
        (401, 404, 200, 200),
    ),
    Row(
        "API: patch",
        lambda w: w.api("patch", "/api/v1/links/mine", {"title": "Renamed"}),
        (401, 200, 404, 200),
        BOTH,
        retitled,
    ),
    Row(
        "API: disable",
        lambda w: w.api("post", "/api/v1/links/mine/disable"),
        (401, 200, 404, 200),
        BOTH,
        disabled,
    ),
    Row(
        "API: enable",
        lambda w: w.api("post", "/api/v1/links/mine/enable"),
        (401, 200, 404, 200),
        BOTH,
        enabled,
        before=switch_off,
    ),
    Row(
        "API: delete",
        lambda w: w.api("delete", "/api/v1/links/mine"),
        (401, 204, 404, 204),
        BOTH,
        deleted,
    ),
    Row(
        "API: rules by patch",
        lambda w: w.api(
            "patch",
            "/api/v1/links/mine",
            {"rules": [{"target": "https://m.example/", "when": {"device": ["mobile"]}}]},
        ),
        (401, 200, 404, 200),
        BOTH,
        ruled,
    ),
    Row("API: stats", lambda w: w.api("get", "/api/v1/links/mine/stats"), (401, 200, 404, 200)),
    Row(
        "API: the list",
        lambda w: w.api("get", "/api/v1/links"),
        (401, 200, 200, 200),
        BOTH,
        shows("https://example.com/olga"),
    ),
    Row(
        "API: export",
        lambda w: w.api("get", "/api/v1/export"),
        (401, 200, 200, 200),
        BOTH,
        streamed("https://example.com/olga"),
    ),
    # --- webhooks: the source's owner is the actor (anonymous: a source has an owner) ---
    Row(
        "webhook: link.disable by slug",
        lambda w: webhook(w, "link.disable", slug="mine"),
        (202, 202, 202, 202),
        ("anonymous", *BOTH),  # "anonymous" here: a source of olga's, see webhook()
        disabled,
    ),
    Row(
        "webhook: link.disable by url",
        lambda w: webhook(w, "link.disable", url="https://example.com/olga"),
        (202, 202, 202, 202),
        ("anonymous", *BOTH),
        disabled,
    ),
    # --- admin: staff only; everyone else is sent to admin's sign-in ---
    Row(
        "admin: the links",
        lambda w: w.client.get("/admin/shortener/link/"),
        (302, 302, 302, 200),
        ("staff",),
        shows("https://example.com/olga"),
    ),
    Row(
        "admin: a link",
        lambda w: w.client.get(f"/admin/shortener/link/{w.link.pk}/change/"),
        (302, 302, 302, 200),
    ),
    Row(
        "admin: disable action",
        lambda w: w.client.post(
            "/admin/shortener/link/",
            {"action": "disable_links", "_selected_action": [w.link.pk]},
        ),
        (302, 302, 302, 302),
        ("staff",),
        disabled,
    ),
    # --- the audit log: staff read all; an owner their workspaces' (the link's is the owner's) ---
    Row(
        "page: audit log",
        lambda w: w.client.get("/audit/"),
        (404, 200, 200, 200),
        BOTH,
        shows("Disabled mine."),
        before=lambda w: links_disable_as_staff(w),
    ),
    Row(
        "page: audit log fragment",
        lambda w: w.htmx("get", "/audit/?kind=link", target="audit-entries"),
        (404, 200, 200, 200),
        BOTH,
        shows("Disabled mine."),
        before=lambda w: links_disable_as_staff(w),
    ),
    Row(
        "CSV: audit log",
        lambda w: w.client.get("/audit/export.csv"),
        (404, 200, 200, 200),
        BOTH,
        streamed("Disabled mine."),
        before=lambda w: links_disable_as_staff(w),
    ),
    # --- commands: --owner is the actor (anonymous: no --owner, the operator's all) ---
    Row(
        "command: export_links --owner",
        lambda w: export_command(w),
        (0, 0, 0, 0),
        ("anonymous", "owner"),  # --owner is that person's own links, staff's too
        lambda w, out: "https://example.com/olga" in out,
    ),
    # The operator's figures: no session, API token or staff flag opens them, only
    # METRICS_TOKEN (tests/test_metrics.py).
    Row(
        "metrics: GET /metrics with the actor's session and API token",
        lambda w: metrics_as(w),
        (401, 401, 401, 401),
        (),
        lambda w, r: b"torii_" in r.content,
    ),
]


def metrics_as(w: World):
    headers = {"Authorization": f"Bearer {w.api_token}"} if w.api_token else {}
    with override_settings(METRICS_TOKEN="the-operator-s-own-token"):
        return w.client.get("/metrics", headers=headers)


def webhook(w: World, event_type: str, **data):
    """A signed delivery from a source the actor owns (anonymous: olga's, since every
    source has an owner), run at once by the test task backend."""
    owner = w.user or w.users["owner"]
    source = make_source(f"src-{w.actor}", owner=owner)
    response = deliver(w.client, source, payload(event_type, **data))
    event = WebhookEvent.objects.get(delivery_id=response.json()["id"])
    assert event.status == EventStatus.PROCESSED, event.outcome  # told, even if nothing done
    return response


def export_command(w: World):
    out = io.StringIO()
    args = ["--format", "jsonl"]
    if w.user is not None:
        args += ["--owner", w.user.username]
    call_command("export_links", *args, stdout=out)
    return Ran(0, out.getvalue())


@dataclass
class Ran:
    """A command's answer, read like a response: its exit status and its output."""

    status_code: int
    output: str


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_each_actor_through_each_entry_point(world, row, actor):
    world.actor = actor
    if world.user is not None:
        world.client.force_login(world.user)
        world.api_token = tokens.issue(world.user, "access table")[1]
    if row.before:
        row.before(world)
    response = row.do(world)
    expected = row.codes[ACTORS.index(actor)]
    assert response.status_code == expected, getattr(response, "content", b"")[:300]
    if row.happens is not None:
        outcome = response.output if isinstance(response, Ran) else response
        assert row.happens(world, outcome) == (actor in row.yes)


def test_a_token_of_another_user_reaches_only_that_users_links(world):
    """otto's token on olga's key is a 404 and changes nothing, whoever otto claims to be."""
    raw = tokens.issue(world.users["other"], "otto's")[1]
    headers = {"Authorization": f"Bearer {raw}"}
    client = world.client
    assert client.get("/api/v1/links/mine", headers=headers).status_code == 404
    disable = client.post("/api/v1/links/mine/disable", content_type=JSON, headers=headers)
    assert disable.status_code == 404
    assert client.get("/api/v1/links/mine@ex.co", headers=headers).status_code == 200
    assert world.fresh().is_active


def test_a_forged_token_is_401_and_changes_nothing(world):
    headers = {"Authorization": "Bearer torii_forged"}
    response = world.client.post("/api/v1/links/mine/disable", content_type=JSON, headers=headers)
    assert response.status_code == 401 and world.fresh().is_active


def test_the_writes_refuse_what_access_refuses_whoever_forgot_to_ask(world):
    """The writes' own backstop: called directly with another person as `by`, each
    refuses and writes nothing; `SYSTEM` (the blocklist, an operator) may."""
    from shortener import links

    otto = world.users["other"]
    for write in (links.disable, links.delete):
        with pytest.raises(links.LinkRefused):
            write(world.link, by=otto)
    with pytest.raises(links.LinkRefused):
        links.edit(world.link, by=otto, title="Renamed")
    with pytest.raises(links.LinkRefused):
        links.disable(world.link, by=None)
    fresh = world.fresh()
    assert fresh.is_active and fresh.deleted_at is None and fresh.title != "Renamed"
    assert links.disable(world.link, by=links.SYSTEM)


def test_an_edit_records_who_made_it(world):
    from shortener import links

    stan = world.users["staff"]
    links.edit(world.link, by=stan, target="https://example.org/by-stan")
    change = world.fresh().destination_changes.order_by("-changed_at", "-pk").first()
    assert change.changed_by == stan


@pytest.mark.parametrize(
    ("actor", "answers"),
    [
        ("anonymous", (False, False, False, True, False)),
        ("owner", (True, True, True, True, False)),
        ("other", (False, False, False, True, False)),
        ("staff", (True, True, True, True, True)),
    ],
)
def test_the_module_answers_for_each_actor(world, actor, answers):
    """The functions themselves, for the next rule (Teams) to change in one place:
    (may see, may change, may read stats, may see a protected destination of an open
    link, may read the whole site's stats)."""
    user = world.users.get(actor)
    got = (
        access.may_see(user, world.link),
        access.may_change(user, world.link),
        access.may_read_stats(user, world.link),
        access.may_see_destination(user, world.link),
        access.may_read_site_stats(user),
    )
    assert got == answers
    assert access.may_see_destination(user, world.hush) == answers[0]
