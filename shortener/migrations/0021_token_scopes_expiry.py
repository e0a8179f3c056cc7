"""API tokens get scopes and an optional expiry. Tokens made before them keep doing all
they did: every scope, and no expiry (docs/api.md)."""

from django.db import migrations, models
from django.utils import timezone

# The catalogue as it stood when this ran (shortener/tokens/scopes.py), frozen here.
EVERY_SCOPE = ["links:read", "links:write", "stats:read", "webhooks:manage"]


def every_scope_for_existing_tokens(apps, schema_editor):
    apps.get_model("shortener", "ApiToken").objects.update(scopes=EVERY_SCOPE)


class Migration(migrations.Migration):
    dependencies = [("shortener", "0020_audit_log")]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="scopes",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="apitoken",
            name="created_at",
            field=models.DateTimeField(default=timezone.now, editable=False),
        ),
        migrations.RunPython(every_scope_for_existing_tokens, migrations.RunPython.noop),
    ]
