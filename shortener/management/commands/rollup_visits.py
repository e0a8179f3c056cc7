"""Rebuild the daily rollups from raw visits, or check them: `manage.py rollup_visits`.

Safe while the site serves: each batch is one transaction that locks its links' rows
first, as every flush does before writing a link's visits (shortener/rollups.py).
"""

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from shortener.links.models import Link
from shortener.visits import rebuild

SHOWN = 20  # differences printed one by one; the rest are counted


class Command(BaseCommand):
    help = (
        "Rebuild the daily visit rollups from the raw visits, for one link or all, in "
        "batches; with --check, recount and report differences (exit 1 when any)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--link", help="One link, by slug or id (default: every link).")
        parser.add_argument(
            "--check",
            action="store_true",
            help="Compare the rollups with a recount of the raw visits; change nothing.",
        )
        parser.add_argument(
            "--site",
            action="store_true",
            help="Only the site's rollups: add up every link's again (with --check, compare).",
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=200_000,
            help="Raw visits per transaction (default 200000); a bigger link is split by days.",
        )

    def handle(self, *args, link=None, check=False, site=False, batch=200_000, **options) -> None:
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        if site:
            return self.site(check)
        link_ids = None if link is None else [self.link_id(link)]
        batches = list(rebuild.plan(link_ids, batch))
        progress = tqdm(
            total=sum(b.visits for b in batches),
            unit=" visits",
            unit_scale=True,
            desc="Checking" if check else "Rebuilding",
            disable=None,  # shown on a terminal only
            file=sys.stderr,
        )
        found = []
        with progress:
            for one in batches:
                if check:
                    found.extend(rebuild.check(one.scope))
                else:
                    rebuild.rebuild_locked(one.scope)
                progress.update(one.visits)
        visits = sum(b.visits for b in batches)
        if not check:
            self.stdout.write(
                f"Rebuilt the rollups of {visits} visit(s) in {len(batches)} batch(es)."
            )
            return
        slugs = dict(
            Link.objects.filter(pk__in={d[0] for d in found[:SHOWN]}).values_list("pk", "slug")
        )
        for link_id, day, what, recounted, stored in found[:SHOWN]:
            name = slugs.get(link_id, link_id)
            self.stdout.write(f"{name} {day}: {what} is {stored}, the raw visits say {recounted}")
        if found:
            more = f" ({len(found) - SHOWN} more not shown)" if len(found) > SHOWN else ""
            raise CommandError(
                f"{len(found)} difference(s) between the rollups and the raw visits{more}. "
                "`manage.py rollup_visits` rebuilds them."
            )
        self.stdout.write(f"The rollups match the {visits} raw visit(s).")

    def site(self, check: bool) -> None:
        """The site's rollups against the links' rollups, which a rebuild keeps in step:
        after upgrading while old workers flushed, or restoring an older backup."""
        if not check:
            rebuild.resum_site()
            self.stdout.write("Added up every link's rollups into the site's again.")
            return
        found = rebuild.site_differences()
        for day, what, summed, stored in found[:SHOWN]:
            self.stdout.write(f"{day}: {what} is {stored}, the links' add up to {summed}")
        if found:
            raise CommandError(
                f"{len(found)} difference(s) between the site's rollups and its links'. "
                "`manage.py rollup_visits --site` adds them up again."
            )
        self.stdout.write("The site's rollups match its links'.")

    def link_id(self, given: str) -> int:
        found = Link.objects.filter(slug=given).values_list("pk", flat=True).first()
        if found is None and given.isdigit():
            found = Link.objects.filter(pk=int(given)).values_list("pk", flat=True).first()
        if found is None:
            raise CommandError(f"No link has the slug or id {given!r}.")
        return found
