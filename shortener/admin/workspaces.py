"""Workspaces in admin, to look at: members are managed on each workspace's members page
(/workspaces/<n>/members/, open to staff), where a workspace always keeps an owner."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from shortener.workspaces.models import Invitation, Membership, Workspace


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ["user", "role", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "personal_of", "created_at", "members_page"]
    search_fields = ["name", "personal_of__username"]
    fields = ["name", "personal_of", "created_at", "members_page"]
    readonly_fields = ["personal_of", "created_at", "members_page"]
    inlines = [MembershipInline]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # its links are never destroyed, so neither is it

    @admin.display(description="members")
    def members_page(self, workspace: Workspace) -> str:
        url = reverse("workspace-members", args=[workspace.pk])
        return format_html('<a href="{}">Manage the members</a>', url)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["workspace", "username", "email", "role", "created_at", "accepted_at"]
    fields = [*list_display, "invited_by", "accepted_by"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False  # made by owners on the members page, where the link is shown once

    def has_change_permission(self, request, obj=None) -> bool:
        return False
