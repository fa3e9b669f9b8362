"""Admin for maps, their framework and cell summaries; writes go through evidence.services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from evidence import services
from evidence.models import CellSummary, EvidenceMap, Intervention, Outcome
from studies.services import delete_recorded


class ServiceSaveAdmin(SimpleHistoryAdmin):
    """Saves and deletes, one by one and bulk, go through the audited services."""

    def save_model(self, request: HttpRequest, obj: Model, form: ModelForm[Any], change: bool) -> None:
        services.framework_save(instance=obj, user=request.user)

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        delete_recorded(instance=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            for obj in queryset:
                delete_recorded(instance=obj, user=request.user)


@admin.register(EvidenceMap)
class EvidenceMapAdmin(ServiceSaveAdmin):
    list_display = ("title", "slug", "is_published", "pooling_method", "pooling_test", "updated_at")
    list_filter = ("is_published",)
    search_fields = ("title", "description")
    prepopulated_fields = {"slug": ("title",)}
    fieldsets = (
        (None, {"fields": ("title", "slug", "is_published", "description")}),
        ("Methods", {"fields": ("search_dates", "last_search_update", "inclusion_criteria", "methods_notes")}),
        ("Pooling", {"fields": ("pooling_method", "pooling_test", "within_study_correlation")}),
        ("Effect labels and confidence rule", {
            "fields": ("effect_label_preset", "min_studies_for_confidence", "inconsistency_i2", "egger_alpha", "egger_min_k"),
        }),
    )


class FrameworkNodeAdmin(ServiceSaveAdmin):
    list_display: tuple[str, ...] = ("name", "parent", "evidence_map", "position")
    list_filter = ("evidence_map",)
    search_fields = ("name", "description")
    list_select_related = ("parent", "evidence_map")
    autocomplete_fields = ("parent",)
    ordering = ("evidence_map", "parent__id", "position", "name")


@admin.register(Intervention)
class InterventionAdmin(FrameworkNodeAdmin):
    pass


@admin.register(Outcome)
class OutcomeAdmin(FrameworkNodeAdmin):
    list_display = ("name", "parent", "evidence_map", "desirable_direction", "position")


@admin.register(CellSummary)
class CellSummaryAdmin(ServiceSaveAdmin):
    list_display = ("__str__", "evidence_map", "confidence_override", "updated_at")
    list_filter = ("evidence_map", "confidence_override")
    search_fields = ("headline", "short_summary", "intervention__name", "outcome__name")
    list_select_related = ("intervention", "outcome", "evidence_map")
    autocomplete_fields = ("intervention", "outcome")
    fieldsets = (
        (None, {"fields": ("evidence_map", "intervention", "outcome", "headline", "short_summary")}),
        ("Long summary", {"fields": ("about_intervention", "mechanism", "evidence_base", "findings", "confidence_assessment")}),
        ("Confidence override", {"fields": ("confidence_override", "override_justification")}),
    )
