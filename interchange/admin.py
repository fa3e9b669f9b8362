"""Imports in the admin: upload a file, see its code sets and choose the rows, columns, segments and
filters, check (a dry run, as a background task) and see what would change, confirm, and follow
the import's progress. The web worker stores the file and the choices; `db_worker` does the work."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from interchange.forms import SelectionForm, UploadForm, tree_choices
from interchange.importing.report import plural
from interchange.models import ImportJob, ImportStatus
from interchange.table import layout
from interchange.tasks import progress_of, run_import_job

# Adding an import job is a model permission; what the import then writes needs the role on
# the map that its changes need (checked by the import pipeline: interchange.importing.run).
IMPORT_PERMISSIONS = ("interchange.add_importjob",)
REFRESH_SECONDS = 2


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin[ImportJob]):
    list_display = ("file_name", "map_slug", "status", "created_by", "created_at")
    list_filter = ("status",)
    search_fields = ("file_name", "map_slug")
    change_list_template = "admin/interchange/importjob/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ImportJob]:
        # The file itself can be tens of megabytes: lists never load it.
        jobs = super().get_queryset(request).defer("data", "tree").select_related("created_by")
        creator: Any = request.user
        return jobs if request.user.is_superuser else jobs.filter(created_by=creator)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A reviewer's role on some map at least (or the permission to create maps).
        may_write = request.user.has_perm("evidence.reviewer") or request.user.has_perm("evidence.add_evidencemap")
        return request.user.has_perms(IMPORT_PERMISSIONS) and may_write

    def has_view_permission(self, request: HttpRequest, obj: ImportJob | None = None) -> bool:
        # Each user follows their own jobs (superusers: all).
        if obj is not None and obj.created_by_id != request.user.pk and not request.user.is_superuser:
            return False
        return self.has_add_permission(request) or super().has_view_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: ImportJob | None = None) -> bool:
        return self.has_add_permission(request) and self.has_view_permission(request, obj)

    def get_urls(self) -> list[URLPattern]:
        return [
            path("<int:pk>/run/", self.admin_site.admin_view(self.job_view), name="interchange_importjob_run"),
            path("spreadsheet-template/", self.admin_site.admin_view(self.template_view),
                 name="interchange_table_template"),
            *super().get_urls(),
        ]

    def template_view(self, request: HttpRequest) -> HttpResponse:
        """The spreadsheet template for `manage.py import_table`, to fill in."""
        response = HttpResponse(layout.template(), content_type=layout.XLSX_CONTENT_TYPE)
        response["Content-Disposition"] = 'attachment; filename="evidence-map-template.xlsx"'
        return response

    def _context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title, **extra}

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """Upload: the file is read once here (its code sets kept for the choices); nothing is imported."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            eppi = form.eppi
            existing = form.cleaned_data["evidence_map"]
            outcomes = sum(len(r.outcomes) for r in eppi.references)
            job = ImportJob.objects.create(
                file_name=form.cleaned_data["file"].name[:255], data=form.data_bytes, tree=tree_choices(eppi),
                summary=f"{plural(len(eppi.code_sets), 'code set')}, {plural(len(eppi.references), 'reference')}, "
                        f"{plural(outcomes, 'outcome')}",
                evidence_map=existing, map_slug=existing.slug if existing else form.cleaned_data["new_slug"],
                map_title="" if existing else form.cleaned_data["new_title"].strip(),
                created_by_id=request.user.pk,  # the admin lets only signed-in staff here
            )
            return HttpResponseRedirect(reverse("admin:interchange_importjob_run", args=[job.pk]))
        return TemplateResponse(request, "admin/interchange/importjob/upload.html",
                                self._context(request, "Import an EPPI-Reviewer file", form=form))

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:interchange_importjob_run", args=[object_id]))

    def job_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """One import: choose and check, see the plan and the report, confirm, follow its progress."""
        job = get_object_or_404(ImportJob.objects.defer("data"), pk=pk)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        form = SelectionForm(initial=SelectionForm.initial_from(job.selection_values()), tree=job.tree)
        if request.method == "POST":
            if not self.has_change_permission(request, job) or job.running:
                raise PermissionDenied
            if request.POST.get("action") == "import":
                if job.status != ImportStatus.PREVIEWED:
                    raise PermissionDenied
                return self._start(request, job, dry_run=False)
            form = SelectionForm(request.POST, tree=job.tree)
            if form.is_valid() and job.status != ImportStatus.DONE:
                for name, value in form.values().items():
                    setattr(job, name, value)
                job.save()
                return self._start(request, job, dry_run=True)
        context = self._context(
            request, f"Import of {job.file_name}", job=job, form=form, progress=progress_of(job) if job.running else None,
            refresh=REFRESH_SECONDS if job.running else None,
            map_url=job.evidence_map.get_absolute_url() if job.evidence_map else None,
        )
        return TemplateResponse(request, "admin/interchange/importjob/job.html", context)

    def _start(self, request: HttpRequest, job: ImportJob, *, dry_run: bool) -> HttpResponse:
        job.status = ImportStatus.PREVIEWING if dry_run else ImportStatus.IMPORTING
        job.save(update_fields=["status", "updated_at"])
        result = run_import_job.enqueue(job.pk, dry_run)
        ImportJob.objects.filter(pk=job.pk).update(task_id=str(result.id))
        messages.info(request, "The file is being checked; nothing is written." if dry_run else "The import has started.")
        return HttpResponseRedirect(reverse("admin:interchange_importjob_run", args=[job.pk]))
