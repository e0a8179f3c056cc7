"""Liveness and readiness, for load balancers, orchestrators and people.

- GET /livez: the process answers. It touches no database, cache or disk, so a
  database outage never makes an orchestrator restart web processes that would only
  come back to the same outage (the container's HEALTHCHECK asks this one).
- GET /healthz (and its alias /readyz): can this process serve? 200 when the database,
  the shared caches (`default`, `counters`) and the visit journal's directory answer;
  503 JSON naming the parts that failed otherwise (what a load balancer asks).

`HealthMiddleware` answers these paths near the top of the stack, before the redirect
middleware, the domain middleware and sessions: no health path is ever looked up as a
slug, and nothing in front of these views can fail for the database first.
"""

import logging
import os
import uuid

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

# Throttled (settings.LOGGING): a probe every few seconds says an outage once a minute.
logger = logging.getLogger(__name__)


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def cache_answers(alias: str) -> bool:
    key = f"healthz:{uuid.uuid4().hex}"
    try:
        cache = caches[alias]  # a thread's first use opens it: diskcache writes its settings
        cache.set(key, "1", timeout=5)
        answered = cache.get(key) == "1"
        cache.delete(key)
        return answered
    except Exception:
        return False


def journal_answers() -> bool:
    """The visit journal's directory takes a byte (a read-only or full volume does not):
    without it a killed process would lose the visits it buffered. Off: nothing to ask."""
    directory = settings.VISIT_JOURNAL_DIR
    if directory is None:
        return True
    probe = directory / f".healthz-{uuid.uuid4().hex}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"1")
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
    except OSError:
        return False
    return True


CHECKS = {
    "database": database_answers,
    "cache": lambda: cache_answers("default"),
    "counters": lambda: cache_answers("counters"),
    "journal": journal_answers,
}


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    failed = [name for name, answers in CHECKS.items() if not answers()]
    if failed:
        logger.error("Not ready: %s failed the health check", ", ".join(failed))
        response = JsonResponse({"status": "unavailable", "failed": failed}, status=503)
        response._has_been_logged = True  # the line above, not Django's one per probe
        return response
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def livez(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


VIEWS = {"/livez": livez, "/healthz": healthz, "/readyz": healthz}


class HealthMiddleware:
    """Answer the health paths before anything that reads a link, a domain or a session.
    Readiness still checks the Host header (a 400 for a host that is not ours, which may
    ask the domain table); liveness says nothing about the site and answers any host, so
    it never waits on the database."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = VIEWS.get(request.path_info)
        if view is None or request.method not in ("GET", "HEAD"):
            # Other methods go the whole way, to the 405 page with the site's look.
            return self.get_response(request)
        if view is not livez:
            request.get_host()
        return view(request)
