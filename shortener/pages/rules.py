"""The link page's redirect rules: add, move and remove, as plain forms and with htmx.
Each posts to the link core and shows the rules again (the `rules` partial) or, refused,
the form with the core's sentence (422)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from hypermedia.fragments import varies_on_htmx, wants_fragment
from shortener import links
from shortener.links import LinkRefused, access
from shortener.links.models import Link
from shortener.pages.forms import RuleForm
from shortener.pages.views import detail_context, redirect_303, visible_link_or_404


def answered(request: HttpRequest, link: Link, message: str, form=None, status=200):
    if wants_fragment(request):
        context = detail_context(request, link, rule_form=form, rules_message=message)
        # The details panel's rule count comes along, swapped out of band.
        context["rules_swapped"] = True
        return render(request, "links/detail.html#rules", context, status=status)
    if status >= 400:
        context = detail_context(request, link, rule_form=form)
        return render(request, "links/detail.html", context, status=status)
    messages.success(request, message)
    return redirect_303(link.get_absolute_url() + "#rules")


def not_changed(request: HttpRequest, link: Link, refusal: LinkRefused) -> HttpResponse:
    form = RuleForm({})  # bound and cleaned, so it can carry the sentence
    form.is_valid()
    form.refused(refusal)
    return answered(request, link, refusal.reason, form=form, status=422)


@varies_on_htmx
@require_POST
def rule_add(request: HttpRequest, slug: str) -> HttpResponse:
    link = visible_link_or_404(request, slug, access.may_change)
    form = RuleForm(request.POST)
    if form.is_valid():
        try:
            links.add_rule(link, form.values(), by=request.user, own_host=request.get_host())
        except LinkRefused as refusal:
            form.refused(refusal)
            link.refresh_from_db()
        else:
            return answered(request, link, f"Added rule {len(link.rules)}.")
    return answered(request, link, "The rule was not added.", form=form, status=422)


@varies_on_htmx
@require_POST
def rule_move(request: HttpRequest, slug: str, number: str) -> HttpResponse:
    link = visible_link_or_404(request, slug, access.may_change)
    number = int(number)
    offset = -1 if request.POST.get("direction") == "up" else 1
    try:
        links.move_rule(link, number, offset, by=request.user)
    except LinkRefused as refusal:
        return not_changed(request, link, refusal)
    return answered(request, link, f"Moved rule {number} {'up' if offset < 0 else 'down'}.")


@varies_on_htmx
@require_POST
def rule_remove(request: HttpRequest, slug: str, number: str) -> HttpResponse:
    link = visible_link_or_404(request, slug, access.may_change)
    number = int(number)
    try:
        links.remove_rule(link, number, by=request.user)
    except LinkRefused as refusal:
        return not_changed(request, link, refusal)
    return answered(request, link, f"Removed rule {number}.")
