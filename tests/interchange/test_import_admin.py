"""Importing in the admin: upload, choose, check (a background task, nothing written), confirm,
progress; refused files and users without the permissions."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from evidence.models import EvidenceMap
from interchange.eppi.generate import generate_eppi
from interchange.models import ImportJob, ImportStatus
from interchange.tasks import progress_key, run_import_job
from studies.models import Study
from tests.factories import EvidenceMapFactory

pytestmark = pytest.mark.django_db

CHOICES = {
    "rows": ["set:1001"], "columns": ["set:1002"], "segments": "set:1003", "filters": ["set:1005"],
    "designs": "set:1003", "countries": "set:1004",
}


@pytest.fixture
def immediate(settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def upload(client: Client, data: bytes, **fields: Any) -> Any:
    payload = {"file": SimpleUploadedFile("review.json", data, content_type="application/json"), **fields}
    return client.post(reverse("admin:interchange_importjob_add"), payload)


def export(encoding: str = "utf-8-sig") -> bytes:
    return generate_eppi(references=20, outcomes=30, seed=8).to_bytes(encoding)


def test_upload_check_and_confirm(client: Client, admin_user: Any, immediate: None) -> None:
    client.force_login(admin_user)
    response = upload(client, export(), new_slug="from-eppi", new_title="From EPPI-Reviewer")
    job = ImportJob.objects.get()
    run_url = reverse("admin:interchange_importjob_run", args=[job.pk])
    assert response.status_code == 302 and response["Location"] == run_url
    page = client.get(run_url).content.decode()
    assert "Interventions (SetId 1001; 70 codes)" in page and "— Social protection (AttributeId" in page
    assert not EvidenceMap.objects.exists()

    response = client.post(run_url, CHOICES)
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED, job.failure or job.report_text
    assert "studies       20 to create" in job.plan_text
    assert not EvidenceMap.objects.exists() and not Study.objects.exists()  # checked, not written
    page = client.get(run_url).content.decode()
    assert "What the import would change" in page and "Confirm: import" in page

    client.post(run_url, {"action": "import"})
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert job.evidence_map is not None and job.evidence_map.slug == "from-eppi"
    assert Study.objects.count() == 20
    assert set(Study.history.values_list("history_user", flat=True)) == {admin_user.pk}  # type: ignore[attr-defined]
    assert "What was imported" in client.get(run_url).content.decode()


def test_a_file_that_is_not_utf8_is_refused_on_upload(client: Client, admin_user: Any) -> None:
    client.force_login(admin_user)
    response = upload(client, export("windows-1252"), new_slug="x", new_title="X")
    assert response.status_code == 200
    assert "text that is not UTF-8" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_file_with_errors_is_refused_after_the_check(client: Client, admin_user: Any, immediate: None) -> None:
    client.force_login(admin_user)
    bad = generate_eppi(references=20, outcomes=30, seed=8, defects=["sd-zero"]).to_bytes()
    upload(client, bad, new_slug="bad", new_title="Bad")
    job = ImportJob.objects.get()
    client.post(reverse("admin:interchange_importjob_run", args=[job.pk]), CHOICES)
    job.refresh_from_db()
    assert job.status == ImportStatus.REFUSED and job.error_count == 1
    assert "Data5 (Group 1 SD): must be greater than 0" in job.report_text
    response = client.post(reverse("admin:interchange_importjob_run", args=[job.pk]), {"action": "import"})
    assert response.status_code == 403
    assert not Study.objects.exists()


def test_the_check_is_queued_for_the_worker_and_the_page_shows_progress(client: Client, admin_user: Any) -> None:
    client.force_login(admin_user)
    evidence_map = EvidenceMapFactory(slug="existing")
    upload(client, export(), evidence_map=evidence_map.pk)
    job = ImportJob.objects.get()
    assert job.map_slug == "existing" and job.map_title == ""
    run_url = reverse("admin:interchange_importjob_run", args=[job.pk])
    client.post(run_url, CHOICES)
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWING
    task = DBTaskResult.objects.get()
    assert str(task.id) == job.task_id and task.args_kwargs["args"] == [job.pk, True]
    cache.set(progress_key(job.pk), {"stage": "Checking studies", "done": 4, "total": 20})
    page = client.get(run_url).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page
    assert "Checking studies: 4 of 20" in page
    assert client.post(run_url, CHOICES).status_code == 403  # not while it runs
    # What db_worker does with the queued task (the worker itself closes the test's connection).
    run_import_job.call(*task.args_kwargs["args"], **task.args_kwargs["kwargs"])
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED, job.failure
    assert "refresh" not in client.get(run_url).content.decode()


def test_importing_needs_the_permissions(client: Client, reviewer: Any) -> None:
    client.force_login(reviewer)
    assert client.get(reverse("admin:interchange_importjob_add")).status_code == 403
