"""Write every stored blocklist entry as target hosts are written (IDNA, case, dots).

An entry saved as Bücher.example never matched xn--bcher-kva.example. Entries that
normalise to one already stored are merged into it (the oldest is kept). An entry
the new rule refuses (a bare public suffix such as com) is left as it is: it still
blocks what it blocked, and staff can see and remove it in the admin.
"""

from django.db import migrations

from shortener import targets


def normalise_entries(apps, schema_editor):
    BlockedDomain = apps.get_model("shortener", "BlockedDomain")
    kept: dict[str, int] = {}
    for entry in list(BlockedDomain.objects.order_by("created_at", "id")):
        verdict = targets.blocklist_entry(entry.domain)
        if not verdict.ok:
            continue
        if verdict.url in kept:
            entry.delete()
        elif verdict.url != entry.domain:
            kept[verdict.url] = entry.pk
            BlockedDomain.objects.filter(domain=verdict.url).exclude(pk=entry.pk).delete()
            BlockedDomain.objects.filter(pk=entry.pk).update(domain=verdict.url)
        else:
            kept[verdict.url] = entry.pk


class Migration(migrations.Migration):
    dependencies = [("shortener", "0004_api_tokens_idempotency")]

    operations = [migrations.RunPython(normalise_entries, migrations.RunPython.noop)]
