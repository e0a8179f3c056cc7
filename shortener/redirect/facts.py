"""The facts a smart link's rules read, from the request's WSGI environ."""

from shortener.policy.devices import device_facts
from shortener.policy.languages import preferred_language
from shortener.policy.redirect_rules import query_pairs
from shortener.redirect.decision import Facts
from shortener.visits.countries import country_of


def facts_of(meta, now: float, needs: frozenset[str], country: str | None = None) -> Facts:
    """The facts `needs` asks for, from WSGI META; the rest stays unknown (no work)."""
    device = system = language = None
    if "device" in needs:
        device, system = device_facts(meta.get("HTTP_USER_AGENT", "")[:512])
    if "language" in needs:
        language = preferred_language(meta.get("HTTP_ACCEPT_LANGUAGE", ""))
    if "country" in needs and country is None:
        country = country_of(meta)
    query = meta.get("QUERY_STRING", "") if "query" in needs else ""
    return Facts(
        now=now,
        device=device,
        os=system,
        language=language,
        country=country or "",
        query=query,
        query_pairs=query_pairs(query) if query else frozenset(),
    )
