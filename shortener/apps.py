from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate, post_save


class ShortenerConfig(AppConfig):
    name = "shortener"
    verbose_name = "Short links"

    def ready(self) -> None:
        from shortener.audit import flag_changes, watching
        from shortener.domains.models import Domain
        from shortener.events import outbox
        from shortener.events.models import WebhookSource
        from shortener.links.signals import links_changed
        from shortener.tokens.models import ApiToken
        from shortener.workspaces.personal import on_user_saved

        post_migrate.connect(schedule_backups, sender=self)
        # The outbox of outbound webhooks hears every link write, in its transaction.
        links_changed.connect(outbox.record, dispatch_uid="outbound-webhooks-outbox")
        # The audit log: what admin, commands and pages save directly, and the flags' trail.
        watching.watch(Domain, watching.DOMAIN)
        watching.watch(ApiToken, watching.TOKEN)
        watching.watch(WebhookSource, watching.WEBHOOK_SOURCE)
        flag_changes.connect()
        # Every new account gets its personal workspace (owner), in the same transaction.
        post_save.connect(
            on_user_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="personal-workspace"
        )


def schedule_backups(**kwargs) -> None:
    """Every migrate (each `make run` start) queues the daily backup, the daily prune of
    old visits, the outbound webhooks' sweep, the daily blocklist feeds and the
    link-health run when none is waiting."""
    from shortener.events import delivery
    from shortener.portability import schedule
    from shortener.safety import feeds, health
    from shortener.visits import retention

    schedule.schedule_next()
    retention.schedule_next()
    delivery.schedule_sweep()
    feeds.schedule_next()
    health.schedule_next()
