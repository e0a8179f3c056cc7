"""Who may do what to which link: the one place that decides it, for every entry point.

Pages, htmx fragments, QR, stats, the API, exports and their commands, webhook handlers,
admin and the writes all ask these functions; nothing else filters links by owner,
workspace or role, or looks at `is_staff`. No requests: the actor is a user, None
(nobody signed in) or `SYSTEM` (the site itself: the blocklist, an operator's command
without `--owner`).

The rule, in one paragraph: a link belongs to a workspace; its members see it (viewer,
editor, owner) and change it (editor, owner); only a workspace's owners manage its
members. Every user has a personal workspace of which they are the owner, so what
they make is theirs as before. Staff see and act on everyone's; nobody signed in sees
none. Membership is read from the database on every question (never remembered
between requests), so a removed member loses access at once, their API tokens too.
Lists are narrowed to one workspace (the current one) by the `workspace` argument; a
link's own page answers any of its workspace's members. A protected link's
destination shows on its preview only to whoever may see the link.
"""

from django.contrib.auth.models import AnonymousUser
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest
from waffle import flag_is_active

from shortener.audit.models import Entry, EntryQuerySet
from shortener.domains.models import Domain, DomainQuerySet
from shortener.links.models import Link, LinkQuerySet
from shortener.workspaces.models import Membership, Role, Workspace
from shortener.workspaces.personal import personal_workspace


class System:
    """The site acting on its own (blocking a domain, an operator's command): it may act
    on every link, and it is nobody when history records who."""

    is_authenticated = False
    is_staff = False
    pk = None

    def __repr__(self) -> str:
        return "SYSTEM"


SYSTEM = System()


def as_request(user) -> HttpRequest:
    """What waffle needs to decide a flag for `user`, outside any request."""
    request = HttpRequest()
    request.user = user if is_signed_in(user) else AnonymousUser()
    return request


def is_signed_in(actor) -> bool:
    return actor is not None and actor is not SYSTEM and actor.is_authenticated


def is_staff(actor) -> bool:
    return is_signed_in(actor) and actor.is_staff


def sees_everything(actor) -> bool:
    return actor is SYSTEM or is_staff(actor)


# Workspaces and roles

READS = frozenset(Role)  # every member reads
WRITES = frozenset({Role.OWNER, Role.EDITOR})
NOT_AN_EDITOR = (
    "You may only look at this workspace's links: ask one of its owners to make you an editor."
)


def role_in(actor, workspace) -> str | None:
    """`actor`'s role in `workspace` (an instance or a pk), None if not a member."""
    if not is_signed_in(actor) or workspace is None:
        return None
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    found = Membership.objects.filter(workspace_id=workspace_id, user_id=actor.pk)
    return found.values_list("role", flat=True).first()


def workspaces_of(actor) -> QuerySet:
    """The workspaces `actor` is a member of (the switcher's choices), personal first."""
    if not is_signed_in(actor):
        return Workspace.objects.none()
    mine = Workspace.objects.filter(memberships__user_id=actor.pk)
    return mine.order_by(F("personal_of").desc(nulls_last=True), "name", "pk")


def may_enter(actor, workspace) -> bool:
    """Whether `actor` may make `workspace` their current one and read its lists."""
    return workspace is not None and (
        sees_everything(actor) or role_in(actor, workspace) is not None
    )


def may_create_in(actor, workspace) -> bool:
    """Whether a link `actor` makes may belong to `workspace`: editors and owners (None is
    a link made signed out, or by the site, which belongs to no workspace)."""
    if workspace is None:
        return not is_signed_in(actor) or sees_everything(actor)
    return sees_everything(actor) or role_in(actor, workspace) in WRITES


def may_manage_members(actor, workspace) -> bool:
    """Invite, change roles, remove members: the workspace's owners (and staff)."""
    return workspace is not None and (
        sees_everything(actor) or role_in(actor, workspace) == Role.OWNER
    )


def current_workspace(actor, wanted=None):
    """The workspace `actor` works in: `wanted` (a pk) if they may enter it, else their
    personal one. Staff who want none work across all workspaces (None), as before."""
    if not is_signed_in(actor):
        return None
    if wanted not in (None, ""):
        try:
            found = Workspace.objects.filter(pk=int(wanted)).first()
        except (TypeError, ValueError):
            found = None
        if found is not None and may_enter(actor, found):
            return found
    if is_staff(actor) and wanted in (None, ""):
        return None
    return personal_workspace(actor)


def home_workspace(actor, owner):
    """Where a link made by `actor` for `owner` goes when no workspace is named: the
    owner's personal workspace (none for a link made signed out)."""
    return personal_workspace(owner) if is_signed_in(owner) else None


def member_links(actor, workspace=None) -> LinkQuerySet:
    """The links of every workspace `actor` belongs to (or of that one `workspace`),
    tombstones included. A link of theirs in no workspace (made before workspaces and
    given to them by an update, say) is theirs alone, as before workspaces, and shows in
    their personal workspace."""
    mine = Membership.objects.filter(user_id=actor.pk)
    orphans = Q(workspace__isnull=True, owner_id=actor.pk)
    if workspace is None:
        return Link.objects.filter(Q(workspace_id__in=mine.values("workspace_id")) | orphans)
    if not isinstance(workspace, Workspace):
        workspace = Workspace.objects.filter(pk=workspace).first()
        if workspace is None:
            return Link.objects.none()
    member = mine.filter(workspace_id=workspace.pk)
    if workspace.personal_of_id == actor.pk:
        return Link.objects.filter(
            Q(workspace_id=workspace.pk, workspace_id__in=member.values("workspace_id")) | orphans
        )
    return Link.objects.filter(
        workspace_id=workspace.pk, workspace_id__in=member.values("workspace_id")
    )


def is_orphan_of(actor, link: Link) -> bool:
    """A link in no workspace belongs to its owner alone (see `member_links`)."""
    return link.workspace_id is None and is_signed_in(actor) and link.owner_id == actor.pk


# Creating


# Staff put a person in this group from the review queue (shortener/safety/) to take away
# their right to create links; removing them from it (admin) gives it back.
SUSPENDED_GROUP = "Suspended from creating links"
SUSPENDED = "This site's staff have suspended your right to create links."


def is_suspended(actor) -> bool:
    return is_signed_in(actor) and actor.groups.filter(name=SUSPENDED_GROUP).exists()


def may_create(actor) -> bool:
    if is_suspended(actor):
        return False
    return is_signed_in(actor) or flag_is_active(as_request(actor), "anonymous_links")


def may_use_custom_slugs(actor) -> bool:
    return flag_is_active(as_request(actor), "custom_slugs")


def usable_domains(actor, workspace=None) -> DomainQuerySet:
    """The active domains `actor` may put links on (in `workspace`, when the link goes to
    one), the default first (Domain's ordering): those open to everyone (restricted to no
    group and no workspace), those of the actor's groups, those of the workspace, and
    every one for staff (a restriction is for people, not for staff)."""
    active = Domain.objects.filter(is_active=True)
    if sees_everything(actor):
        return active
    open_to = Q(groups__isnull=True, workspaces__isnull=True)
    if is_signed_in(actor):
        open_to |= Q(groups__in=actor.groups.all())
    if workspace is not None:
        open_to |= Q(workspaces=workspace)
    return active.filter(open_to).distinct()


def may_use_domain(actor, domain: Domain, workspace=None) -> bool:
    return usable_domains(actor, workspace).filter(pk=domain.pk).exists()


def may_give_to(actor, owner) -> bool:
    """Whether `actor` may make or edit a link so that it belongs to `owner`: everyone
    may to themselves (nobody, signed out); only staff to someone else (admin)."""
    return owner == (actor if is_signed_in(actor) else None) or sees_everything(actor)


# Which links


def exportable(actor, workspace=None) -> LinkQuerySet:
    """Every link `actor` may see, tombstones included: what an export holds. With a
    `workspace`, only that workspace's (none if `actor` may not enter it)."""
    if sees_everything(actor):
        found = Link.objects.all()
        return found if workspace is None else found.filter(workspace=workspace)
    if not is_signed_in(actor):
        return Link.objects.none()
    return member_links(actor, workspace)


def visible_to(actor, workspace=None) -> LinkQuerySet:
    """The live links `actor` may see (the list, the API, bulk actions, webhooks), of
    one `workspace` when it is given."""
    return exportable(actor, workspace).live()


def own(actor) -> LinkQuerySet:
    """The links `actor` made themselves, tombstones included, whoever else may see
    them: the home page's recent links (live()), a command's `--owner`."""
    if not is_signed_in(actor):
        return Link.objects.none()
    return Link.objects.filter(owner=actor)


def administrable(actor) -> LinkQuerySet:
    """The links admin lists and acts on, tombstones included: staff only."""
    return Link.objects.all() if is_staff(actor) else Link.objects.none()


def their(actor, rows: QuerySet) -> QuerySet:
    """Rows of another model that belong to a person (bulk jobs): the actor's own."""
    if not is_signed_in(actor):
        return rows.none()
    return rows.filter(owner=actor)


def stand_in():
    """The person an operator's import acts as when it names nobody: the first active
    superuser (None when there is none)."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_superuser=True, is_active=True)
    return users.order_by("pk").first()


def split_key(key: str) -> tuple[str, str | None]:
    """A link's key as pages and the API name it: `slug` (on the site's own host) or
    `slug@host`."""
    slug, _, host = key.partition("@")
    return slug, (host or None)


def get_visible(actor, key: str) -> Link:
    """The live link of this key if `actor` may see it; Link.DoesNotExist otherwise
    (strangers learn nothing, not even that it exists)."""
    from shortener.domains import served

    slug, host = split_key(key)
    found = visible_to(actor).select_related("domain")
    if host is None:
        return found.get(slug=slug, domain_id=served.site_pk())
    return found.get(slug=slug, domain__host=host)


# One link


def may_see(actor, link: Link) -> bool:
    """Its page, its htmx fragments, its QR code, its API representation: any member of
    its workspace."""
    if sees_everything(actor) or is_orphan_of(actor, link):
        return True
    return role_in(actor, link.workspace_id) in READS


def may_change(actor, link: Link) -> bool:
    """Edit its fields and its redirect rules: its workspace's editors and owners."""
    if sees_everything(actor) or is_orphan_of(actor, link):
        return True
    return role_in(actor, link.workspace_id) in WRITES


def may_disable(actor, link: Link) -> bool:
    return may_change(actor, link)


def may_enable(actor, link: Link) -> bool:
    return may_change(actor, link)


def may_delete(actor, link: Link) -> bool:
    return may_change(actor, link)


def may_receive_events(actor, link: Link) -> bool:
    """Whether `actor`'s outbound webhook endpoints hear of the link's changes (its
    deletion too): whoever may see it."""
    return may_see(actor, link)


def may_quarantine(actor, link: Link) -> bool:
    """Put a link aside behind the warning page: staff, or the site itself when enough
    distinct visitors reported it. Never its owner, who is the one being reported."""
    return sees_everything(actor) and link.deleted_at is None


def may_lift(actor, link: Link) -> bool:
    """Lift a quarantine or let visitors continue past its warning: staff only."""
    return sees_everything(actor) and link.deleted_at is None


def may_review(actor) -> bool:
    """The reports queue and its decisions (dismiss, quarantine, disable, block, suspend)."""
    return is_staff(actor)


def may_suspend(actor, person) -> bool:
    """Take away someone's right to create links: staff, never of staff (or themselves)."""
    return is_staff(actor) and person is not None and not person.is_staff


def may_export(actor, link: Link) -> bool:
    """The same links as `exportable()`, one at a time."""
    return may_see(actor, link)


def may_read_stats(actor, link: Link) -> bool:
    """Its stats page, its visits CSV and the API's stats."""
    return may_see(actor, link)


def may_read_site_stats(actor) -> bool:
    """The whole site's stats (every link's clicks, the orphan visits) and their CSV:
    staff. A workspace's owners will read their workspace's here too, as one more
    function taking (actor, workspace)."""
    return is_staff(actor)


def may_see_destination(actor, link: Link) -> bool:
    """Whether the preview page says where the link leads: always for an open link; for
    a protected one only to whoever may see the link (the password keeps it from the
    rest)."""
    return not link.is_protected or may_see(actor, link)


# The audit log


def may_read_audit(actor) -> bool:
    """The audit page and its CSV: staff, and everyone signed in, who owns at least their
    personal workspace (they read what happened in the workspaces they own)."""
    return is_signed_in(actor)


def readable_audit(actor) -> EntryQuerySet:
    """The audit entries `actor` may read: all for staff; an owner's workspaces' for
    anyone else (asked on every request: an owner made editor reads no more of it)."""
    if is_staff(actor):
        return Entry.objects.all()
    if not is_signed_in(actor):
        return Entry.objects.none()
    owned = Membership.objects.filter(user=actor, role=Role.OWNER).values("workspace_id")
    return Entry.objects.filter(workspace_id__in=owned)


def recorded_as(actor):
    """Who history records for a change by `actor`: the person, or nobody."""
    return actor if is_signed_in(actor) else None
