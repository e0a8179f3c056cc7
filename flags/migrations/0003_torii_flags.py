"""The flags and the switch Torii's code asks about, with safe defaults.

Existing rows are left alone: staff may already have changed them.
superusers=False so a flag is on for exactly the people its rule names.
"""

from django.db import migrations

FLAGS = [
    (
        "custom_slugs",
        False,
        "Signed-in people may choose their own slug when they create a link, instead of a generated one.",
        "links team",
    ),
    (
        "qr_codes",
        True,
        "A link's page shows a QR code of its short URL.",
        "links team",
    ),
    (
        "link_analytics",
        True,
        "A link's stats page shows its visits and charts; off hides the page and its links.",
        "analytics team",
    ),
    (
        "api_v1",
        True,
        "The JSON API under /api/v1/; off answers every API call with a 403 problem document.",
        "API team",
    ),
    (
        "open_signup",
        False,
        "Anyone may create an account from the sign-in page; off: staff create accounts in admin.",
        "staff (site operators)",
    ),
    (
        "anonymous_links",
        False,
        "People who are not signed in may create links, which then belong to nobody and cannot be edited.",
        "links team",
    ),
]
READ_ONLY_NOTE = (
    "Maintenance: when on, every write (forms, admin saves, API writes, webhooks) is refused "
    "with 503, while redirects, stats and pages keep working. Staff can still sign in and "
    "turn it off on the flag board or in admin."
)


def create_flags(apps, schema_editor):
    FeatureFlag = apps.get_model("flags", "FeatureFlag")
    Switch = apps.get_model("waffle", "Switch")
    for name, on, description, contact in FLAGS:
        FeatureFlag.objects.get_or_create(
            name=name,
            defaults={
                "everyone": on,
                "superusers": False,
                "description": description,
                "contact": contact,
            },
        )
    Switch.objects.get_or_create(
        name="read_only", defaults={"active": False, "note": READ_ONLY_NOTE}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("flags", "0002_flagchange_percent_to_100"),
        ("waffle", "0004_update_everyone_nullbooleanfield"),
    ]

    operations = [migrations.RunPython(create_flags, migrations.RunPython.noop)]
