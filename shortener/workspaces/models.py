"""A workspace, its members and their roles, and invitations to join it."""

from datetime import timedelta

from django.conf import settings
from django.db import models

INVITATION_DAYS = 7


class Role(models.TextChoices):
    # Ordered from most to least: an owner does everything an editor does, and so on.
    OWNER = "owner", "Owner"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


class Workspace(models.Model):
    """Links belong to a workspace; people see and change them through a membership.
    `personal_of` marks a user's own workspace (one each, made with the account); it
    stays with its links if that user is deleted."""

    name = models.CharField(max_length=100)
    personal_of = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="personal_workspace",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_personal(self) -> bool:
        return self.personal_of_id is not None


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=8, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workspace", "user"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="member_once_per_workspace")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.workspace}"


class Invitation(models.Model):
    """An owner's invitation for a username or an e-mail address, to join with `role`.
    Only the SHA-256 digest of its token is stored (the link is shown once); it is good
    for INVITATION_DAYS and for one acceptance, by the account it names."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(max_length=8, choices=Role.choices)
    # Exactly one of the two names whom it is for.
    username = models.CharField(max_length=150, blank=True)
    email = models.EmailField(blank=True)
    digest = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.username or self.email} as {self.role} in {self.workspace}"

    @property
    def expires_at(self):
        return self.created_at + timedelta(days=INVITATION_DAYS)
