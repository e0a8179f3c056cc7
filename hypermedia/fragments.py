"""Fragment or page: the one place that decides, and the Vary header that goes with it."""

from functools import wraps

from django.http import HttpRequest
from django.utils.cache import patch_vary_headers
from django_htmx.middleware import HtmxDetails


def wants_fragment(request: HttpRequest) -> bool:
    """An htmx request that swaps part of the page (not boosted, not a history restore).

    Works above HtmxMiddleware too (the early rate limiter answers there).
    """
    htmx = getattr(request, "htmx", None) or HtmxDetails(request)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def varies_on_htmx(view):
    """For views whose answer depends on HX-Request / HX-Target."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response

    return wrapped
