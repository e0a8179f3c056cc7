"""Delete finished browser bulk creates older than N days (each keeps its input, up to 2 MB)."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from shortener.portability.models import BulkJob, BulkStatus


class Command(BaseCommand):
    help = "Remove finished bulk-create jobs (their input and results) older than --days."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30)

    def handle(self, *args, days: int, **options):
        cutoff = timezone.now() - timedelta(days=max(days, 0))
        deleted, _ = BulkJob.objects.filter(
            status__in=[BulkStatus.DONE, BulkStatus.FAILED], created_at__lt=cutoff
        ).delete()
        self.stdout.write(f"Removed {deleted} bulk create(s) made before {cutoff:%Y-%m-%d}.")
