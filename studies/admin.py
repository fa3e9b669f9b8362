"""Reviewer admin: thin classes; every write goes through studies.services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db import models, transaction
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from studies import services
from studies.effect_sizes.registry import INPUT_FIELDS
from studies.models import AppraisalItem, EffectSize, Status, Study

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec

COMPUTED = ("g_display", "se_g_display", "ci_display", "native_display")


class ComputedEffectMixin:
    """Read-only columns that show what was computed from the reviewer's input."""

    @admin.display(description="Hedges' g")
    def g_display(self, obj: EffectSize) -> str:
        return f"{obj.g:.3f}" if obj.pk else "computed on save"

    @admin.display(description="SE")
    def se_g_display(self, obj: EffectSize) -> str:
        return f"{obj.se_g:.3f}" if obj.pk else "—"

    @admin.display(description="95% CI")
    def ci_display(self, obj: EffectSize) -> str:
        return f"[{obj.ci_low_g:.3f}, {obj.ci_high_g:.3f}]" if obj.pk else "—"

    @admin.display(description="Native metric")
    def native_display(self, obj: EffectSize) -> str:
        return f"{obj.native_metric} {obj.native_yi:.4f} (var {obj.native_vi:.4f})" if obj.pk else "—"


EFFECT_FIELDSETS: _FieldsetSpec = (
    (None, {"fields": ("intervention", "outcome", "label", "input_kind")}),
    ("Reported input (fill the fields that the chosen input uses)", {"fields": INPUT_FIELDS}),
    ("Computed", {"fields": COMPUTED}),
    (None, {"fields": ("notes", "external_id")}),
)


class StudyChildFormSet(BaseInlineFormSet[Any, Study, ModelForm[Any]]):
    """Give each inline form the (possibly unsaved) study, so validation can see its map."""

    def add_fields(self, form: ModelForm[Any], index: int | None) -> None:
        super().add_fields(form, index)
        form.instance.study = self.instance


class EffectSizeInline(ComputedEffectMixin, admin.StackedInline[EffectSize, Study]):
    model = EffectSize
    formset = StudyChildFormSet
    extra = 0
    fieldsets = EFFECT_FIELDSETS
    readonly_fields = COMPUTED
    autocomplete_fields = ("intervention", "outcome")
    show_change_link = True


class AppraisalItemInline(admin.TabularInline[AppraisalItem, Study]):
    model = AppraisalItem
    extra = 0


@admin.register(Study)
class StudyAdmin(SimpleHistoryAdmin):
    list_display = ("short_citation", "title", "design", "confidence", "region", "status", "updated_at")
    list_filter = ("evidence_map", "status", "design", "confidence", "region", "year")
    search_fields = ("title", "authors", "doi", "abstract", "external_id")
    readonly_fields = ("region", "created_by", "created_at", "updated_by", "updated_at")
    autocomplete_fields = ("interventions", "outcomes")
    inlines = (AppraisalItemInline, EffectSizeInline)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ("publish", "unpublish")
    fieldsets = (
        (None, {"fields": ("evidence_map", "status", "external_id")}),
        ("Citation", {"fields": (
            "authors", "year", "title", "short_title", "source", ("volume", "issue", "pages"), "doi", "url",
            "abstract", "keywords",
        )}),
        ("Coding", {"fields": ("countries", "is_global", "region", "population", "design", "interventions", "outcomes")}),
        ("Appraisal", {"fields": ("confidence",)}),
        ("Record", {"fields": ("created_by", "created_at", "updated_by", "updated_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Study]:
        studies: QuerySet[Study] = super().get_queryset(request)
        return studies.select_related("evidence_map")

    def save_model(self, request: HttpRequest, obj: Study, form: ModelForm[Any], change: bool) -> None:
        services.study_save(study=obj, user=request.user)

    def delete_model(self, request: HttpRequest, obj: Study) -> None:
        services.delete_recorded(instance=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Study]) -> None:
        with transaction.atomic():
            for study in queryset:
                services.delete_recorded(instance=study, user=request.user)

    def save_formset(self, request: HttpRequest, form: ModelForm[Any], formset: BaseInlineFormSet[Any, Study, ModelForm[Any]], change: bool) -> None:
        instances = formset.save(commit=False)
        for deleted in formset.deleted_objects:
            if isinstance(deleted, EffectSize):
                services.effect_size_delete(effect_size=deleted, user=request.user)
            elif isinstance(deleted, AppraisalItem):
                services.appraisal_item_delete(item=deleted, user=request.user)
            else:
                raise TypeError(f"No service deletes a {type(deleted).__name__}.")
        for instance in instances:
            if isinstance(instance, EffectSize):
                services.effect_size_save(effect_size=instance, user=request.user)
            elif isinstance(instance, AppraisalItem):
                services.appraisal_item_save(item=instance, user=request.user)
        formset.save_m2m()

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Study], status: str) -> None:
        changed = services.studies_set_status(studies=queryset, status=status, user=request.user)
        self.message_user(request, f"{changed} stud{'y' if changed == 1 else 'ies'} marked {status}.", messages.SUCCESS)

    @admin.action(description="Publish the selected studies", permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Study]) -> None:
        self._set_status(request, queryset, Status.PUBLISHED)

    @admin.action(description="Unpublish the selected studies (back to draft)", permissions=["change"])
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Study]) -> None:
        self._set_status(request, queryset, Status.DRAFT)


@admin.register(EffectSize)
class EffectSizeAdmin(ComputedEffectMixin, SimpleHistoryAdmin):
    list_display = ("__str__", "intervention", "outcome", "input_kind", "g_display", "se_g_display", "ci_display")
    list_filter = ("study__evidence_map", "input_kind", "native_metric")
    search_fields = ("label", "study__title", "study__authors")
    list_select_related = ("study", "intervention", "outcome")
    autocomplete_fields = ("study", "intervention", "outcome")
    readonly_fields = COMPUTED
    fieldsets = ((None, {"fields": ("study",)}), *EFFECT_FIELDSETS)

    def save_model(self, request: HttpRequest, obj: EffectSize, form: ModelForm[Any], change: bool) -> None:
        services.effect_size_save(effect_size=obj, user=request.user)

    def delete_model(self, request: HttpRequest, obj: EffectSize) -> None:
        services.effect_size_delete(effect_size=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[EffectSize]) -> None:
        with transaction.atomic():
            for effect_size in queryset:
                services.effect_size_delete(effect_size=effect_size, user=request.user)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"ci_level": 95.0}
