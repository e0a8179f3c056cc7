"""Stored targets and blocklist entries written the way the target policy now writes them.

Targets: a Unicode path, query or fragment is percent-encoded (UTF-8), so Location
carries the bytes a browser sends instead of an RFC 2047 word; hosts were already
ASCII. The destination history keeps what was recorded at the time.

Blocklist: an entry saved as Bücher.example never matched xn--bcher-kva.example.
Entries that normalise to one already stored are merged into it (the oldest is
kept). An entry the new rule refuses (a bare public suffix such as com) is left as
it is: it still blocks what it blocked, and staff can see and remove it.
"""

from urllib.parse import urlsplit

from django.db import migrations

from shortener.policy import targets


def encode_targets(apps, schema_editor):
    Link = apps.get_model("shortener", "Link")
    for pk, target in Link.objects.values_list("pk", "target").iterator():
        if target.isascii():
            continue
        try:
            parts = urlsplit(target)
        except ValueError:
            continue
        head = len(parts.scheme) + 3 + len(parts.netloc)  # checked targets are scheme://netloc…
        encoded = target[:head] + targets.encode_rest(target[head:])
        if encoded.isascii() and len(encoded) <= targets.MAX_LENGTH:
            Link.objects.filter(pk=pk).update(target=encoded)


def normalise_blocklist(apps, schema_editor):
    BlockedDomain = apps.get_model("shortener", "BlockedDomain")
    kept: set[str] = set()
    for entry in list(BlockedDomain.objects.order_by("created_at", "id")):
        verdict = targets.blocklist_entry(entry.domain)
        if not verdict.ok:
            continue
        if verdict.url in kept:
            entry.delete()
            continue
        kept.add(verdict.url)
        if verdict.url != entry.domain:
            BlockedDomain.objects.filter(domain=verdict.url).exclude(pk=entry.pk).delete()
            BlockedDomain.objects.filter(pk=entry.pk).update(domain=verdict.url)


class Migration(migrations.Migration):
    dependencies = [("shortener", "0004_api_tokens_idempotency")]

    operations = [
        migrations.RunPython(encode_targets, migrations.RunPython.noop),
        migrations.RunPython(normalise_blocklist, migrations.RunPython.noop),
    ]
