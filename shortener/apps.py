from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ShortenerConfig(AppConfig):
    name = "shortener"
    verbose_name = "Short links"

    def ready(self) -> None:
        post_migrate.connect(schedule_backups, sender=self)


def schedule_backups(**kwargs) -> None:
    """Every migrate (each `make run` start) queues the daily backup when none is waiting."""
    from shortener.portability import schedule

    schedule.schedule_next()
