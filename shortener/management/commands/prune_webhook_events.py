"""Delete processed and ignored webhook events older than N days; failed ones stay."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from shortener.events.models import EventStatus, WebhookEvent


class Command(BaseCommand):
    help = "Remove processed and ignored webhook events older than --days (failed ones stay)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30)

    def handle(self, *args, days: int, **options):
        cutoff = timezone.now() - timedelta(days=max(days, 0))
        deleted, _ = WebhookEvent.objects.filter(
            status__in=[EventStatus.PROCESSED, EventStatus.IGNORED], received_at__lt=cutoff
        ).delete()
        self.stdout.write(f"Removed {deleted} webhook event(s) received before {cutoff:%Y-%m-%d}.")
