"""Block a domain, or remove a block, through the one function that blocks.

    manage.py block_domain evil.example --reason "phishing feed"
    manage.py block_domain evil.example --remove

Prints what it did: the entry as stored and the links it disabled (or re-enabled, and
those another entry still holds). A domain the blocklist cannot hold is refused with
the sentence admin and the webhook give, and nothing is written.
"""

from django.core.management.base import BaseCommand, CommandError

from shortener import links


class Command(BaseCommand):
    help = "Add a domain to the blocklist (disabling every link that leads there) or remove it."

    def add_arguments(self, parser):
        parser.add_argument("domain", help="a domain, like example.com; it covers its subdomains")
        parser.add_argument("--reason", default="", help="why, kept with the entry (200 at most)")
        parser.add_argument(
            "--remove",
            action="store_true",
            help="remove the block; re-enables the links it disabled that nothing else blocks",
        )

    def handle(self, *args, domain: str, reason: str, remove: bool, **options):
        try:
            if remove:
                if reason:
                    raise CommandError("--reason is for adding a block, not for removing one.")
                done = links.unblock(domain, by=links.SYSTEM, source="command")
            else:
                done = links.block(domain, by=links.SYSTEM, reason=reason, source="command")
        except links.BlockRefused as refusal:
            raise CommandError(refusal.reason) from None
        self.stdout.write(str(done))
