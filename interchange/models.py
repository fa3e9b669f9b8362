"""Imports started in the admin: the uploaded file, what the reviewer picked, and how far it got."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from evidence.models import EvidenceMap


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded: choose the rows and columns"
    PREVIEWING = "previewing", "Checking the file (nothing is written)"
    PREVIEWED = "previewed", "Checked: confirm to import"
    REFUSED = "refused", "Refused: the file has errors"
    IMPORTING = "importing", "Importing"
    DONE = "done", "Imported"
    FAILED = "failed", "Failed"


RUNNING = (ImportStatus.PREVIEWING, ImportStatus.IMPORTING)


class ImportJob(models.Model):
    """One EPPI-Reviewer file on its way into a map, run by a background task (interchange.tasks)."""

    file_name = models.CharField(max_length=255)
    data = models.BinaryField(editable=False, help_text="The file as uploaded.")
    # The code sets of the file as (value, label) pairs for the selection form, read once on upload.
    tree = models.JSONField(default=list, editable=False)
    summary = models.CharField(max_length=300, blank=True, help_text="What the file holds.")

    evidence_map = models.ForeignKey(
        EvidenceMap, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The map imported into (set once it exists).",
    )
    map_slug = models.SlugField(max_length=80)
    map_title = models.CharField(max_length=200, blank=True, help_text="Title of a new map; empty to import into an existing one.")

    rows = models.CharField(max_length=1000, blank=True)
    columns = models.CharField(max_length=1000, blank=True)
    segments = models.CharField(max_length=64, blank=True)
    filters = models.CharField(max_length=1000, blank=True)
    designs = models.CharField(max_length=64, blank=True)
    countries = models.CharField(max_length=64, blank=True)
    publish = models.BooleanField(default=False, help_text="Publish new studies at once (drafts otherwise).")

    status = models.CharField(max_length=16, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    task_id = models.CharField(max_length=64, blank=True)
    plan_text = models.TextField(blank=True)
    report_text = models.TextField(blank=True)
    error_count = models.PositiveIntegerField(default=0)
    failure = models.TextField(blank=True, help_text="Why the task failed, when it did.")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=ImportStatus.values), name="import_job_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} → {self.map_slug}"

    @property
    def running(self) -> bool:
        return self.status in RUNNING

    def selection_values(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "columns": self.columns, "segments": self.segments, "filters": self.filters,
            "designs": self.designs, "countries": self.countries, "publish": self.publish,
        }
