"""Seed links for the redirect benchmark, or count visits:
`python -m bench.seed seed N | seed-domains N HOST... | count`.

Run in a child process with the benchmark's own DATA_DIR (or DATABASE_URL), never on
the developer's database.
"""

import json
import os
import random
import sys


def main(command: str, *args: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from shortener.links.models import Link
    from shortener.visits.models import Visit

    if command == "seed":
        call_command("migrate", verbosity=0)
        wanted = int(args[0])
        seed_links(Link, wanted)
        slugs = list(Link.objects.values_list("slug", flat=True)[:200_000])
        print(json.dumps(random.sample(slugs, min(1000, len(slugs)))))
    elif command == "seed-domains":
        call_command("migrate", verbosity=0)
        from shortener.domains.models import Domain

        wanted, hosts = int(args[0]), args[1:]
        slugs = seed_links(Link, wanted)
        site = Link.objects.first().domain_id
        for host in hosts:  # the same slugs on every domain, each to its own target
            domain, _ = Domain.objects.get_or_create(host=host)
            Link.objects.bulk_create(
                [
                    Link(slug=slug, domain=domain, target=f"https://{host}.example/{n}")
                    for n, slug in enumerate(slugs)
                ],
                ignore_conflicts=True,
            )
        sample = random.sample(slugs, min(1000, len(slugs)))
        print(json.dumps({"slugs": sample, "site": site}))
    elif command == "seed-smart":
        call_command("migrate", verbosity=0)
        print(json.dumps(seed_smart(Link, int(args[0]))))
    elif command == "count":
        print(json.dumps({"visits": Visit.objects.count()}))


def seed_links(Link, wanted: int) -> list[str]:
    from shortener.domains.models import Domain
    from shortener.policy.slugs import generate_slug

    site = Domain.objects.site().pk  # once: the field's default would ask for every row
    created = []
    have = Link.objects.count()
    batch = []
    seen = set(Link.objects.values_list("slug", flat=True)) if have < 10_000 else set()
    for n in range(have, wanted):
        slug = generate_slug()
        while slug in seen:
            slug = generate_slug()
        seen.add(slug)
        created.append(slug)
        batch.append(Link(slug=slug, domain_id=site, target=f"https://example.com/articles/{n}"))
        if len(batch) == 10_000:
            Link.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    Link.objects.bulk_create(batch, ignore_conflicts=True)
    return created


# Five rules no request from wrk matches: every one of them is read on every request.
FIVE_RULES = [
    {"target": "https://m.example.com/", "when": {"device": ["mobile", "tablet"]}},
    {"target": "https://ios.example.com/", "when": {"os": ["ios"]}},
    {"target": "https://de.example.com/", "when": {"language": ["de", "de-ch"]}},
    {"target": "https://fr.example.com/", "when": {"country": ["FR", "BE"]}},
    {"target": "https://qr.example.com/", "when": {"query": {"name": "src", "value": "qr"}}},
]


def seed_smart(Link, each: int) -> dict:
    """`each` plain links, `each` with five rules, `each` protected (with the cookie a
    visitor gets after typing the password)."""
    from django.contrib.auth.hashers import make_password

    from shortener.links import passwords
    from shortener.policy.slugs import generate_slug

    hashed = make_password("bench")  # once: hashing is slow on purpose
    kinds = {
        "plain": {},
        "ruled": {"rules": FIVE_RULES},
        "protected": {"password": hashed},
    }
    made = {}
    for kind, fields in kinds.items():
        links = [
            Link(slug=generate_slug(12), target=f"https://example.com/{kind}/{n}", **fields)
            for n in range(each)
        ]
        Link.objects.bulk_create(links)
        made[kind] = list(Link.objects.filter(slug__in=[link.slug for link in links]))
    return {
        "plain": [link.slug for link in made["plain"]],
        "ruled": [link.slug for link in made["ruled"]],
        "protected": [
            [link.slug, passwords.cookie_value(link.pk, hashed)] for link in made["protected"]
        ],
    }


if __name__ == "__main__":
    main(*sys.argv[1:])
