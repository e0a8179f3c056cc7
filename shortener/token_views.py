"""The API tokens page: a signed-in user creates tokens (shown once) and revokes them."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from shortener.api import tokens
from shortener.models import ApiToken
from shortener.views import redirect_303


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label="Name",
        help_text="What will use it, for example: deploy script.",
    )


def page(request: HttpRequest, form: TokenForm, raw: str = "", status: int = 200) -> HttpResponse:
    return render(
        request,
        "tokens.html",
        {"form": form, "tokens": request.user.api_tokens.all(), "new_token": raw},
        status=status,
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return page(request, TokenForm(label_suffix=""))
    form = TokenForm(request.POST, label_suffix="")
    if not form.is_valid():
        return page(request, form, status=422)
    _, raw = tokens.issue(request.user, form.cleaned_data["name"])
    # The raw token exists only in this response: never stored, never shown again.
    response = page(request, TokenForm(label_suffix=""), raw=raw, status=201)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = request.user.api_tokens.get(pk=token_id)
    except ApiToken.DoesNotExist:
        raise Http404 from None
    token.revoke()
    messages.success(request, f"Revoked “{token.name}”: programs using it now get 401.")
    return redirect_303(reverse("token-list"))
