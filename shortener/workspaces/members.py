"""The writes that change who belongs to a workspace, each keeping it whole: a workspace
always keeps at least one owner; an invitation is used once, by the account it names,
within INVITATION_DAYS. Whether the person asking may do this at all (a workspace
owner, or staff) is shortener.links.access's to decide, asked by every adapter first.
A refusal raises MembersRefused with the sentence to show and writes nothing."""

import hashlib
import secrets
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from shortener.audit.models import Action, Kind
from shortener.audit.recording import record
from shortener.workspaces.models import Invitation, Membership, Role, Workspace

LAST_OWNER = "A workspace keeps at least one owner: make someone else an owner first."
NOT_VALID = "This invitation link is not valid: check that it was copied whole."
USED = "This invitation has already been used."
EXPIRED = "This invitation expired: ask the workspace's owner for a new one."
ANOTHER_ACCOUNT = "This invitation is for another account: sign in as the person it names."
NO_ROLE = "Choose a role: owner, editor or viewer."
INVITATION_MARK = "inv_"


class MembersRefused(Exception):
    def __init__(self, sentence: str):
        super().__init__(sentence)
        self.sentence = sentence


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def clean_role(role) -> str:
    if role not in Role.values:
        raise MembersRefused(NO_ROLE)
    return role


def create_workspace(name: str, *, by) -> Workspace:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise MembersRefused("Name the workspace (at most 100 characters).")
    with transaction.atomic():
        workspace = Workspace.objects.create(name=name)
        Membership.objects.create(workspace=workspace, user=by, role=Role.OWNER)
        record(
            Action.CREATED,
            Kind.WORKSPACE,
            workspace.pk,
            f"Created the workspace “{name}”.",
            actor=by,
            name=name,
            workspace=workspace,
        )
    return workspace


def invite(workspace: Workspace, *, by, name: str, role, now: datetime) -> tuple[Invitation, str]:
    """An invitation for a username or an e-mail address; its token, shown once."""
    role = clean_role(role)
    name = (name or "").strip()
    users = get_user_model()
    fields: dict[str, str] = {}
    if "@" in name:
        try:
            validate_email(name)
        except ValidationError:
            raise MembersRefused("This is not an e-mail address.") from None
        fields["email"] = name.lower()
        known = users.objects.filter(email__iexact=name)
    elif name:
        known = users.objects.filter(**{users.USERNAME_FIELD: name})
        if not known.exists():
            raise MembersRefused(
                f"There is no account named “{name}”: invite their e-mail address."
            )
        fields["username"] = name
    else:
        raise MembersRefused("Name the person to invite: a username or an e-mail address.")
    if Membership.objects.filter(workspace=workspace, user__in=known).exists():
        raise MembersRefused(f"{name} is already a member of this workspace.")
    token = INVITATION_MARK + secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation = Invitation.objects.create(
            workspace=workspace,
            role=role,
            digest=digest_of(token),
            invited_by=by,
            created_at=now,
            **fields,
        )
        record(
            Action.INVITED,
            Kind.MEMBER,
            workspace.pk,
            f"Invited {name} to “{workspace.name}” as {role}.",
            actor=by,
            name=workspace.name,
            workspace=workspace,
        )
    return invitation, token


def invitation_of(token: str) -> Invitation:
    """The invitation a token names, whatever its state; refused if none (forged)."""
    if not isinstance(token, str) or not token.startswith(INVITATION_MARK) or len(token) > 100:
        raise MembersRefused(NOT_VALID)
    found = Invitation.objects.filter(digest=digest_of(token)).select_related("workspace").first()
    if found is None:
        raise MembersRefused(NOT_VALID)
    return found


def is_for(invitation: Invitation, user) -> bool:
    if invitation.username:
        return user.get_username() == invitation.username
    return bool(user.email) and user.email.lower() == invitation.email.lower()


def accept(token: str, *, user, now: datetime) -> Membership:
    """`user` joins with the invitation's role; the invitation is used up in the same
    transaction (a second acceptance, even a concurrent one, is refused)."""
    invitation = invitation_of(token)
    if invitation.accepted_at is not None:
        raise MembersRefused(USED)
    if now >= invitation.expires_at:
        raise MembersRefused(EXPIRED)
    if not is_for(invitation, user):
        raise MembersRefused(ANOTHER_ACCOUNT)
    try:
        with transaction.atomic():
            claimed = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
                accepted_at=now, accepted_by=user
            )
            if not claimed:
                raise MembersRefused(USED)
            joined = Membership.objects.create(
                workspace=invitation.workspace, user=user, role=invitation.role
            )
            record(
                Action.JOINED,
                Kind.MEMBER,
                invitation.workspace_id,
                f"{user.get_username()} joined “{invitation.workspace.name}” as {invitation.role}.",
                actor=user,
                name=invitation.workspace.name,
                workspace=invitation.workspace_id,
            )
            return joined
    except IntegrityError:
        raise MembersRefused("You are already a member of this workspace.") from None


def owners_left(membership: Membership) -> int:
    """How many owners the workspace has besides this member, their rows locked until
    the transaction ends (two owners demoting each other at once cannot both pass)."""
    owners = Membership.objects.select_for_update().filter(
        workspace_id=membership.workspace_id, role=Role.OWNER
    )
    return sum(1 for pk in owners.values_list("pk", flat=True) if pk != membership.pk)


def change_role(membership: Membership, role) -> Membership:
    role = clean_role(role)
    with transaction.atomic():
        locked = Membership.objects.select_for_update().get(pk=membership.pk)
        if locked.role == Role.OWNER and role != Role.OWNER and not owners_left(locked):
            raise MembersRefused(LAST_OWNER)
        before, locked.role = locked.role, role
        locked.save(update_fields=["role"])
        if before != role:
            record(
                Action.CHANGED,
                Kind.MEMBER,
                locked.workspace_id,
                f"{locked.user.get_username()} is now {role} of “{locked.workspace.name}”.",
                name=locked.workspace.name,
                changes={"role": [before, role]},
                workspace=locked.workspace_id,
            )
    return locked


def remove(membership: Membership) -> None:
    """The member leaves at once: access asks for the membership on every request, so
    their sessions and API tokens stop acting on this workspace's links with it."""
    with transaction.atomic():
        locked = Membership.objects.select_for_update().get(pk=membership.pk)
        if locked.role == Role.OWNER and not owners_left(locked):
            raise MembersRefused(LAST_OWNER)
        locked.delete()
        record(
            Action.REMOVED,
            Kind.MEMBER,
            locked.workspace_id,
            f"Removed {locked.user.get_username()} ({locked.role}) from “{locked.workspace.name}”.",
            name=locked.workspace.name,
            workspace=locked.workspace_id,
        )
