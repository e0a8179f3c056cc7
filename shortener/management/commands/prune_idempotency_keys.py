"""Forget API Idempotency-Keys older than 24 hours (each POST with a key also prunes its user's)."""

from django.core.management.base import BaseCommand

from shortener.tokens.models import IdempotencyKey


class Command(BaseCommand):
    help = "Delete Idempotency-Key records older than 24 hours."

    def handle(self, *args, **options) -> None:
        self.stdout.write(
            f"Pruned {IdempotencyKey.objects.prune()} idempotency key(s) older than 24 hours."
        )
