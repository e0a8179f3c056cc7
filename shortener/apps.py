from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ShortenerConfig(AppConfig):
    name = "shortener"
    verbose_name = "Short links"

    def ready(self) -> None:
        from shortener.events import outbox
        from shortener.links.signals import links_changed

        post_migrate.connect(schedule_backups, sender=self)
        # The outbox of outbound webhooks hears every link write, in its transaction.
        links_changed.connect(outbox.record, dispatch_uid="outbound-webhooks-outbox")


def schedule_backups(**kwargs) -> None:
    """Every migrate (each `make run` start) queues the daily backup, the daily prune of
    old visits and the outbound webhooks' sweep when none is waiting."""
    from shortener.events import delivery
    from shortener.portability import schedule
    from shortener.visits import retention

    schedule.schedule_next()
    retention.schedule_next()
    delivery.schedule_sweep()
