"""Create the baseline's links with the same slugs: `python -m bench.baseline.seed SLUG ...`."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.baseline.settings")
import django

django.setup()
from django.core.management import call_command  # noqa: E402

from bench.baseline.models import Link  # noqa: E402

call_command("migrate", verbosity=0)
Link.objects.bulk_create(
    [Link(slug=slug, url=f"https://example.com/{slug}") for slug in sys.stdin.read().split()],
    ignore_conflicts=True,
)
