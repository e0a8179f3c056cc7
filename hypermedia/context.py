"""What Torii learns about a request, on one typed object: `request.torii`, as
django-htmx gives `request.htmx`.

Each middleware or view that works a fact out writes it here once, and whoever needs
it later reads it here, instead of each setting an attribute of its own on the request
(or a key in META). It lives in `hypermedia`, which imports none of Torii, so every
layer may import it: config's rate limiter writes the client address and the buckets,
shortener's rooms the domain, the API token and the redirect's answer, and neither
imports the other. The values are Torii's own types, named in the comments, not
imported: a type import would be an import like any other for the contracts.

`context_of(request)` makes it on first use (the first middleware that needs it, or a
test's RequestFactory request), so no middleware has to run for a function to work.
"""

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest


class _Unknown:
    """Not worked out yet, where None is an answer (no token, an inactive domain)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


@dataclass(slots=True, eq=False)
class RequestContext:
    # The client's address as the rate limiter chose it (TRUSTED_PROXY_COUNT
    # considered; config/ratelimit/groups.address_of). Empty until it ran: visits then
    # fall back to REMOTE_ADDR.
    client_address: str = ""
    # The Host's name (lower case, no port), once HostMiddleware has checked it.
    host: str = ""
    # shortener.domains.served.Served, or None for an inactive domain (of_request).
    domain: Any = UNKNOWN
    # shortener.tokens.models.ApiToken of the bearer token, or None (tokens.from_request).
    api_token: Any = UNKNOWN
    # Why the redirect middleware passed a live link on to the views: a
    # shortener.redirect.claims.Claim that was not TAKEN, or the decision's
    # AskPassword / Gone. None: it did not look at this request.
    claim: Any = None
    answer: Any = None
    # config.ratelimit.middleware.ViewLimits, the buckets a view spends itself; set once
    # the request has been counted (None: not counted, or rate limiting is off for it).
    rate_limits: Any = None
    # The ResolverMatch the rate limiter resolved the path to (None: no route).
    route: Any = UNKNOWN


# The WSGI environ key under which the redirect fast path (config/fast_redirects.py) hands
# the context it worked out to Django when it lets a request through: what it counted and
# looked up is not done twice. A dotted name, as PEP 3333 asks of middleware's keys.
ENVIRON_KEY = "torii.context"


def context_of(request: HttpRequest) -> RequestContext:
    """The request's context, made on first use (or the fast path's, passed on)."""
    context = getattr(request, "torii", None)
    if context is None:
        context = request.torii = request.META.get(ENVIRON_KEY) or RequestContext()
    return context
