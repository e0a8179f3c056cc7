"""The browser's background jobs: a bulk create (what was pasted or uploaded, its
progress, each row's result; `shortener/portability/bulk.py`) and a file of the live
redirects (`shortener/portability/exit_jobs.py`). The task fills a job in; the page reads it."""

from django.conf import settings
from django.db import models
from django.urls import reverse

from shortener.portability import exits


class BulkStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Job(models.Model):
    """What every background job of the browser shows: its state and how far it got."""

    status = models.CharField(max_length=10, choices=BulkStatus.choices, default=BulkStatus.QUEUED)
    total = models.PositiveIntegerField(default=0, help_text="Rows or links to do.")
    done = models.PositiveIntegerField(default=0, help_text="Rows or links done so far.")
    message = models.TextField(blank=True, help_text="Why the whole job failed, if it did.")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def finished(self) -> bool:
        return self.status in (BulkStatus.DONE, BulkStatus.FAILED)

    @property
    def percent(self) -> int:
        return 100 if self.finished or not self.total else min(100, self.done * 100 // self.total)


class BulkJob(Job):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bulk_jobs"
    )
    format = models.CharField(max_length=20)
    source = models.BinaryField(help_text="The pasted text or uploaded file, as sent.")
    filename = models.CharField(max_length=200, blank=True)
    created = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    # [{"row": n, "status": "created" | "already there" | "refused", "slug", "target", "reason"}]
    results = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"bulk create {self.pk} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("bulk-detail", args=[self.pk])


class ExitJob(Job):
    """A file of the live redirects written in the background, for a browser that asked for
    more links than one response should carry. The file lives in EXPORT_DIR for a day,
    then the job and its file are removed (shortener/portability/exit_jobs.py)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exit_jobs"
    )
    kind = models.CharField(max_length=20, help_text="nginx, apache, caddy, redirects, static.")
    # The list's filters and the choices, as the page read them:
    # {"q", "tag", "state", "domain", "host", "unsupported"}.
    choices = models.JSONField(default=dict, blank=True)
    written = models.PositiveIntegerField(default=0)
    left_out = models.PositiveIntegerField(default=0)
    plain = models.PositiveIntegerField(default=0)
    size = models.PositiveBigIntegerField(default=0, help_text="The file's bytes.")

    def __str__(self) -> str:
        return f"redirects export {self.pk} ({self.kind}, {self.status})"

    def get_absolute_url(self) -> str:
        return reverse("exit-job", args=[self.pk])

    @property
    def filename(self) -> str:
        return exits.FILENAMES[self.kind]
