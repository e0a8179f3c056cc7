"""Known outages answer 503, not 500: the database or a shared cache that cannot be reached.

Django turns an exception raised anywhere in the stack (a view, the redirect middleware,
a session read) into the `handler500` view's answer. This is that view: for an error
that says a part of the site is away (the database's OperationalError or InterfaceError,
Redis's connection and timeout errors) it answers 503 with Retry-After in the form the
client reads (a branded page, an htmx message, problem+json under /api/ and /webhooks/,
config/ratelimit/responses.py), and logs one line without a traceback; the `throttle`
filter on this logger (config/log_filters.py, settings.LOGGING) keeps that to one line per
part and error per minute per process, with a count of the ones it held back. Any other
error is the 500 it was, traceback and all.
"""

import logging
import re
import sys

from django.contrib.auth.models import AnonymousUser
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.views import defaults
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from config.ratelimit.responses import refusal
from shortener.policy.slugs import SLUG_PATTERN

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
PARTS = (
    ((OperationalError, InterfaceError), "database"),
    ((RedisConnectionError, RedisTimeoutError), "cache"),
)
SLUG_PAGE_REASON = (
    "This short link is safe: it will lead where it leads again as soon as Torii is back."
)


def failed_part(error: BaseException | None) -> str | None:
    """The part of the site an error says is away, or None for any other error."""
    for types, part in PARTS:
        if isinstance(error, types):
            return part
    return None


def summary(error: BaseException) -> str:
    """The error's type and the first line of its message: enough to tell outages apart."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


SLUG_PATH = re.compile(rf"/{SLUG_PATTERN}\+?\Z")


def is_slug_path(path: str) -> bool:
    return SLUG_PATH.match(path) is not None


class NoMessages(list):
    """The messages of a page rendered through an outage: none to show, none to store.
    MessageMiddleware's response half calls `update()` on them when the failure came from
    inside it (the view's query, with the short domains known): a plain list has none."""

    def update(self, response: HttpResponse) -> list:
        return []


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a 503 for a known outage, Django's own 500 page for anything else."""
    error = sys.exc_info()[1]
    part = failed_part(error)
    if part is None:
        return defaults.server_error(request)
    # Throttled by (logger, message): the throttle key is the part and the error kind.
    logger.error(
        "The %s is unavailable (%s): answering 503 with Retry-After",
        part,
        summary(error),
        extra={"throttle_key": (part, type(error).__name__)},
    )
    # The page is rendered as a visitor without a session would see it: the user and the
    # messages live in the database that may be the part that is away.
    request.user = AnonymousUser()
    request._messages = NoMessages()
    detail = f"The {part} is briefly unavailable; retry in {RETRY_AFTER_SECONDS} seconds."
    # `outage`: base.html leaves out what asks the database (the flags' links).
    context = {
        "outage": True,
        "reason": SLUG_PAGE_REASON if is_slug_path(request.path_info) else "",
    }
    response = refusal(request, 503, "service-unavailable", RETRY_AFTER_SECONDS, detail, context)
    response._has_been_logged = True  # the line above, not Django's per-request one
    return response
