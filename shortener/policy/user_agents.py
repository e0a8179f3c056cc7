"""A user agent as stats and rules see it: browser and OS families, device class, bot (pure)."""

from functools import lru_cache

import ua_parser

BOT_WORDS = ("bot", "crawl", "spider", "slurp", "curl", "wget", "python-requests", "headless")


@lru_cache(maxsize=4096)
def classify(user_agent: str) -> tuple[str, str, str, bool]:
    """(browser family, OS family, device class, is bot) for a user-agent string."""
    if not user_agent:
        return ("", "", "other", False)
    try:
        result = ua_parser.parse(user_agent)
    except UnicodeError:  # a lone surrogate (no WSGI server sends one): not a browser we know
        return ("Other", "Other", "other", False)
    browser = result.user_agent.family if result.user_agent else "Other"
    system = result.os.family if result.os else "Other"
    family = result.device.family if result.device else ""
    lowered = user_agent.lower()
    is_bot = family == "Spider" or any(word in lowered for word in BOT_WORDS)
    if is_bot:
        device = "bot"
    elif (
        family == "iPad" or "tablet" in lowered or (system == "Android" and "mobile" not in lowered)
    ):
        device = "tablet"
    elif system in {"iOS", "Android"} or "mobile" in lowered:
        device = "mobile"
    elif system in {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora"}:
        device = "desktop"
    else:
        device = "other"
    return (_clean(browser)[:50], _clean(system)[:50], device, is_bot)


def _clean(text: str) -> str:
    return "".join(ch for ch in text if ch.isprintable())
