"""The browser's bulk create and export: paste or upload, a background task, a progress
page (htmx polling, or a refreshing page without JavaScript), the results as a table
and as CSV; and the list's links exported as CSV or JSON Lines with its filters, or as the
files another web server serves without Torii (the way out, shortener/portability/exits.py)."""

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from hypermedia.context import context_of
from hypermedia.fragments import varies_on_htmx, wants_fragment
from shortener.domains.models import Domain
from shortener.links import access
from shortener.links.models import LinkState
from shortener.pages.workspaces import current
from shortener.portability import bulk, exit_jobs, exits, export, formats
from shortener.portability.models import BulkJob, BulkStatus, ExitJob
from shortener.portability.reading import Unreadable
from shortener.portability.spreadsheets import csv_lines

FORMAT_CHOICES = [(name, formats.FORMATS[name].label) for name in bulk.BROWSER_FORMATS]


class BulkForm(forms.Form):
    lines = forms.CharField(
        label="Links, one a line",
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        help_text=f"Up to {bulk.MAX_ROWS:,} lines: a URL, or slug,URL, "
        "or CSV whose first line names its columns (url, slug, title, tags…).",
    )
    file = forms.FileField(
        label="Or upload a file",
        required=False,
        help_text="Torii's own export, or one from Bitly, YOURLS, Shlink or Kutt.",
    )
    format = forms.ChoiceField(label="Format", choices=FORMAT_CHOICES, initial="lines")

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            if upload.size > bulk.MAX_BYTES:
                raise forms.ValidationError(
                    f"The file is larger than {bulk.MAX_BYTES // 1024 // 1024} MB; split it, "
                    "or use the import_links command."
                )
            data["source"] = upload.read()
        elif (data.get("lines") or "").strip():
            data["source"] = data["lines"].encode("utf-8")
        else:
            raise forms.ValidationError("Paste some links or choose a file.")
        if len(data["source"]) > bulk.MAX_BYTES:
            raise forms.ValidationError("That is more than 2 MB; split it.")
        fmt = formats.FORMATS[data.get("format") or "lines"]
        try:
            data["total"] = bulk.count_rows(data["source"], fmt)
        except Unreadable as error:
            raise forms.ValidationError(str(error)) from None
        return data


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def bulk_create(request: HttpRequest) -> HttpResponse:
    form = BulkForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            upload = data.get("file")
            job = BulkJob.objects.create(
                owner=request.user,
                format=data["format"],
                source=data["source"],
                filename=upload.name[:200] if upload else "",
                total=data["total"],
            )
            limits = context_of(request).rate_limits
            if limits is not None:
                limits.links_created(data["total"] - 1)  # the request counted one
            bulk.enqueue(job)
            return redirect(job.get_absolute_url(), permanent=False)
        return render(request, "links/import.html", {"form": form}, status=422)
    jobs = access.their(request.user, BulkJob.objects).defer("source", "results")[:5]
    return render(request, "links/import.html", {"form": form, "jobs": jobs})


def own_job(request: HttpRequest, job_id: int) -> BulkJob:
    job = access.their(request.user, BulkJob.objects).filter(pk=job_id).defer("source").first()
    if job is None:
        raise Http404
    return job


@login_required
@varies_on_htmx
@require_GET
def bulk_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = own_job(request, job_id)
    template = "links/bulk.html#progress" if wants_fragment(request) else "links/bulk.html"
    rows = bulk.shown_results(job) if job.finished else []
    return render(request, template, {"job": job, "rows": rows})


@login_required
@require_GET
def bulk_results_csv(request: HttpRequest, job_id: int) -> StreamingHttpResponse:
    job = own_job(request, job_id)
    rows = (
        [row["row"], row["status"], row["short_url"], row["target"], row["reason"]]
        for row in bulk.shown_results(job)
    )
    response = StreamingHttpResponse(
        csv_lines(["row", "status", "short_url", "target", "reason"], rows),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="bulk-{job.pk}-results.csv"'
    return response


def filters_of(request: HttpRequest) -> dict[str, str]:
    """The list's filters, as the list reads them."""
    return {
        "q": request.GET.get("q", "")[:200],
        "tag": request.GET.get("tag", "")[:50],
        "state": request.GET.get("state", ""),
        "domain": request.GET.get("domain", "").strip()[:253],
        # The current workspace's links (a background file keeps it in its choices).
        "workspace": str(getattr(current(request), "pk", "") or ""),
    }


def listed(request: HttpRequest):
    """The links the list shows with its filters, of those the user may export."""
    return export.listed(request.user, filters_of(request))


@login_required
@require_GET
def link_export(request: HttpRequest, kind: str) -> StreamingHttpResponse:
    """The list's links (with its filters), tombstones included, streamed."""
    chosen = listed(request)
    if request.GET.get("state") == LinkState.DELETED:
        chosen = chosen.filter(deleted_at__isnull=False)
    items = export.records(chosen)
    response = StreamingHttpResponse(export.lines(kind, items), content_type=export.FORMATS[kind])
    response["Content-Disposition"] = f'attachment; filename="links.{kind}"'
    return response


@login_required
@require_GET
def redirects_export(request: HttpRequest, kind: str) -> HttpResponse:
    """The way out from the browser: the live redirects of the links the list shows (its
    filters; a person's own links, everything for staff) as a file another web server
    serves. `unsupported=plain` sends links with rules, forwarding, a limit or an expiry
    to their plain destination; by default they are left out, as protected ones always
    are. `_redirects` and the static site are for one domain: the list's, or the site's.
    Past EXPORT_DIRECT_MAX links the file is written in the background, and the answer
    is its job page."""
    choices = filters_of(request) | {
        "unsupported": exits.PLAIN if request.GET.get("unsupported") == exits.PLAIN else exits.SKIP,
    }
    choices["host"] = choices["domain"] or Domain.objects.site().host
    chosen = export.listed(request.user, choices)
    total = chosen.count()
    if total > settings.EXPORT_DIRECT_MAX:
        job = exit_jobs.start(request.user, kind, choices, total)
        return redirect(job.get_absolute_url(), permanent=False)
    host = exits.domain_of(kind, choices["host"])
    result = exits.plan(export.records(chosen), choices["unsupported"], host)
    response = HttpResponse(
        exits.render(kind, result, choices["host"]), content_type=exits.FORMATS[kind]
    )
    response["Content-Disposition"] = f'attachment; filename="{exits.FILENAMES[kind]}"'
    return response


def own_exit(request: HttpRequest, job_id: int) -> ExitJob:
    job = access.their(request.user, ExitJob.objects).filter(pk=job_id).first()
    if job is None:
        raise Http404
    return job


@login_required
@varies_on_htmx
@require_GET
def exit_job(request: HttpRequest, job_id: int) -> HttpResponse:
    """A file of redirects being written: its progress, then its download."""
    job = own_exit(request, job_id)
    template = "links/exit_job.html#progress" if wants_fragment(request) else "links/exit_job.html"
    return render(
        request,
        template,
        {"job": job, "filename": exits.FILENAMES[job.kind], "kept": exit_jobs.KEEP},
    )


@login_required
@require_GET
def exit_download(request: HttpRequest, job_id: int) -> FileResponse:
    job = own_exit(request, job_id)
    path = exit_jobs.path_of(job)
    if job.status != BulkStatus.DONE or not path.exists():
        raise Http404
    return FileResponse(
        open(path, "rb"),
        as_attachment=True,
        filename=job.filename,
        content_type=exits.FORMATS[job.kind],
    )
