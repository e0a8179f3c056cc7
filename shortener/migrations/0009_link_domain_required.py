"""Links get their domain (filled in by 0008) for good; slugs become unique per domain.

Apart from 0008 because PostgreSQL cannot alter a table in the transaction that
updated its rows under a deferred foreign key."""

import django.db.models.deletion
from django.db import migrations, models

import shortener.domains.models


class Migration(migrations.Migration):
    dependencies = [
        ("shortener", "0008_domains"),
    ]

    operations = [
        migrations.AlterField(
            model_name="link",
            name="domain",
            field=models.ForeignKey(
                default=shortener.domains.models.site_domain_pk,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="links",
                to="shortener.domain",
            ),
        ),
        migrations.AddConstraint(
            model_name="link",
            constraint=models.UniqueConstraint(
                fields=("domain", "slug"), name="link_slug_once_per_domain"
            ),
        ),
        migrations.AlterField(
            model_name="link",
            name="slug",
            field=models.CharField(editable=False, max_length=64),
        ),
        migrations.AddConstraint(
            model_name="domain",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_default", True)),
                fields=("is_default",),
                name="one_default_domain",
            ),
        ),
    ]
