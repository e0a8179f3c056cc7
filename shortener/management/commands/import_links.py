"""Import links from a file: Torii's own export or another shortener's (docs/import-export.md)."""

import os
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from shortener.links import access
from shortener.portability import formats, importing
from shortener.portability.export import command_host
from shortener.portability.reading import Unreadable

CHOICES = ("torii", "bitly", "yourls", "shlink", "kutt")


class Command(BaseCommand):
    help = (
        "Import links from FILE. Every row passes the link rules; refused rows are listed "
        "with their row number and the rest still import. Importing a file twice creates "
        "nothing new."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The file to read (CSV or JSON, UTF-8).")
        parser.add_argument("--format", choices=CHOICES, default="torii")
        parser.add_argument(
            "--owner",
            help="The user the links belong to. Without it: the owner a Torii export names "
            "when that user exists here, otherwise the first superuser.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check every row, write none.")

    def handle(self, *args, file: str, format: str, owner, dry_run: bool, **options):
        users = get_user_model()
        if owner:
            try:
                actor = users.objects.get(**{users.USERNAME_FIELD: owner})
            except users.DoesNotExist:
                raise CommandError(f"There is no user named “{owner}”.") from None
            owner_named = None
        else:
            actor = access.stand_in()
            if actor is None:
                raise CommandError("Name the links' owner with --owner (there is no superuser).")
            names = {}

            def owner_named(name):
                if name not in names:
                    names[name] = users.objects.filter(**{users.USERNAME_FIELD: name}).first()
                return names[name]

        fmt = formats.FORMATS[format]
        try:
            stream = open(file, "rb")  # noqa: SIM115 - closed below, after the rows are read
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        with stream:
            try:
                rows = importing.rows_of(stream, fmt)
                size = os.fstat(stream.fileno()).st_size
                bar = tqdm(
                    total=size,
                    unit="B",
                    unit_scale=True,
                    disable=not sys.stderr.isatty(),
                    desc="Importing",
                )
                refused = []

                def report(result):
                    bar.n = stream.tell()
                    bar.refresh()
                    if result.status == importing.REFUSED:
                        refused.append(result)
                        self.stderr.write(result.reason)

                summary = importing.import_rows(
                    rows,
                    fmt,
                    actor=actor,
                    owner=actor,
                    owner_named=owner_named,
                    ignore_owners=bool(owner),
                    own_host=command_host(),
                    dry_run=dry_run,
                    report=report,
                )
                bar.close()
            except Unreadable as error:
                raise CommandError(f"{file}: {error}") from None
        prefix = "Dry run, nothing written: " if dry_run else ""
        self.stdout.write(prefix + str(summary))
