"""Who may see, create and change which links. No requests: the actor is a user or None."""

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from waffle import flag_is_active

from shortener.domains.models import Domain
from shortener.links.models import Link, LinkQuerySet


def as_request(user) -> HttpRequest:
    """What waffle needs to decide a flag for `user`, outside any request."""
    request = HttpRequest()
    request.user = user if user is not None else AnonymousUser()
    return request


def is_signed_in(user) -> bool:
    return user is not None and user.is_authenticated


def may_create(user) -> bool:
    return is_signed_in(user) or flag_is_active(as_request(user), "anonymous_links")


def may_use_custom_slugs(user) -> bool:
    return flag_is_active(as_request(user), "custom_slugs")


def visible_to(user) -> LinkQuerySet:
    """The live links `user` may see and change: their own; staff see everyone's."""
    if not is_signed_in(user):
        return Link.objects.none()
    return Link.objects.live().owned_by(user)


def usable_domains(user):
    """The domains `user` may put links on, the default first (Domain's ordering)."""
    return Domain.objects.usable_by(user if is_signed_in(user) else None)


def split_key(key: str) -> tuple[str, str | None]:
    """A link's key as pages and the API name it: `slug` (on the site's own host) or
    `slug@host`."""
    slug, _, host = key.partition("@")
    return slug, (host or None)


def get_visible(user, key: str) -> Link:
    """The link if `user` may see it; Link.DoesNotExist otherwise (strangers learn nothing)."""
    from shortener.domains import served

    slug, host = split_key(key)
    found = visible_to(user).select_related("domain")
    if host is None:
        return found.get(slug=slug, domain_id=served.site_pk())
    return found.get(slug=slug, domain__host=host)
