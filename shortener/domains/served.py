"""Which short domain a request is for, and what a short domain answers.

The active domains are read in one query and kept per process for DOMAINS_TTL seconds
(a change in admin clears this process's copy at once, the others' within the TTL),
so the hot path and the host check ask a dict, not the database.

The Host is checked here, by `HostMiddleware`, first in the stack: Django's ALLOWED_HOSTS
is "*" (its documented way to check the Host oneself, in the first middleware), and a
host must be an active domain or match CONFIGURED_HOSTS (the ALLOWED_HOSTS variable,
with Django's own matching: `.example.com`, `*`) or get Django's 400 and its one log
line. A configured host that is no domain serves the site's own domain, as every host
did before there were domains.
"""

import logging
import re
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import DatabaseError
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.request import validate_host

from hypermedia.context import UNKNOWN, context_of
from shortener.domains.models import Domain
from shortener.policy.slugs import SLUG_PATTERN

DOMAINS_TTL = 2.0
# All a short domain answers besides its root: /<slug>, /<slug>+, /healthz, /robots.txt.
SHORT_DOMAIN_PATH = re.compile(
    rf"/(?:{SLUG_PATTERN}(?:\+|\+report|\+continue)?|healthz|robots\.txt)\Z"
)  # a link, its preview, its report and quarantine pages
SLUG_PATH = re.compile(rf"/{SLUG_PATTERN}\+?\Z")
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Served:
    """What a request needs to know about its domain."""

    pk: int
    host: str
    is_site: bool
    origin: str  # Domain.origin, read with the table: scheme://host[:port]
    root_redirect: str
    unknown_redirect: str


@dataclass(frozen=True, slots=True)
class Table:
    active: dict[str, Served]
    inactive: frozenset[str]
    site: Served | None
    read_at: float


_table = Table({}, frozenset(), None, float("-inf"))
_lock = threading.Lock()


def read_table() -> Table:
    active, inactive, site = {}, set(), None
    for domain in Domain.objects.all():
        if not domain.is_active:
            inactive.add(domain.host)
            continue
        served = Served(
            domain.pk,
            domain.host,
            domain.is_site,
            domain.origin,
            domain.root_redirect,
            domain.unknown_redirect,
        )
        active[domain.host] = served
        if served.is_site:
            site = served
    return Table(active, frozenset(inactive), site, time.monotonic())


def table() -> Table:
    global _table
    current = _table
    if time.monotonic() - current.read_at < DOMAINS_TTL:
        return current
    with _lock:
        if _table is not current:
            return _table
        try:
            _table = read_table()
        except DatabaseError:
            # The database is away: keep serving what was known (it fails the links anyway).
            logger.warning("Could not read the short domains; keeping the last known ones")
            _table = Table(current.active, current.inactive, current.site, time.monotonic())
        return _table


def forget_domains(**kwargs) -> None:
    global _table
    with _lock:
        _table = Table({}, frozenset(), None, float("-inf"))


for signal in (post_save, post_delete):
    signal.connect(forget_domains, sender=Domain, dispatch_uid=f"forget-domains-{signal}")
m2m_changed.connect(forget_domains, sender=Domain.groups.through, dispatch_uid="forget-domains-m2m")


def site_pk() -> int:
    site = table().site
    if site is not None:
        return site.pk
    return Domain.objects.site().pk  # SITE_HOST has no row yet: made now (and cached next)


def of_request(request: HttpRequest) -> Served | None:
    """The request's domain, None for a host that is an inactive domain. Raises
    DisallowedHost (a 400) for a host that is neither an active domain nor configured.
    Worked out once, by HostMiddleware, and kept on the request's context."""
    context = context_of(request)
    served = context.domain
    if served is not UNKNOWN:
        return served
    name = context.host or checked_host(request)
    current = table()
    served = current.active.get(name)
    if served is None and name not in current.inactive:
        served = current.site or served_site()
    context.domain = served
    return served


def checked_host(request: HttpRequest) -> str:
    """The request's host name, once it is a configured host or an active domain; else
    DisallowedHost. A configured host needs no domain table (no query: whitenoise's
    files are answered below HostMiddleware without the database)."""
    # get_host() checks the syntax (and X-Forwarded-Host only behind trusted proxies);
    # its ALLOWED_HOSTS is "*": the name is checked here.
    host = request.get_host()
    name = host_name(host)
    if not validate_host(name, settings.CONFIGURED_HOSTS) and name not in table().active:
        raise DisallowedHost(
            f"Invalid HTTP_HOST header: {host!r}. You may need to add {name!r} to "
            "ALLOWED_HOSTS, or make it an active domain."
        )
    context_of(request).host = name
    return name


def host_name(host: str) -> str:
    """A Host that Django has validated, as the domain table holds it: lower case, no
    port, no trailing dot (what split_domain_port gives, without its regex again)."""
    host = host.lower()
    if not host.endswith("]") and ":" in host:  # a port; an IPv6 literal ends in ]
        host = host.rpartition(":")[0]
    return host.removesuffix(".")


def served_site() -> Served:
    site = Domain.objects.site()
    forget_domains()
    return Served(site.pk, site.host, True, site.origin, "", site.unknown_redirect)


class HostMiddleware:
    """The Host check, first in MIDDLEWARE: an active domain, or a configured host, or
    DisallowedHost, which Django answers with its 400 and logs as one line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        checked_host(request)
        return self.get_response(request)


class DomainMiddleware:
    """Short domains answer only /, /healthz, /robots.txt, /<slug> and /<slug>+; the rest
    there is a 404. A domain's root and unknown slugs go where staff configured."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        domain = of_request(request)
        path = request.path_info
        if domain is None:  # an inactive domain that is also configured: it serves nothing
            if path != "/healthz":
                raise Http404
            return self.get_response(request)
        if not domain.is_site:
            if path == "/":
                site = current_site()
                return HttpResponseRedirect(domain.root_redirect or f"{site.origin}/")
            if not SHORT_DOMAIN_PATH.match(path):
                raise Http404
        response = self.get_response(request)
        if (
            response.status_code == 404
            and domain.unknown_redirect
            and request.method in ("GET", "HEAD")
            and SLUG_PATH.match(path)
        ):
            return HttpResponseRedirect(domain.unknown_redirect)
        return response


def current_site() -> Served:
    return table().site or served_site()


def site_links(request: HttpRequest) -> dict[str, str]:
    """A template context processor: `site_root`, what the site's own links start with.
    Empty on the site's host; on a short domain, which answers only its links, the
    site's address, so a 404 page's "Sign in" leads to the site rather than to a 404.
    Only a request whose domain is known already (DomainMiddleware, the redirect) gets
    one: a page rendered before that, or while the database is away, stays relative."""
    domain = context_of(request).domain
    if domain is None or domain is UNKNOWN or domain.is_site:
        return {"site_root": ""}
    site = table().site
    return {"site_root": site.origin if site is not None else ""}
