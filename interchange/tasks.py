"""Imports from the admin as background tasks (django-tasks, database backend): the web worker only
stores the file and the reviewer's choices; `manage.py db_worker` runs the check and the import.

While a task runs, its stage and counts are kept in the shared cache (the import's writes are in
one transaction, invisible to the progress page until the end); the page reads them from there.
With a cache of its own per process (Django's local-memory cache, the default without
CACHE_URL) the page shows only that the task is running.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache
from django.utils import translation
from django_tasks import task

from evidence.models import EvidenceMap
from interchange.eppi.convert import Selection, parse_ids
from interchange.eppi.pipeline import import_eppi
from interchange.models import ImportJob, ImportStatus

PROGRESS_SECONDS = 3600
PROGRESS_EVERY = 0.5  # seconds between two writes of the progress of one stage
PLAN_LINES = 25


def progress_key(job_id: int) -> str:
    return f"egm:import-job:{job_id}:progress"


def progress_of(job: ImportJob) -> dict[str, Any] | None:
    """The running task's stage and counts, when the cache has them."""
    found = cache.get(progress_key(job.pk))
    return found if isinstance(found, dict) else None


class CacheProgress:
    """An import's progress callback that keeps the latest stage in the shared cache."""

    def __init__(self, job_id: int) -> None:
        self.key = progress_key(job_id)
        self.stage = ""
        self.written = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage == self.stage and now - self.written < PROGRESS_EVERY:
            return
        self.stage, self.written = stage, now
        cache.set(self.key, {"stage": stage, "done": done, "total": total}, PROGRESS_SECONDS)


def selection_of(job: ImportJob) -> Selection:
    return Selection(
        rows=parse_ids(job.rows), columns=parse_ids(job.columns), segments=job.segments or None,
        filters=parse_ids(job.filters), designs=job.designs or None, countries=job.countries or None,
        publish=job.publish,
    )


@task()
def run_import_job(job_id: int, dry_run: bool) -> str:
    """Check (`dry_run`) or import the job's file; the outcome is kept on the job."""
    # The file's names are the map's original (English) texts, whatever language the reviewer
    # who started the import reads the admin in (a name set in French would fill name_fr).
    with translation.override("en"):
        return _run_import_job(job_id, dry_run)


def _run_import_job(job_id: int, dry_run: bool) -> str:
    job = ImportJob.objects.get(pk=job_id)
    job.status = ImportStatus.PREVIEWING if dry_run else ImportStatus.IMPORTING
    job.save(update_fields=["status", "updated_at"])
    try:
        create = not EvidenceMap.objects.filter(slug=job.map_slug).exists() and bool(job.map_title)
        result = import_eppi(
            bytes(job.data), selection_of(job), slug=job.map_slug, user=job.created_by,
            title=job.map_title if create else None, dry_run=dry_run, source_name=job.file_name,
            progress=CacheProgress(job.pk),
        )
    except Exception as exc:
        job.status = ImportStatus.FAILED
        job.failure = f"{type(exc).__name__}: {exc}"
        job.save(update_fields=["status", "failure", "updated_at"])
        raise
    finally:
        cache.delete(progress_key(job.pk))
    job.plan_text = "\n".join(result.plan.lines(limit=PLAN_LINES)) if result.plan is not None else ""
    job.report_text = "\n".join(result.report.lines())
    job.error_count = len(result.report.errors)
    if result.refused:
        job.status = ImportStatus.REFUSED
    elif dry_run:
        job.status = ImportStatus.PREVIEWED
    else:
        job.status = ImportStatus.DONE
        job.evidence_map = EvidenceMap.objects.filter(slug=job.map_slug).first()
    job.save()
    return str(job.status)
