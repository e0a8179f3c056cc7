"""Export the live redirects as files another server serves without Torii (import-export.md)."""

import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from shortener.domains.models import Domain
from shortener.links import access
from shortener.links.models import Link
from shortener.management.progress import items_bar
from shortener.portability import exits, export


class Command(BaseCommand):
    help = (
        "Write the live redirects as an nginx map, an Apache RewriteMap, a Caddyfile, a "
        "_redirects file or a static site (a ZIP), for a server that serves them without "
        "Torii. Each file says at its top what it cannot express and which links it left out."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=sorted(exits.FORMATS), required=True)
        parser.add_argument("--owner", help="Only this user's links (default: every link).")
        parser.add_argument(
            "--domain",
            help="Only this short domain's links; _redirects and the static site take the "
            "site's own domain when none is named.",
        )
        parser.add_argument(
            "--unsupported",
            choices=(exits.SKIP, exits.PLAIN),
            default=exits.SKIP,
            help="Links with rules, query forwarding, a visit limit or an expiry: left out "
            "(skip, the default) or sent to their plain destination (plain). Protected "
            "links are always left out.",
        )
        parser.add_argument("--output", help="The file to write (default: standard output).")

    def handle(self, *args, format: str, owner, domain, unsupported: str, output, **options):
        links = Link.objects.all()
        if owner:
            users = get_user_model()
            try:
                user = users.objects.get(**{users.USERNAME_FIELD: owner})
            except users.DoesNotExist:
                raise CommandError(f"There is no user named “{owner}”.") from None
            links = access.exportable(user)
        host = domain or Domain.objects.site().host
        if domain:
            if not Domain.objects.filter(host=domain).exists():
                raise CommandError(f"There is no short domain “{domain}”.")
            links = links.filter(domain__host=domain)
        records = items_bar(export.records(links), links.count(), "links", "links")
        result = exits.plan(records, unsupported, exits.domain_of(format, host))
        if output:
            with open(output, "wb") as handle:
                exits.write(format, result, host, handle)
        else:
            exits.write(format, result, host, sys.stdout.buffer)
        self.stderr.write(
            f"{len(result.entries)} redirects written, {len(result.left_out)} left out, "
            f"{len(result.plain)} sent to their plain destination."
        )
