"""Workspaces' own pages: the list of one's workspaces (and a new one), a workspace's
members for its owners (invite, change roles, remove), and an invitation's page, where
the person it names accepts it after signing in or signing up. Access decides who may
manage members; shortener.workspaces.members keeps every workspace with an owner."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from shortener.links import access
from shortener.pages.workspaces import SESSION_KEY
from shortener.workspaces import members
from shortener.workspaces.models import Membership, Role, Workspace

NOT_AN_OWNER = "Only this workspace's owners manage its members."
# An invitation's refusal → its status: a forged one is no invitation at all.
REFUSAL_STATUS = {
    members.NOT_VALID: 404,
    members.USED: 410,
    members.EXPIRED: 410,
    members.ANOTHER_ACCOUNT: 403,
}


def see_other(url: str) -> HttpResponse:
    response = redirect(url)
    response.status_code = 303
    return response


def managed_or_404(request: HttpRequest, workspace_id: int) -> Workspace:
    """The workspace if this person may manage its members: 404 if they are not in it
    (as for a link they may not see), 403 with a sentence if they are but not an owner."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None or not access.may_enter(request.user, workspace):
        raise Http404
    if not access.may_manage_members(request.user, workspace):
        raise PermissionDenied(NOT_AN_OWNER)
    return workspace


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def workspace_list(request: HttpRequest) -> HttpResponse:
    refusal = ""
    if request.method == "POST":
        try:
            workspace = members.create_workspace(request.POST.get("name", ""), by=request.user)
        except members.MembersRefused as refused:
            refusal = refused.sentence
        else:
            request.session[SESSION_KEY] = workspace.pk
            messages.success(request, f"Made {workspace.name}; you are its owner.")
            return see_other(reverse("workspace-members", args=[workspace.pk]))
    mine = Membership.objects.filter(user=request.user).select_related("workspace")
    context = {"memberships": mine.order_by("workspace__name"), "refusal": refusal}
    return render(request, "workspaces/list.html", context, status=422 if refusal else 200)


def members_page(request, workspace, *, status=200, refusal="", invitation_link=""):
    now = timezone.now()
    pending = [
        invitation
        for invitation in workspace.invitations.filter(accepted_at__isnull=True)
        if invitation.expires_at > now
    ]
    context = {
        "workspace": workspace,
        "memberships": workspace.memberships.select_related("user").order_by("user__username"),
        "invitations": pending,
        "roles": Role.choices,
        "refusal": refusal,
        "invitation_link": invitation_link,
    }
    return render(request, "workspaces/members.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD"])
def workspace_members(request: HttpRequest, workspace_id: int) -> HttpResponse:
    return members_page(request, managed_or_404(request, workspace_id))


@login_required
@require_POST
def member_invite(request: HttpRequest, workspace_id: int) -> HttpResponse:
    workspace = managed_or_404(request, workspace_id)
    try:
        _, token = members.invite(
            workspace,
            by=request.user,
            name=request.POST.get("name", ""),
            role=request.POST.get("role", ""),
            now=timezone.now(),
        )
    except members.MembersRefused as refused:
        return members_page(request, workspace, status=422, refusal=refused.sentence)
    link = request.build_absolute_uri(reverse("invitation", args=[token]))
    return members_page(request, workspace, status=201, invitation_link=link)


def membership_of(workspace: Workspace, membership_id: int) -> Membership:
    return get_object_or_404(Membership, pk=membership_id, workspace=workspace)


@login_required
@require_POST
def member_role(request: HttpRequest, workspace_id: int, membership_id: int) -> HttpResponse:
    workspace = managed_or_404(request, workspace_id)
    membership = membership_of(workspace, membership_id)
    try:
        changed = members.change_role(membership, request.POST.get("role", ""))
    except members.MembersRefused as refused:
        return members_page(request, workspace, status=409, refusal=refused.sentence)
    messages.success(request, f"{changed.user.get_username()} is now {changed.get_role_display()}.")
    return see_other(reverse("workspace-members", args=[workspace.pk]))


@login_required
@require_POST
def member_remove(request: HttpRequest, workspace_id: int, membership_id: int) -> HttpResponse:
    workspace = managed_or_404(request, workspace_id)
    membership = membership_of(workspace, membership_id)
    try:
        members.remove(membership)
    except members.MembersRefused as refused:
        return members_page(request, workspace, status=409, refusal=refused.sentence)
    messages.success(request, f"Removed {membership.user.get_username()} from {workspace.name}.")
    if membership.user_id == request.user.pk:  # they left: nothing here is theirs now
        return see_other(reverse("workspace-list"))
    return see_other(reverse("workspace-members", args=[workspace.pk]))


@require_http_methods(["GET", "HEAD", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """What the invitation offers; accepting it needs the account it names."""
    try:
        found = members.invitation_of(token)
    except members.MembersRefused as refused:
        return refused_page(request, refused.sentence)
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect_to_login(request.get_full_path())
        return render(request, "workspaces/invitation.html", {"invitation": found})
    if request.method != "POST":
        return render(request, "workspaces/invitation.html", {"invitation": found})
    try:
        joined = members.accept(token, user=request.user, now=timezone.now())
    except members.MembersRefused as refused:
        return refused_page(request, refused.sentence)
    request.session[SESSION_KEY] = joined.workspace_id
    messages.success(
        request, f"You joined {joined.workspace.name} as {joined.get_role_display().lower()}."
    )
    return see_other(reverse("link-list"))


def refused_page(request: HttpRequest, sentence: str) -> HttpResponse:
    status = REFUSAL_STATUS.get(sentence, 409)
    context = {"refusal": sentence, "status": status}
    return render(request, "workspaces/invitation.html", context, status=status)
