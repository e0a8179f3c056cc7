"""Function-based HTML views for links: parse, call the domain, render."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from waffle import flag_is_active

from hypermedia import pagination
from hypermedia.announcements import announce
from hypermedia.fragments import varies_on_htmx, wants_fragment
from shortener import links
from shortener.domains import served
from shortener.domains.models import Domain
from shortener.links import LinkRefused, access, titles
from shortener.links.models import Link, LinkState, Tag
from shortener.pages import qr
from shortener.pages.forms import CreateLinkForm, LinkForm, RuleForm, SignupForm
from shortener.pages.workspaces import current
from shortener.policy import countries, redirect_rules
from shortener.portability.models import ExitJob
from shortener.portability.spreadsheets import csv_lines
from shortener.safety import feeds, health, reports
from shortener.visits import analytics, ranges
from shortener.visits import countries as country_sources

PER_PAGE = 20
RECENT = 10
# ?sort= on the list: a column, descending with a leading "-"; ties broken by age, and
# always last by id, so that every row has its own place and a cursor names one.
SORTS = {
    "created": ("created_at", "id"),
    "clicks": ("visit_count", "created_at", "id"),
    "title": ("title", "slug", "id"),
}
DEFAULT_SORT = "-created"


def ordering(sort: str) -> tuple[str, ...] | None:
    """The ORM ordering for a ?sort= value, or None when it names no sortable column."""
    column = sort.removeprefix("-")
    if column not in SORTS:
        return None
    sign = "-" if sort.startswith("-") else ""
    return tuple(sign + name for name in SORTS[column])


def may_create(request: HttpRequest) -> bool:
    return links.may_create(request.user)


def create_form(request: HttpRequest, data=None) -> CreateLinkForm:
    return CreateLinkForm(
        data,
        allow_custom_slug=links.may_use_custom_slugs(request.user),
        domains=links.usable_domains(author(request), current(request)),
    )


def author(request: HttpRequest):
    return request.user if request.user.is_authenticated else None


def recent_links(request: HttpRequest):
    """The current workspace's newest links that this person made."""
    if not request.user.is_authenticated:
        return Link.objects.none()
    recent = access.visible_to(request.user, current(request)).filter(owner=request.user)
    recent = recent.select_related("domain")
    return recent.prefetch_related("tags")[:RECENT]


def row_controls(request: HttpRequest) -> dict:
    """Which flag-gated controls each link row offers: asked once a page, not once a row."""
    return {
        "row_stats": flag_is_active(request, "link_analytics"),
        "row_qr": flag_is_active(request, "qr_codes"),
    }


def home_context(request: HttpRequest, form: CreateLinkForm | None = None) -> dict:
    return {
        "form": form or (create_form(request) if may_create(request) else None),
        "recent_links": recent_links(request),
        **row_controls(request),
    }


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", home_context(request))


def visible_link_or_404(request: HttpRequest, slug: str, may=access.may_see) -> Link:
    """The link if this user may see it and `may` do this to it (access decides): a 404
    for a link they may not see, a 403 for one they see but may not act on."""
    actor = author(request)
    try:
        link = links.get_visible(actor, slug)
    except Link.DoesNotExist:
        raise Http404 from None
    if not may(actor, link):  # they see it: a viewer of its workspace
        raise PermissionDenied(access.NOT_AN_EDITOR)
    return link


def safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


@varies_on_htmx
@require_http_methods(["GET", "HEAD", "POST"])
def link_collection(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return create(request)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    visible = links.visible_to(request.user, current(request)).select_related("owner", "domain")
    query = request.GET.get("q", "").strip()[:200]
    tag = request.GET.get("tag", "").strip()[:50]
    state = request.GET.get("state", "")
    domain = request.GET.get("domain", "").strip()[:253]
    sort = request.GET.get("sort", DEFAULT_SORT)
    order = ordering(sort)
    if order is None:  # a mistyped or stale sort: the default order, and say so
        messages.warning(request, "That sort order does not exist: showing newest first.")
        sort, order = DEFAULT_SORT, ordering(DEFAULT_SORT)
    visible = visible.matching(text=query, tag=tag, state=state, domain=domain).order_by(*order)
    health_filter = request.GET.get("health", "")
    visible = health.with_health(visible, health_filter)
    visible = visible.prefetch_related("tags")
    try:
        if "page" in request.GET:  # v1's page numbers: old bookmarks keep working
            page = pagination.numbered_window(request, visible, PER_PAGE)
        else:
            page = pagination.keyset_window(request, visible, order, sort, PER_PAGE)
    except (Http404, pagination.BadCursor):
        return no_such_page(request)
    response = render(
        request,
        "links/list.html",
        {
            "page": page,
            "relations": page.relations,
            "query": query,
            "tag": tag,
            "state": state if state in LinkState.values else "",
            "domain": domain,
            "domains": used_by(Domain.objects.all(), "domain", request),
            "sort": sort,
            "columns": sort_columns(sort),
            "states": [s for s in LinkState if s != LinkState.DELETED],
            "health": health_filter if health_filter in health.FILTERS else "",
            "health_filters": health.FILTERS.items()
            if flag_is_active(request, "link_health")
            else (),
            "tags": used_by(Tag.objects.all(), "tags", request),
            "bulk_actions": BULK_CHOICES,
            "exit_jobs": access.their(request.user, ExitJob.objects)[:3],
            **row_controls(request),
        },
    )
    pagination.count_headers(response, page)
    return response


def used_by(choices, relation: str, request: HttpRequest):
    """The filter's choices that some link of the list has: each asked as "is there one?",
    which an index answers at once, not by joining every visible link (a million for
    staff) and removing duplicates."""
    seen = links.visible_to(request.user, current(request))
    seen = seen.filter(**{relation: OuterRef("pk")})
    return choices.filter(Exists(seen))


def sort_columns(sort: str) -> dict[str, dict]:
    """Each sortable column: its aria-sort now and the ?sort= a click on its header asks."""
    columns = {}
    for column in SORTS:
        if sort.removeprefix("-") == column:
            descending = sort.startswith("-")
            columns[column] = {
                "aria_sort": "descending" if descending else "ascending",
                "next": column if descending else f"-{column}",
            }
        else:  # numbers and dates start with the largest, words with A
            columns[column] = {
                "aria_sort": "",
                "next": column if column == "title" else f"-{column}",
            }
    return columns


def no_such_page(request: HttpRequest) -> HttpResponse:
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("cursor", None)
    return render(
        request,
        "404.html",
        {
            "reason": "There is no such page of this list: it has fewer pages, "
            "or the page number is not a number, or the link to it is damaged.",
            "back": f"{request.path}?{query.urlencode()}" if query else request.path,
            "back_text": "Go to the first page",
        },
        status=404,
    )


def create(request: HttpRequest) -> HttpResponse:
    if access.is_suspended(request.user):
        raise PermissionDenied(access.SUSPENDED)
    if not may_create(request):
        return redirect_to_login(reverse("home"))
    workspace = current(request) or ...  # staff across all: their own
    if workspace is not ... and not access.may_create_in(request.user, workspace):
        raise PermissionDenied(access.NOT_AN_EDITOR)
    form = create_form(request, request.POST)
    if form.is_valid():
        try:
            link = links.create(
                form.values(),
                actor=author(request),
                own_host=request.get_host(),
                workspace=workspace,
            )
        except LinkRefused as refusal:
            form.refused(refusal)
        else:
            if form.cleaned_data.get("fill_title") and not link.title:
                titles.fill_later(link)
            return created(request, link)
    return invalid_create(request, form)


def created(request: HttpRequest, link: Link) -> HttpResponse:
    if wants_fragment(request):
        return render(
            request,
            "home.html#created",
            {
                "form": create_form(request),
                "created_link": link,
                "recent_links": recent_links(request),
                "focus": True,
                **row_controls(request),
            },
        )
    # "linked": base.html turns the short URL in this message into its link.
    messages.success(request, f"Created {link.short_url}", extra_tags="linked")
    if not access.may_see(author(request), link):  # e.g. made signed out: show where it leads
        on_site = link.domain_id == served.site_pk()  # else the preview is on its domain
        return redirect_303(
            reverse("preview", args=[link.slug]) if on_site else f"{link.short_url}+"
        )
    return redirect_303(link.get_absolute_url())


def invalid_create(request: HttpRequest, form: CreateLinkForm) -> HttpResponse:
    if wants_fragment(request):
        return render(request, "home.html#create-form", {"form": form, "focus": True}, status=422)
    return render(request, "home.html", home_context(request, form), status=422)


@require_GET
def link_detail(request: HttpRequest, slug: str) -> HttpResponse:
    link = visible_link_or_404(request, slug)
    return render(request, "links/detail.html", detail_context(request, link))


def detail_context(
    request: HttpRequest, link: Link, *, rule_form=None, rules_message: str = ""
) -> dict:
    return {
        "link": link,
        "history": link.destination_changes.select_related("changed_by")[:20],
        "state_history": link.state_changes.select_related("changed_by")[:20],
        "qr_svg": qr.inline_svg(link.short_url) if flag_is_active(request, "qr_codes") else None,
        "rules": [(rule, redirect_rules.describe(rule)) for rule in link.rules],
        "max_rules": redirect_rules.MAX_RULES,
        "rule_form": rule_form or RuleForm(),
        "rules_message": rules_message,
        # The reasons only: who reported it stays with staff.
        "report_reasons": reports.open_reasons(link),
        "feed_quarantine": feeds.quarantined_by_feed(link),
        "unreachable": health.unreachable_since(link),
    }


@varies_on_htmx
@require_http_methods(["GET", "HEAD", "POST"])
def link_edit(request: HttpRequest, slug: str) -> HttpResponse:
    link = visible_link_or_404(request, slug, access.may_change)
    if request.method == "POST":
        form = LinkForm(request.POST, instance=link)
        if form.is_valid():
            try:
                links.edit(link, by=request.user, own_host=request.get_host(), **form.values())
            except LinkRefused as refusal:
                form.refused(refusal)
            else:
                if wants_fragment(request):
                    # The heading and the tab's title change with the title: send them too.
                    response = render(
                        request,
                        "links/detail.html#saved",
                        {**detail_context(request, link), "focus": "edit"},
                    )
                    return announce(response, "Saved. The short link is unchanged.")
                messages.success(request, "Saved. The short link is unchanged.")
                return redirect_303(link.get_absolute_url())
        template = "links/edit.html#form" if wants_fragment(request) else "links/edit.html"
        return render(request, template, {"link": link, "form": form, "focus": True}, status=422)
    form = LinkForm(instance=link)
    template = "links/edit.html#form" if wants_fragment(request) else "links/edit.html"
    return render(request, template, {"link": link, "form": form, "focus": True})


def redirect_303(url: str) -> HttpResponse:
    response = redirect(url)
    response.status_code = 303
    return response


def state_changed(
    request: HttpRequest, link: Link, message: str, *, level=messages.success
) -> HttpResponse:
    """After disable/enable (or its refusal): the fragment that was swapped, or back where
    the user was."""
    if wants_fragment(request):
        if request.htmx.target == "link-panel":
            context = {**detail_context(request, link), "focus": "state"}
            return announce(render(request, "links/detail.html#panel", context), message)
        context = {
            "link": link,
            "row_focus": True,
            "in_list": request.POST.get("view") == "list",
            **row_controls(request),
        }
        return announce(render(request, "links/list.html#row", context), message)
    level(request, message)
    return redirect_303(safe_next(request, link.get_absolute_url()))


@varies_on_htmx
@require_POST
def link_disable(request: HttpRequest, slug: str) -> HttpResponse:
    link = visible_link_or_404(request, slug, access.may_disable)
    links.disable(link, by=request.user)
    return state_changed(request, link, f"Disabled {link.slug}: it now answers 410 Gone.")


@varies_on_htmx
@require_POST
def link_enable(request: HttpRequest, slug: str) -> HttpResponse:
    link = visible_link_or_404(request, slug, access.may_enable)
    try:
        links.enable(link, by=request.user)
    except LinkRefused as refusal:  # it leads to a blocked domain: it stays disabled
        return state_changed(request, link, refusal.reason, level=messages.error)
    return state_changed(request, link, f"Enabled {link.slug}.")


@require_http_methods(["GET", "HEAD", "POST"])
def link_delete(request: HttpRequest, slug: str) -> HttpResponse:
    link = visible_link_or_404(request, slug, access.may_delete)
    if request.method == "POST":
        links.delete(link, by=request.user)
        messages.success(
            request, f"Deleted {link.slug}. Its short URL answers 410 Gone and is never reused."
        )
        return redirect_303(safe_next(request, reverse("link-list")))
    return render(request, "links/confirm_delete.html", {"link": link})


@require_GET
def link_qr(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    if not flag_is_active(request, "qr_codes"):
        raise Http404
    link = visible_link_or_404(request, slug)
    body, content_type = qr.download(link.short_url, kind)
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{link.slug}-qr.{kind}"'
    return response


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if not flag_is_active(request, "open_signup"):
        # Not the generic 404's "a short link may have been mistyped": say what is so.
        context = {
            "reason": "Sign-up is off on this site: staff create accounts in admin.",
            "back": reverse("login"),
            "back_text": "Sign in",
        }
        return render(request, "404.html", context, status=404)
    form = SignupForm(request.POST or None)
    # Where to go once signed up (an invitation's page): only somewhere on this site.
    wanted = request.POST.get("next") or request.GET.get("next", "")
    allowed = url_has_allowed_host_and_scheme(wanted, {request.get_host()}, request.is_secure())
    context = {"form": form, "next": wanted if allowed else ""}
    if request.method == "POST":
        if form.is_valid():
            user = form.save()
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome to Torii.")
            return redirect_303(context["next"] or reverse("home"))
        return render(request, "registration/signup.html", context, status=422)
    return render(request, "registration/signup.html", context)


def analytics_or_404(request: HttpRequest, slug: str) -> Link:
    if not flag_is_active(request, "link_analytics"):
        raise Http404
    return visible_link_or_404(request, slug, access.may_read_stats)


def asked_range(request: HttpRequest) -> tuple[ranges.DateRange, ranges.RangeRefused | None]:
    """The range of days asked for, or the default and why the one asked for is refused."""
    today = timezone.now().date()
    try:
        period = ranges.parse(
            request.GET.get("days"), request.GET.get("from"), request.GET.get("to"), today
        )
    except ranges.RangeRefused as refused:
        return ranges.last_days(ranges.DEFAULT_DAYS, today), refused
    return period, None


@varies_on_htmx
@require_GET
def link_stats(request: HttpRequest, slug: str) -> HttpResponse:
    """Totals, the daily chart and breakdowns for a range of days, read from the rollups.

    A range that cannot be answered is a 400 that shows the default range and says why."""
    link = analytics_or_404(request, slug)
    page = {
        "link": link,
        "name": link.slug,
        "stats_url": reverse("link-stats", args=[link.key]),
        "csv_url": reverse("link-visits-csv", args=[link.key]),
        "csv_text": "Download visits (CSV)",
    }
    return stats_page(request, link, page, *asked_range(request))


@varies_on_htmx
@require_GET
def site_stats(request: HttpRequest) -> HttpResponse:
    """The link stats page over every link (the site's rollups), with the top links and
    the visits to no link; staff only (access decides), a 404 for anyone else."""
    site_stats_or_404(request)
    period, refusal = asked_range(request)
    page = {
        "name": "the whole site",
        "stats_url": reverse("site-stats"),
        "csv_url": f"{reverse('site-stats-csv')}?{urlencode(period.query())}",
        "csv_text": "Download days (CSV)",
    }
    if not (wants_fragment(request) and request.htmx.target == "stats-totals"):
        page |= {  # the whole page only: the totals' refresh reads a row a day
            "top_links": analytics.top_links(period),
            "orphans": [
                (host, list(zip(analytics.ORPHAN_KINDS, counts, strict=True)))
                for host, counts in analytics.orphans(period)
            ],
            "orphan_kinds": analytics.ORPHAN_KINDS,
        }
    return stats_page(request, analytics.SITE, page, period, refusal)


def site_stats_or_404(request: HttpRequest) -> None:
    if not flag_is_active(request, "link_analytics") or not access.may_read_site_stats(
        author(request)
    ):
        raise Http404


def stats_page(
    request: HttpRequest,
    of: analytics.Subject,
    page: dict,
    period: ranges.DateRange,
    refusal: ranges.RangeRefused | None,
) -> HttpResponse:
    """A link's stats page, or the site's: what `of` clicked over `period`. `page` names
    it (`name`, `stats_url`, `csv_url`) and adds what only it shows."""
    status = 400 if refusal else 200
    if wants_fragment(request) and request.htmx.target == "stats-totals":
        context = {**page, **stats_totals(period, analytics.totals(of, period))}
        return render(request, "links/stats.html#totals", context, status=status)
    rows = analytics.day_rows(of, period)
    series = analytics.daily_of(rows, period)
    clicks = sum(n for _, n in series)
    chart = analytics.bar_chart(
        series,
        title=f"Clicks per day, {period.describe()}",
        description=f"{clicks} clicks on {page['name']} between {series[0][0]} and "
        f"{series[-1][0]}.",
    )
    context = {
        **page,
        "periods": ranges.PERIODS,
        "max_days": ranges.MAX_DAYS,
        "refusal": refusal,
        "series": series,
        "chart": chart,
        "breakdowns": analytics.breakdowns(of, period),
        "countries": [
            (code, countries.flag(code), countries.name(code), n)
            for code, n in analytics.countries(of, period)
        ],
        # Which file answers, and how old it is: a country table is only as good as that.
        "country_file": country_sources.answering(),
        "country_header": settings.COUNTRY_HEADER
        if country_sources.known_from() in ("header", "both")
        else "",
        **stats_totals(period, analytics.totals_of(rows)),
    }
    return render(request, "links/stats.html", context, status=status)


def stats_totals(period: ranges.DateRange, totals: analytics.Totals) -> dict:
    return {
        "period": period,
        "period_query": urlencode(period.query()),
        "totals": totals,
        "refreshed_at": timezone.now(),
    }


@require_GET
def link_visits_csv(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    link = analytics_or_404(request, slug)
    header = ["time", "referrer_host", "browser", "os", "device", "bot", "visitor", "country"]
    visits = ([at.isoformat(), *rest] for at, *rest in analytics.visits_for_export(link))
    response = StreamingHttpResponse(
        csv_lines(header, visits), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{link.slug}-visits.csv"'
    return response


@require_GET
def site_stats_csv(request: HttpRequest) -> HttpResponse:
    """The site's days over the range asked for, a row a day from the rollups (raw
    visits of every link would be millions of rows, and retention deletes them); a
    range that cannot be answered is a 400 saying why, and no file."""
    site_stats_or_404(request)
    period, refusal = asked_range(request)
    if refusal is not None:
        return HttpResponse(
            f"{refusal.reason}\n", status=400, content_type="text/plain; charset=utf-8"
        )
    header = ["day", "clicks", "humans", "bots", "unique_visitors"]
    header += [f"orphan_{kind}" for kind in analytics.ORPHAN_KINDS]
    by_day = {row[0]: row for row in analytics.day_rows(analytics.SITE, period)}
    orphans = analytics.orphans_by_day(period)
    days = (
        [day.isoformat(), clicks, clicks - bots, bots, visitors, *orphans[day]]
        for day, clicks, bots, visitors in (
            by_day.get(day, (day, 0, 0, 0)) for day in period.dates()
        )
    )
    response = StreamingHttpResponse(
        csv_lines(header, days), content_type="text/csv; charset=utf-8"
    )
    first, last = period.start.isoformat(), period.end.isoformat()
    response["Content-Disposition"] = f'attachment; filename="site-{first}-{last}.csv"'
    return response


BULK_CHOICES = [
    ("disable", "Disable"),
    ("enable", "Enable"),
    ("delete", "Delete…"),
    ("tag", "Add a tag"),
]


@require_POST
def link_bulk(request: HttpRequest) -> HttpResponse:
    """One action on the rows selected in the list; delete asks once on its own page."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("link-list"))
    action = request.POST.get("action", "")
    selected = request.POST.getlist("slug")
    tag = request.POST.get("tag", "")
    back = safe_next(request, reverse("link-list"))
    try:
        links.bulk.check(action, selected, tag)
    except LinkRefused as refusal:
        messages.error(request, f"Nothing was changed: {refusal.reason}")
        return redirect_303(back)
    if action == "delete" and request.POST.get("confirmed") != "yes":
        chosen = links.bulk.chosen(selected, by=request.user).values()
        return render(
            request,
            "links/confirm_bulk_delete.html",
            {"chosen": chosen, "selected": selected, "next": back},
        )
    outcome = links.bulk.apply(
        action, selected, by=request.user, tag=tag, own_host=request.get_host()
    )
    level = messages.WARNING if outcome.refused else messages.SUCCESS
    messages.add_message(request, level, outcome.sentence())
    return redirect_303(back)
