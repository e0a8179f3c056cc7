"""Export every link (tombstones included) as CSV or JSON Lines, streamed."""

import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from shortener.links import access
from shortener.portability import export


class Command(BaseCommand):
    help = "Export links as CSV or JSON Lines to standard output or --output FILE."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=tuple(export.FORMATS), default="csv")
        parser.add_argument("--output", help="Write to this file instead of standard output.")
        parser.add_argument("--owner", help="Only this user's own links (default: everyone's).")

    def handle(self, *args, format: str, output, owner, **options):
        # An operator's command acts as the site itself; --owner narrows it to one person's
        # own links (what they made, not everything staff may see).
        links = access.exportable(access.SYSTEM)
        if owner:
            users = get_user_model()
            user = users.objects.filter(**{users.USERNAME_FIELD: owner}).first()
            if user is None:
                raise CommandError(f"There is no user named “{owner}”.")
            links = access.own(user)
        total = links.count()
        try:
            file = open(output, "w", encoding="utf-8", newline="") if output else None  # noqa: SIM115
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error.strerror}.") from None
        write = file.write if file else lambda line: self.stdout.write(line, ending="")
        items = export.records(links)
        bar = tqdm(items, total=total, unit="links", disable=not (output and sys.stderr.isatty()))
        try:
            for line in export.lines(format, bar):
                write(line)
        finally:
            if file:
                file.close()
        if output:
            self.stderr.write(f"Exported {total:,} links to {output}.")
