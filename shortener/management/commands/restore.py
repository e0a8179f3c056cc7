"""Restore a backup made by `manage.py backup` into an empty instance (docs/operations.md)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shortener.management.progress import rows_bar
from shortener.portability import backup


class Command(BaseCommand):
    help = (
        "Restore FILE, a backup of this or an earlier release, into this instance. The file "
        "is checked whole before anything is written; the rows go in in one transaction."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The backup file to read.")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Restore into an instance that holds links already, replacing everything in it.",
        )

    def handle(self, *args, file: str, replace: bool, **options):
        bar, progress = rows_bar("Restoring")
        try:
            result = backup.restore(Path(file), replace=replace, progress=progress)
        except backup.BackupRefused as refusal:
            raise CommandError(str(refusal)) from None
        finally:
            bar.close()
        for note in result.notes:
            self.stderr.write(note)
        self.stdout.write(
            f"Restored {result.rows:,} rows of {len(result.tables)} tables from {file}."
        )
