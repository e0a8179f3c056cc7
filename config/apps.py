"""The site itself as an app, so it can hold site-wide management commands and checks."""

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

HOST_MIDDLEWARE = "shortener.domains.served.HostMiddleware"
# Outer middleware that reads no Host: it times and counts answers, Host checked or not.
READS_NO_HOST = (
    "config.access_log.AccessLogMiddleware",
    "config.metrics.counting.MetricsMiddleware",
)


class SiteConfig(AppConfig):
    name = "config"
    label = "site"
    verbose_name = "Torii site"

    def ready(self) -> None:
        from config.ratelimit import checks as ratelimit_checks  # noqa: F401 - registers them

        checks.register(check_host_middleware, checks.Tags.security)


def check_host_middleware(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """ALLOWED_HOSTS is "*" and the Host is checked by HostMiddleware: anywhere but first
    in MIDDLEWARE, whatever runs before it would see an unchecked Host."""
    first = next((name for name in settings.MIDDLEWARE if name not in READS_NO_HOST), None)
    if "*" not in settings.ALLOWED_HOSTS or first == HOST_MIDDLEWARE:
        return []
    return [
        checks.Error(
            f'ALLOWED_HOSTS allows "*" but {HOST_MIDDLEWARE} is not first in MIDDLEWARE '
            "(after what reads no Host): nothing would check the Host header.",
            id="site.E001",
        )
    ]
