"""Reviewer admin: thin classes; every write goes through studies.services, and what each user
sees and may change follows their role on each map (`MapRoleAdmin`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from simple_history.admin import SimpleHistoryAdmin

from studies import services
from studies.effect_sizes.registry import INPUT_FIELDS, INPUT_KIND_SPECS
from studies.models import AppraisalItem, EffectSize, Status, Study, draft_maps

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec

COMPUTED = ("g_display", "se_g_display", "ci_display", "native_display")


def _may(request: HttpRequest, role: str, obj: Any = None) -> bool:
    """Whether the user has `role` (or a higher one) on obj's map; without obj, on some map
    (evidence.roles; superusers always)."""
    return request.user.is_active and request.user.has_perm(f"evidence.{role}", obj)


class MapRoleAdmin:
    """Admin pages of records that belong to a map, ruled by the user's role on each map.

    Lists and forms show only the maps where the user has a role (superusers: all); viewing
    needs any role, changing, adding and deleting the model's `write_role`; the field that
    publishes (`publish_field`) is read-only unless the user is the map's publisher. The
    services check each write again, whatever the page allowed.
    """

    model: Any
    map_lookup = "evidence_map"  # the path from the model to its map
    # Foreign keys limited to the user's maps, with the path from the related model to its map.
    map_fields: dict[str, str] = {"evidence_map": "pk"}

    @property
    def write_role(self) -> str:
        return str(self.model.write_role)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]
        maps = draft_maps(request.user)
        return rows if maps is None else rows.filter(**{f"{self.map_lookup}__in": maps})

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _may(request, "viewer")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _may(request, "viewer", obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _may(request, self.write_role, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _may(request, self.write_role, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _may(request, getattr(self.model, "delete_role", self.write_role), obj)

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return _may(request, "publisher")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        publish_field = getattr(self.model, "publish_field", None)
        if publish_field and not _may(request, "publisher", obj):
            fields = (*fields, publish_field)
        return fields

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]
        if field is not None and db_field.name in self.map_fields:
            # Only the maps (or records of the maps) where the user may write this model.
            maps = draft_maps(request.user)
            if maps is None:  # a superuser writes everywhere
                return field
            map_model: Any = Study._meta.get_field("evidence_map").related_model
            candidates = map_model._default_manager.filter(pk__in=maps)
            allowed = [m.pk for m in candidates if _may(request, self.write_role, m)]
            field.queryset = field.queryset.filter(**{f"{self.map_fields[db_field.name]}__in": allowed})
        return field


class MapRoleInline(MapRoleAdmin):
    """An inline on a map's record: its rights are those of the parent's map."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows: QuerySet[Any] = super(MapRoleAdmin, self).get_queryset(request)  # type: ignore[misc]
        return rows  # the parent's page filters


class ScopedAutocompleteMixin:
    """An admin autocomplete whose searches carry `params` (for codes: the code set or the map
    to search in, which evidence.admin.CodeAdmin.get_search_results applies)."""

    params: dict[str, Any]

    def get_url(self) -> str:
        url: str = super().get_url()  # type: ignore[misc]
        return f"{url}?{urlencode(self.params)}" if self.params else url


class ScopedAutocompleteSelect(ScopedAutocompleteMixin, AutocompleteSelect):
    def __init__(self, *args: Any, params: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params = params


class ScopedAutocompleteSelectMultiple(ScopedAutocompleteMixin, AutocompleteSelectMultiple):
    def __init__(self, *args: Any, params: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params = params


def computed_display(es: EffectSize) -> dict[str, str]:
    """What the admin shows of an effect size's computed values, by the names of the read-only
    columns (COMPUTED): the same text after a save and in the live preview."""
    return {
        "g_display": f"{es.g:.3f}",
        "se_g_display": f"{es.se_g:.3f}",
        "ci_display": f"[{es.ci_low_g:.3f}, {es.ci_high_g:.3f}]",
        "native_display": f"{es.native_metric} {es.native_yi:.4f} (var {es.native_vi:.4f})",
    }


class ComputedEffectMixin:
    """Read-only columns that show what was computed from the reviewer's input."""

    @admin.display(description="Hedges' g")
    def g_display(self, obj: EffectSize) -> str:
        return computed_display(obj)["g_display"] if obj.pk else "computed on save"

    @admin.display(description="SE")
    def se_g_display(self, obj: EffectSize) -> str:
        return computed_display(obj)["se_g_display"] if obj.pk else "—"

    @admin.display(description="95% CI")
    def ci_display(self, obj: EffectSize) -> str:
        return computed_display(obj)["ci_display"] if obj.pk else "—"

    @admin.display(description="Native metric")
    def native_display(self, obj: EffectSize) -> str:
        return computed_display(obj)["native_display"] if obj.pk else "—"


# The boxes each input kind reads, from the registry, for the admin's script (on the kind's
# drop-down, as a data attribute: no inline script) and for the guide shown without script.
KIND_FIELDS: dict[str, dict[str, list[str]]] = {
    name: {"required": list(spec.required), "optional": list(spec.optional)}
    for name, spec in INPUT_KIND_SPECS.items()
}


def _kind_guide() -> str:
    """Which boxes each input kind reads, in words: the form's guide when script is off."""
    labels = {f.name: capfirst(str(f.verbose_name)) for f in EffectSize._meta.concrete_fields}  # as the boxes' labels

    def boxes(spec: Any) -> str:
        named = [labels[name] for name in spec.required]
        named += [f"{labels[name]} (optional)" for name in spec.optional]
        return ", ".join(named)

    rows = format_html_join(
        "", "<li><strong>{}</strong>: {}</li>",
        ((spec.label, boxes(spec)) for spec in INPUT_KIND_SPECS.values()),
    )
    return format_html(
        '<details class="es-kind-guide"><summary>Which boxes each input kind reads</summary>'
        "<ul>{}</ul><p>Fill only those of the chosen kind; leave the others empty.</p></details>",
        rows,
    )


class EffectSizeAdminForm(ModelForm[EffectSize]):
    """The admin's effect-size form: the kind's drop-down tells the page's script which boxes
    each kind reads and where to ask for the live g (studies/static/studies/admin/effect_size.js)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = self.fields.get("input_kind")
        if kind is not None:
            kind.widget.attrs.update({
                "data-input-kinds": json.dumps(KIND_FIELDS, separators=(",", ":")),
                "data-compute-url": reverse("admin:studies_effectsize_compute"),
            })


class EffectSizeInputForm(ModelForm[EffectSize]):
    """The kind and the input boxes only: what the live preview validates and converts, with
    the model's own validation (EffectSize.clean, hence compute_effect), as a save does."""

    class Meta:
        model = EffectSize
        fields = ("input_kind", *INPUT_FIELDS)


# Compact: the input boxes side by side on one wrapping line, of which the script shows only
# the chosen kind's; the computed values on one line; notes folded away.
EFFECT_FIELDSETS: _FieldsetSpec = (
    (None, {"fields": (("intervention", "outcome"), ("label", "input_kind"))}),
    ("Reported input (fill the fields that the chosen input uses)", {
        "fields": (INPUT_FIELDS,), "classes": ("es-inputs",), "description": _kind_guide(),
    }),
    ("Computed", {"fields": (COMPUTED,), "classes": ("es-computed",)}),
    ("Notes and source identifier", {"fields": ("notes", "external_id"), "classes": ("collapse",)}),
)

# The script that shows the chosen kind's boxes and the live g, and its style sheet.
EFFECT_SIZE_JS = ("studies/admin/effect_size.js",)
EFFECT_SIZE_CSS = {"all": ("studies/admin/effect_size.css",)}


class StudyChildFormSet(BaseInlineFormSet[Any, Study, ModelForm[Any]]):
    """Give each inline form the (possibly unsaved) study, so validation can see its map."""

    def add_fields(self, form: ModelForm[Any], index: int | None) -> None:
        super().add_fields(form, index)
        form.instance.study = self.instance


class EffectSizeInline(MapRoleInline, ComputedEffectMixin, admin.StackedInline[EffectSize, Study]):
    model = EffectSize
    form = EffectSizeAdminForm
    formset = StudyChildFormSet
    extra = 0
    fieldsets = EFFECT_FIELDSETS
    readonly_fields = COMPUTED
    autocomplete_fields = ("intervention", "outcome")
    show_change_link = True

    class Media:
        js = EFFECT_SIZE_JS
        css = EFFECT_SIZE_CSS


class AppraisalItemInline(MapRoleInline, admin.TabularInline[AppraisalItem, Study]):
    model = AppraisalItem
    extra = 0


class StudyAdminForm(ModelForm[Study]):
    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        evidence_map, codes = cleaned.get("evidence_map"), cleaned.get("codes")
        if evidence_map is not None and codes:
            # The study's map decides which code sets it is coded in (services.check_codes).
            others = [str(code) for code in codes if code.code_set.evidence_map_id != evidence_map.pk]
            if others:
                self.add_error("codes", f"Not codes of the map “{evidence_map}”: {'; '.join(others)}.")
        return cleaned


@admin.register(Study)
class StudyAdmin(MapRoleAdmin, SimpleHistoryAdmin):
    list_display = ("short_citation", "title", "design", "confidence", "region", "status", "updated_at")
    list_filter = ("evidence_map", "status", "design", "confidence", "region", "year")
    search_fields = ("title", "authors", "doi", "abstract", "external_id")
    readonly_fields = ("region", "created_by", "created_at", "updated_by", "updated_at")
    form = StudyAdminForm
    autocomplete_fields = ("interventions", "outcomes", "codes")
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
        ("Codes of the map's code sets", {"fields": ("codes",)}),
        ("Appraisal", {"fields": ("confidence",)}),
        ("Record", {"fields": ("created_by", "created_at", "updated_by", "updated_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Study]:
        studies: QuerySet[Study] = super().get_queryset(request)
        return studies.select_related("evidence_map")

    def get_form(self, request: HttpRequest, obj: Study | None = None, change: bool = False,
                 **kwargs: Any) -> type[ModelForm[Any]]:
        form: type[ModelForm[Any]] = super().get_form(request, obj, change=change, **kwargs)
        codes: Any = form.base_fields.get("codes")
        if codes is None:
            return form
        # The codes box searches the study's map's codes only (the map of a new study may come
        # in the add link: ?evidence_map=<id>); the form's clean() checks the map either way.
        map_id = obj.evidence_map_id if obj is not None else request.GET.get("evidence_map", "")
        digits = str(map_id).isascii() and str(map_id).isdigit()
        scope = {"code_set__evidence_map_id": int(map_id)} if digits else {}
        codes.widget.widget = ScopedAutocompleteSelectMultiple(  # inside the wrapper with the add link
            Study._meta.get_field("codes"), self.admin_site,
            params={"evidence_map": scope["code_set__evidence_map_id"]} if scope else {},
        )
        code_model: Any = Study.codes.field.related_model  # evidence.Code: studies imports no other app
        codes.queryset = code_model.objects.filter(**scope).select_related("code_set")  # after the widget
        return form

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
        try:
            changed = services.studies_set_status(studies=queryset, status=status, user=request.user)
        except PermissionDenied as exc:
            self.message_user(request, f"Nothing was changed: {exc}", messages.ERROR)
            return
        self.message_user(request, f"{changed} stud{'y' if changed == 1 else 'ies'} marked {status}.", messages.SUCCESS)

    @admin.action(description="Publish the selected studies", permissions=["publish"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Study]) -> None:
        self._set_status(request, queryset, Status.PUBLISHED)

    @admin.action(description="Unpublish the selected studies (back to draft)", permissions=["publish"])
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Study]) -> None:
        self._set_status(request, queryset, Status.DRAFT)


@admin.register(EffectSize)
class EffectSizeAdmin(MapRoleAdmin, ComputedEffectMixin, SimpleHistoryAdmin):
    map_lookup = "study__evidence_map"
    map_fields = {"study": "evidence_map"}
    form = EffectSizeAdminForm
    list_display = ("__str__", "intervention", "outcome", "input_kind", "g_display", "se_g_display", "ci_display")
    list_filter = ("study__evidence_map", "input_kind", "native_metric")
    search_fields = ("label", "study__title", "study__authors")
    list_select_related = ("study", "intervention", "outcome")
    autocomplete_fields = ("study", "intervention", "outcome")
    readonly_fields = COMPUTED
    fieldsets = ((None, {"fields": ("study",)}), *EFFECT_FIELDSETS)

    class Media:
        js = EFFECT_SIZE_JS
        css = EFFECT_SIZE_CSS

    def save_model(self, request: HttpRequest, obj: EffectSize, form: ModelForm[Any], change: bool) -> None:
        services.effect_size_save(effect_size=obj, user=request.user)

    def delete_model(self, request: HttpRequest, obj: EffectSize) -> None:
        services.effect_size_delete(effect_size=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[EffectSize]) -> None:
        with transaction.atomic():
            for effect_size in queryset:
                services.effect_size_delete(effect_size=effect_size, user=request.user)


    def get_urls(self) -> list[URLResolver | URLPattern]:
        compute = path("compute/", self.admin_site.admin_view(self.compute_view), name="studies_effectsize_compute")
        return [compute, *super().get_urls()]

    def compute_view(self, request: HttpRequest) -> HttpResponse:
        """The live preview: POST the kind and the input boxes (as the form names them) with
        the study, or the map of a study not yet saved; get g, its variance, SE and 95% CI, or
        each field's errors (`valid` false). Nothing is saved. Needs the reviewer role on that
        map."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        map_id = _preview_map(request)
        if map_id is None:
            message = "Choose the study, or the study's map, to compute an effect size."
            return JsonResponse({"valid": False, "errors": {"study": [message]}}, status=400)
        if not _may(request, "reviewer", map_id):
            detail = "Computing an effect size here needs the reviewer role on the study's map."
            return JsonResponse({"detail": detail}, status=403)
        form = EffectSizeInputForm(request.POST)
        if not form.is_valid():
            errors = {field: [str(text) for text in texts] for field, texts in form.errors.items()}
            return JsonResponse({"valid": False, "errors": errors})
        es = form.instance  # EffectSize.clean() computed it
        return JsonResponse({
            "valid": True, "g": es.g, "var_g": es.var_g, "se_g": es.se_g, "ci_level": 95,
            "ci_low_g": es.ci_low_g, "ci_high_g": es.ci_high_g, "native_metric": es.native_metric,
            "native_yi": es.native_yi, "native_vi": es.native_vi, "note": es.conversion_note,
            "display": computed_display(es),
        })


def _preview_map(request: HttpRequest) -> int | None:
    """The map a preview is for: the posted study's (an unknown study is the same as a study of
    a map without a role: refused), else the posted map of a study not yet saved."""
    study, evidence_map = request.POST.get("study", ""), request.POST.get("evidence_map", "")
    if study.isascii() and study.isdigit():
        found = Study.objects.filter(pk=int(study)).values_list("evidence_map_id", flat=True).first()
        return found if found is not None else 0
    if evidence_map.isascii() and evidence_map.isdigit():
        return int(evidence_map)
    return None
