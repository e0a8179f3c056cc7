"""Every user's personal workspace: made with the account (a post_save receiver) and,
for accounts made before workspaces or loaded raw, on first asking."""

from django.db import transaction

from shortener.workspaces.models import Membership, Role, Workspace


def personal_name(user) -> str:
    return f"{user.get_username()} (personal)"[:100]


def personal_workspace(user) -> Workspace | None:
    """`user`'s personal workspace, made if it is missing; None for nobody."""
    if user is None or not getattr(user, "pk", None):
        return None
    found = Workspace.objects.filter(personal_of=user).first()
    return found or make_personal(user)


def make_personal(user) -> Workspace:
    with transaction.atomic():
        workspace, made = Workspace.objects.get_or_create(
            personal_of=user, defaults={"name": personal_name(user)}
        )
        if made:
            Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    return workspace


def on_user_saved(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        make_personal(instance)
