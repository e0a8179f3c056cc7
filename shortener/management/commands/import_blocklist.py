"""Import a blocklist feed from a file, through the one blocking function.

    manage.py import_blocklist /srv/feeds/urlhaus.csv --source urlhaus
    manage.py import_blocklist hosts.txt --source ads --format hosts
    manage.py import_blocklist --configured          # every feed in BLOCKLIST_FEEDS

Prints, per feed, what it did: the lines read, the domains newly blocked and those held
already, the links it quarantined, and what it skipped and why (malformed lines, IP
addresses, wildcards, public suffixes, the site's own short domains, overlong lines).
A feed that cannot be read writes nothing and fails the command with one sentence.
"""

from django.core.management.base import BaseCommand, CommandError

from shortener.safety import feed_formats, feeds


class Command(BaseCommand):
    help = "Block the domains a feed file lists and quarantine the links that lead there."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="the feed file (read as a stream)")
        parser.add_argument("--source", default="", help="the feed's name, kept as feed:<name>")
        parser.add_argument("--format", default="auto", choices=feed_formats.FORMATS)
        parser.add_argument(
            "--configured", action="store_true", help="import every feed in BLOCKLIST_FEEDS"
        )

    def handle(self, *args, file, source, format, configured, **options):
        if configured:
            if file or source:
                raise CommandError("--configured imports BLOCKLIST_FEEDS; name no file with it.")
            if not feeds.configured():
                raise CommandError("BLOCKLIST_FEEDS names no feed.")
            for line in feeds.import_configured():
                self.stdout.write(line)
            return
        if not file or not source:
            raise CommandError("Name the feed file and its --source (or use --configured).")
        try:
            done = feeds.import_feed(file, source=source, fmt=format)
        except feeds.FeedUnreadable as refusal:
            raise CommandError(refusal.reason) from None
        self.stdout.write(str(done))
