"""Every existing user gets a personal workspace (as its owner) and their links move into
it unchanged: only `workspace` is written (a queryset update, so `updated_at`, slugs,
visits and history stay as they were)."""

from django.conf import settings
from django.db import migrations


def personal_workspaces(apps, schema_editor):
    User = apps.get_model(settings.AUTH_USER_MODEL)
    Workspace = apps.get_model("shortener", "Workspace")
    Membership = apps.get_model("shortener", "Membership")
    Link = apps.get_model("shortener", "Link")
    for user in User.objects.order_by("pk").iterator():
        workspace = Workspace.objects.filter(personal_of=user).first()
        if workspace is None:
            name = f"{getattr(user, 'username', user.pk)} (personal)"[:100]
            workspace = Workspace.objects.create(name=name, personal_of=user)
            Membership.objects.create(workspace=workspace, user=user, role="owner")
        Link.objects.filter(owner=user, workspace__isnull=True).update(workspace=workspace)


def links_without_workspaces(apps, schema_editor):
    apps.get_model("shortener", "Link").objects.update(workspace=None)


class Migration(migrations.Migration):
    dependencies = [
        ("shortener", "0023_workspaces"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(personal_workspaces, links_without_workspaces)]
