"""Who may see, create and change which links. No requests: the actor is a user or None."""

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from waffle import flag_is_active

from shortener.models import Link, LinkQuerySet


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


def get_visible(user, slug: str) -> Link:
    """The link if `user` may see it; Link.DoesNotExist otherwise (strangers learn nothing)."""
    return visible_to(user).get(slug=slug)
