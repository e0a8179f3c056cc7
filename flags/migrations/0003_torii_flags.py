"""The flags and the switch Torii's code asks about, with safe defaults, from flags/registry.py.

Existing rows are left alone: staff may already have changed them. Rows for names
registered later are made by the post_migrate receiver in flags/apps.py.
"""

from django.db import migrations

from flags import registry


def create_flags(apps, schema_editor):
    registry.create_missing(
        apps.get_model("flags", "FeatureFlag"),
        apps.get_model("waffle", "Switch"),
        schema_editor.connection.alias,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("flags", "0002_flagchange_percent_to_100"),
        ("waffle", "0004_update_everyone_nullbooleanfield"),
    ]

    operations = [migrations.RunPython(create_flags, migrations.RunPython.noop)]
