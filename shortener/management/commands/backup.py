"""Back up the whole instance into one file, while the site serves (docs/operations.md)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shortener.management.progress import rows_bar
from shortener.portability import backup


class Command(BaseCommand):
    help = (
        "Write a backup of everything (links, visits, rollups, domains, users, flags and "
        "their audit trail, webhook sources and events, API tokens) to FILE, from one "
        "consistent snapshot, while the site serves."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The backup file to write (a ZIP; replaced if it exists).")

    def handle(self, *args, file: str, **options):
        path = Path(file)
        if path.is_dir():
            raise CommandError(f"{path} is a folder; name the backup file to write.")
        bar, progress = rows_bar("Backing up")
        try:
            result = backup.backup(path, progress=progress)
        except OSError as error:
            raise CommandError(f"Cannot write {path}: {error.strerror}.") from None
        finally:
            bar.close()
        for note in result.notes:
            self.stderr.write(note)
        self.stdout.write(
            f"Backed up {result.rows:,} rows of {len(result.tables)} tables to {path}."
        )
