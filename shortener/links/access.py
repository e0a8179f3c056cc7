"""Who may do what to which link: the one place that decides it, for every entry point.

Pages, htmx fragments, QR, stats, the API, exports and their commands, webhook handlers,
admin and the writes all ask these functions; nothing else filters links by owner or
looks at `is_staff`. No requests: the actor is a user, None (nobody signed in) or
`SYSTEM` (the site itself: the blocklist, an operator's command without `--owner`).

Today's rule, in one paragraph: a signed-in person sees and acts on their own links;
staff see and act on everyone's; nobody signed in sees none. A protected link's
destination shows on its preview only to whoever may see the link. Teams will change
these function bodies only: each takes (actor, link) or (actor) and answers a boolean
or a queryset, so a workspace role becomes one more condition here.
"""

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from waffle import flag_is_active

from shortener.domains.models import Domain, DomainQuerySet
from shortener.links.models import Link, LinkQuerySet


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


def usable_domains(actor) -> DomainQuerySet:
    """The active domains `actor` may put links on, the default first (Domain's ordering):
    those open to everyone, those of the actor's groups, and every one for staff (a
    restriction is for people, not for staff)."""
    active = Domain.objects.filter(is_active=True)
    if sees_everything(actor):
        return active
    open_to = Q(groups__isnull=True)
    if is_signed_in(actor):
        open_to |= Q(groups__in=actor.groups.all())
    return active.filter(open_to).distinct()


def may_use_domain(actor, domain: Domain) -> bool:
    return usable_domains(actor).filter(pk=domain.pk).exists()


def may_give_to(actor, owner) -> bool:
    """Whether `actor` may make or edit a link so that it belongs to `owner`: everyone
    may to themselves (nobody, signed out); only staff to someone else (admin)."""
    return owner == (actor if is_signed_in(actor) else None) or sees_everything(actor)


# Which links


def exportable(actor) -> LinkQuerySet:
    """Every link `actor` may see, tombstones included: what an export holds."""
    if sees_everything(actor):
        return Link.objects.all()
    if not is_signed_in(actor):
        return Link.objects.none()
    return Link.objects.filter(owner=actor)


def visible_to(actor) -> LinkQuerySet:
    """The live links `actor` may see (the list, the API, bulk actions, webhooks)."""
    return exportable(actor).live()


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
    """Its page, its htmx fragments, its QR code, its API representation."""
    if sees_everything(actor):
        return True
    return is_signed_in(actor) and link.owner_id == actor.pk


def may_change(actor, link: Link) -> bool:
    """Edit its fields and its redirect rules."""
    return may_see(actor, link)


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


def recorded_as(actor):
    """Who history records for a change by `actor`: the person, or nobody."""
    return actor if is_signed_in(actor) else None
