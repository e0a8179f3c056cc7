"""`manage.py reset_metrics`: empty PROMETHEUS_MULTIPROC_DIR; `make run` and the container
run it before granian and the task worker start (config/metrics/scrape.py)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from config.metrics.scrape import reset


class Command(BaseCommand):
    help = "Empty the metrics directory (PROMETHEUS_MULTIPROC_DIR) before the server starts."

    def handle(self, *args, **options) -> None:
        removed = reset(settings.METRICS_DIR)
        if options["verbosity"] > 1:
            self.stdout.write(f"Removed {removed} metrics files from {settings.METRICS_DIR}")
