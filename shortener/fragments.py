"""Fragment or page: the one place that decides, and the Vary header that goes with it."""

from functools import wraps

from django.http import HttpRequest
from django.utils.cache import patch_vary_headers


def wants_fragment(request: HttpRequest) -> bool:
    """An htmx request that swaps part of the page (not boosted, not a history restore)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def varies_on_htmx(view):
    """For views whose answer depends on HX-Request / HX-Target."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response

    return wrapped
