"""A bulk create from the browser: what was pasted or uploaded, its progress, each row's
result. The task (`shortener/portability/bulk.py`) fills it in; the page reads it."""

from django.conf import settings
from django.db import models
from django.urls import reverse


class BulkStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class BulkJob(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bulk_jobs"
    )
    format = models.CharField(max_length=20)
    source = models.BinaryField(help_text="The pasted text or uploaded file, as sent.")
    filename = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=BulkStatus.choices, default=BulkStatus.QUEUED)
    total = models.PositiveIntegerField(default=0, help_text="Rows to do.")
    done = models.PositiveIntegerField(default=0, help_text="Rows done so far.")
    created = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True, help_text="Why the whole job failed, if it did.")
    # [{"row": n, "status": "created" | "already there" | "refused", "slug", "target", "reason"}]
    results = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"bulk create {self.pk} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("bulk-detail", args=[self.pk])

    @property
    def finished(self) -> bool:
        return self.status in (BulkStatus.DONE, BulkStatus.FAILED)

    @property
    def percent(self) -> int:
        return 100 if self.finished or not self.total else min(100, self.done * 100 // self.total)
