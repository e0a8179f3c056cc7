"""The API tokens page: a signed-in user creates tokens (shown once) and revokes them.

A token gets the scopes ticked on the form (reading links, unless more are ticked) and a
lifetime (90 days unless another is chosen); the page warns about a live token a week
before it expires.

Create answers with a redirect (post/redirect/get): the new token waits in the session
for the one page that shows it, so a reload neither shows it again nor makes another.
Revoke asks first: a page of its own without JavaScript, the row itself with htmx.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from hypermedia.announcements import announce
from hypermedia.fragments import varies_on_htmx, wants_fragment
from shortener.links import access
from shortener.pages.views import redirect_303
from shortener.pages.workspaces import current
from shortener.tokens import personal as tokens
from shortener.tokens import scopes as rules
from shortener.tokens.models import ApiToken

NEW_TOKEN = "torii.new_token"  # noqa: S105 - a session key, not a secret


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label="Name",
        help_text="What will use it, for example: deploy script.",
    )
    scopes = forms.MultipleChoiceField(
        label="What it may do",
        choices=[(name, f"{s.label} ({name}): {s.grants}") for name, s in rules.SCOPES.items()],
        initial=list(rules.DEFAULT),
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick only what the program needs; a request outside these gets 403.",
        error_messages={"required": "Choose at least one thing the token may do."},
    )
    lifetime = forms.ChoiceField(
        label="Expires",
        choices=[(key, label) for key, (label, _) in rules.LIFETIMES.items()],
        initial=rules.DEFAULT_LIFETIME,
        widget=forms.RadioSelect,
        help_text="After this the token gets 401; this page warns a week before.",
    )
    workspace = forms.TypedChoiceField(
        label="Acts for the workspace",  # not "Workspace": the header's switcher is that
        coerce=int,
        required=False,  # not sent (an older form, a script): the personal workspace
        empty_value=None,
        help_text="It acts for this one workspace alone, and stops if you leave it.",
        error_messages={"invalid_choice": "Choose a workspace you are a member of."},
    )

    def __init__(self, *args, user, current=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspaces = {w.pk: w for w in access.workspaces_of(user)}
        self.fields["workspace"].choices = [(pk, w.name) for pk, w in self.workspaces.items()]
        if current is not None and current.pk in self.workspaces:
            self.fields["workspace"].initial = current.pk


def page(request: HttpRequest, form: TokenForm, raw: str = "", status: int = 200) -> HttpResponse:
    now = timezone.now()
    listed = list(request.user.api_tokens.select_related("workspace"))
    expiring = [t for t in listed if not t.is_revoked and t.expires_soon(now)]
    context = {"form": form, "tokens": listed, "new_token": raw, "expiring": expiring}
    return render(request, "tokens.html", context, status=status)


@never_cache  # the page that shows a new token must not be kept by any cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        # The raw token lives in the session for exactly one page view, then is gone.
        form = TokenForm(label_suffix="", user=request.user, current=current(request))
        return page(request, form, raw=request.session.pop(NEW_TOKEN, ""))
    form = TokenForm(request.POST, label_suffix="", user=request.user)
    if not form.is_valid():
        return page(request, form, status=422)
    chosen = form.cleaned_data
    lifetime = rules.LIFETIMES[chosen["lifetime"]][1]
    workspace = form.workspaces.get(chosen["workspace"])
    _, raw = tokens.issue(
        request.user, chosen["name"], chosen["scopes"], lifetime, workspace=workspace
    )
    request.session[NEW_TOKEN] = raw
    return redirect_303(reverse("token-list"))


def own_token_or_404(request: HttpRequest, token_id: int) -> ApiToken:
    try:
        return request.user.api_tokens.get(pk=token_id)
    except ApiToken.DoesNotExist:
        raise Http404 from None


@varies_on_htmx
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = own_token_or_404(request, token_id)
    if request.method != "POST":
        template = "tokens.html#confirm-row" if wants_fragment(request) else "token_revoke.html"
        return render(request, template, {"token": token, "fragment": wants_fragment(request)})
    was_live = not token.is_revoked
    token.revoke()
    sentence = f"Revoked “{token.name}”: programs using it now get 401."
    if not was_live:
        sentence = f"“{token.name}” was revoked already."
    if wants_fragment(request):
        response = render(request, "tokens.html#row", {"token": token, "row_focus": True})
        return announce(response, sentence)
    messages.success(request, sentence)
    return redirect_303(reverse("token-list"))


@login_required
@require_http_methods(["GET", "HEAD"])
def token_row(request: HttpRequest, token_id: int) -> HttpResponse:
    """One row of the table: what Cancel brings back in place of a confirmation."""
    token = own_token_or_404(request, token_id)
    return render(request, "tokens.html#row", {"token": token, "row_focus": True})
