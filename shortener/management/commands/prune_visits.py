"""Delete raw visits older than VISIT_RETENTION_DAYS (or --days): `manage.py prune_visits`.

The daily rollups keep every day's counts, so the stats say the same afterwards; the
task worker runs the same thing every day while the setting is set
(shortener/visits/retention.py). Safe while the site serves: short transactions.
"""

import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from shortener.visits import retention


class Command(BaseCommand):
    help = (
        "Delete raw visits older than VISIT_RETENTION_DAYS days (today included), in short "
        "batches; the daily rollups, and so the stats, keep their counts."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            help="Keep this many days of raw visits instead of VISIT_RETENTION_DAYS.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be deleted; delete nothing."
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=retention.BATCH,
            help=f"Visits deleted per transaction (default {retention.BATCH}).",
        )

    def handle(self, *args, days=None, dry_run=False, batch=retention.BATCH, **options) -> None:
        days = days if days is not None else settings.VISIT_RETENTION_DAYS
        if days is None:
            raise CommandError(
                "VISIT_RETENTION_DAYS is not set, so visits are kept forever; "
                "give --days N to keep N days this once."
            )
        if days < 1:
            raise CommandError("--days must be at least 1 (today's visits are always kept).")
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        before = retention.first_kept_day(days, timezone.now())
        progress = tqdm(
            unit=" visits",
            unit_scale=True,
            desc="Counting" if dry_run else "Deleting",
            disable=None,  # shown on a terminal only
            file=sys.stderr,
        )
        with progress:

            def told(done: int) -> None:
                progress.update(done - progress.n)

            pruned = retention.prune(before, dry_run=dry_run, batch=batch, progress=told)
        self.stdout.write(pruned.sentence(dry_run))
