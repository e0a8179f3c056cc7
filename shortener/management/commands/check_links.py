"""Check the destinations of the links that are due now, as the daily task does.

    manage.py check_links                # at most 500 links, 2 minutes
    manage.py check_links --limit 50

Only for owners the `link_health` flag is on for; each link at most once a day; through
the one safe fetcher, with each destination host's budget of requests a minute. Prints
what it found: how many answered, and how (unreachable, timed out, a dead domain...),
which links it flagged for review, and how many wait for a later run.
"""

from django.core.management.base import BaseCommand

from shortener.safety import health


class Command(BaseCommand):
    help = "Request the destinations of the links due for a health check and record the results."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=health.BATCH, help="checks at most")

    def handle(self, *args, limit: int, **options):
        self.stdout.write(str(health.run(limit=max(limit, 0))))
