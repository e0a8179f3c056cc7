"""The site itself as an app, so it can hold site-wide management commands and checks."""

from django.apps import AppConfig


class SiteConfig(AppConfig):
    name = "config"
    label = "site"
    verbose_name = "Torii site"

    def ready(self) -> None:
        from config.ratelimit import checks  # noqa: F401 - registers the system checks
