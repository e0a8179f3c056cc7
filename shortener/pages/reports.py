"""Reporting a link (`/<slug>+report`, anyone) and the staff review queue (`/reports/`).

The report form needs no cookie, so it carries no CSRF token: its own signed, timed
token (shortener/safety/form_token.py) and a honeypot stand in for a CAPTCHA, and the
`report` rate-limit group counts every post per address before this view. A forged
cross-site report is no more than anyone can send from their own browser."""

import time

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hypermedia.announcements import announce
from hypermedia.context import context_of
from hypermedia.fragments import varies_on_htmx, wants_fragment
from shortener.links import access
from shortener.links.models import Link, ReportReason
from shortener.pages.views import author, redirect_303
from shortener.redirect.lookup import lookup_on
from shortener.safety import form_token, reports, review

TRAPPED = "This form could not be sent."


def reported_link(request: HttpRequest, slug: str) -> Link:
    """The link the slug names on this host, whatever its state; 404 for no link or a
    tombstone (there is nothing left to report)."""
    found = lookup_on(request, slug)
    if found is None or found.deleted:
        raise Http404
    return Link.objects.select_related("domain").get(pk=found.pk)


def client_address(request: HttpRequest) -> str:
    # The rate limiter's answer (behind TRUSTED_PROXY_COUNT proxies), as visits use it.
    return context_of(request).client_address or request.META.get("REMOTE_ADDR", "")


def form_context(link: Link, *, values=None, errors=None, said: str = "") -> dict:
    return {
        "link": link,
        "reasons": ReportReason.choices,
        "values": values or {},
        "errors": errors or {},
        "said": said,
        "form_token": form_token.issue(link.pk, time.time()),
        "token_field": form_token.FIELD,
        "honeypot": form_token.HONEYPOT,
        "text_max": reports.TEXT_MAX,
    }


def report_form(request: HttpRequest, context: dict, *, status: int = 200) -> HttpResponse:
    template = "links/report.html#form" if wants_fragment(request) else "links/report.html"
    response = render(request, template, context, status=status)
    response["Cache-Control"] = "private, no-store"  # the token is fresh each time
    response["X-Robots-Tag"] = "noindex"
    return response


@varies_on_htmx
@csrf_exempt  # its own timed token stands in: see the module's docstring
@require_http_methods(["GET", "HEAD", "POST"])
def report_link(request: HttpRequest, slug: str) -> HttpResponse:
    link = reported_link(request, slug)
    if request.method != "POST":
        return report_form(request, form_context(link))
    post = request.POST
    values = {name: post.get(name, "") for name in ("reason", "text", "email")}
    if post.get(form_token.HONEYPOT, ""):
        return report_form(request, form_context(link, values=values, said=TRAPPED), status=400)
    if said := form_token.problem(post.get(form_token.FIELD), link.pk, time.time()):
        # 422 for a person's form (htmx shows it again, with a fresh token); 400 otherwise.
        status = 422 if said in form_token.RETRY else 400
        return report_form(request, form_context(link, values=values, said=said), status=status)
    if errors := reports.problems(values):
        return report_form(request, form_context(link, values=values, errors=errors), status=422)
    reports.report(link, **values, address=client_address(request), now=timezone.now())
    template = "links/report.html#thanks" if wants_fragment(request) else "links/report.html"
    response = render(request, template, {"link": link, "thanks": True})
    response["Cache-Control"] = "private, no-store"
    return announce(response, "Thank you: the report was sent to the site's staff.")


def staff_or_404(request: HttpRequest):
    actor = author(request)
    if not access.may_review(actor):
        raise Http404  # the queue does not exist for anyone else
    return actor


def group_of(link: Link) -> dict:
    return {
        "link": link,
        "block_domain": review.block_target(link),
        "history": link.state_changes.select_related("changed_by")[:10],
        "decisions": link.decisions.select_related("decided_by")[:10],
        "may_suspend": link.owner is not None and not link.owner.is_staff,
        "suspended": access.is_suspended(link.owner),
    }


@varies_on_htmx
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    staff_or_404(request)
    groups = [group_of(link) for link in review.waiting()[:100]]
    return render(
        request, "reports/queue.html", {"groups": groups, "reasons": ReportReason.choices}
    )


@varies_on_htmx
@require_POST
def decide(request: HttpRequest, link_id: int) -> HttpResponse:
    actor = staff_or_404(request)
    link = get_object_or_404(Link.objects.live().select_related("owner", "domain"), pk=link_id)
    post = request.POST
    try:
        decided = review.decide(
            link,
            post.get("action", ""),
            by=actor,
            note=post.get("note", ""),
            passable=post.get("passable") == "on",
            reason=post.get("reason", ""),
            domain=post.get("domain", ""),
        )
    except review.ReviewRefused as refusal:
        if wants_fragment(request):
            context = {"group": refreshed(link), "reasons": ReportReason.choices}
            context["said"] = refusal.reason
            response = render(request, "reports/queue.html#group", context, status=422)
            return announce(response, refusal.reason)
        messages.error(request, refusal.reason)
        return redirect_303(reverse("report-queue"))
    if wants_fragment(request):
        context = {"group": refreshed(link), "reasons": ReportReason.choices}
        context["said"] = decided.said
        return announce(render(request, "reports/queue.html#group", context), decided.said)
    messages.success(request, decided.said)
    return redirect_303(reverse("report-queue"))


def refreshed(link: Link) -> dict:
    found = review.waiting().filter(pk=link.pk).first()
    link = found or Link.objects.select_related("owner", "domain").get(pk=link.pk)
    link.open_reports = getattr(link, "open_reports", [])
    return group_of(link)
