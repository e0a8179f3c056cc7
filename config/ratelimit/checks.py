"""System checks: rate-limit settings that are edited in code rather than the environment."""

from django.conf import settings
from django.core.checks import Error, register

from config.ratelimit.rates import GROUPS, Rate

MIDDLEWARE = "config.ratelimit.middleware.RateLimitMiddleware"
AFTER = (
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
)


@register()
def rate_limit_settings(app_configs, **kwargs) -> list[Error]:
    errors = []
    rates = getattr(settings, "RATE_LIMITS", {})
    for group in GROUPS:
        if group not in rates or not (rates[group] is None or isinstance(rates[group], Rate)):
            errors.append(
                Error(
                    f"RATE_LIMITS[{group!r}] must be a Rate or None (off).",
                    hint="Set it with config.environment.rate('RATE_LIMIT_…', '600/m').",
                    id="ratelimit.E001",
                )
            )
    for url_name, group in getattr(settings, "RATE_LIMIT_GROUPS", {}).items():
        if group not in GROUPS:
            errors.append(
                Error(
                    f"RATE_LIMIT_GROUPS[{url_name!r}] is {group!r}, not a group.",
                    hint=f"Use one of {', '.join(GROUPS)}.",
                    id="ratelimit.E002",
                )
            )
    stack = list(settings.MIDDLEWARE)
    if MIDDLEWARE in stack:
        missing = [name for name in AFTER if name not in stack[: stack.index(MIDDLEWARE)]]
        if missing:
            errors.append(
                Error(
                    f"{MIDDLEWARE} must come after {', '.join(missing)}.",
                    hint="It keys on request.user and answers htmx requests with a fragment.",
                    id="ratelimit.E003",
                )
            )
    return errors
