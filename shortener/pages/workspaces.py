"""The current workspace of a signed-in person: kept in their session, chosen with the
switcher in the navigation (a plain form), and asked by every list, export and create.
Whether they may work in it is access's to decide, on every request."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from shortener.links import access

SESSION_KEY = "workspace"
ALL = ""  # staff's choice of no workspace: every link, as before workspaces


def current(request: HttpRequest):
    """The workspace this request works in (None: signed out, or staff across all). A
    workspace the session names but the person has since left falls back to their
    personal one."""
    if not hasattr(request, "_current_workspace"):
        user = request.user if request.user.is_authenticated else None
        wanted = request.session.get(SESSION_KEY) if user is not None else None
        request._current_workspace = access.current_workspace(user, wanted)
    return request._current_workspace


def switcher(request: HttpRequest) -> dict:
    """The navigation's switcher (a context processor): asked only when a page draws it."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {
        "workspaces": SimpleLazyObject(lambda: list(access.workspaces_of(request.user))),
        "current_workspace": SimpleLazyObject(lambda: current(request)),
    }


@require_POST
def switch(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        raise Http404
    wanted = request.POST.get("workspace", "").strip()
    if wanted == ALL and access.is_staff(request.user):
        request.session[SESSION_KEY] = None
        messages.success(request, "Now working across all workspaces.")
    else:
        chosen = access.current_workspace(request.user, wanted)
        if chosen is None or str(chosen.pk) != wanted:
            raise Http404("There is no workspace of yours with this number.")
        request.session[SESSION_KEY] = chosen.pk
        messages.success(request, f"Now working in {chosen.name}.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("link-list")
    response = redirect(target)
    response.status_code = 303
    return response
