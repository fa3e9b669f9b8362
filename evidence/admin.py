"""Admin for maps, their framework, code sets and cell summaries; writes go through
evidence.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.views.decorators.http import require_POST
from modeltranslation.admin import TranslationAdmin, TranslationTabularInline
from simple_history.admin import SimpleHistoryAdmin

from evidence import services
from evidence.models import (
    CellSummary,
    Code,
    CodeSet,
    EvidenceMap,
    Intervention,
    MapMembership,
    Outcome,
    Release,
)
from evidence.releases.services import release_map
from studies.admin import MapRoleAdmin, MapRoleInline, ScopedAutocompleteSelect
from studies.models import AppraisalItem, EffectSize, Study
from studies.services import delete_recorded


class ServiceSaveAdmin(MapRoleAdmin, SimpleHistoryAdmin):
    """Saves and deletes, one by one and bulk, inlines too, go through the audited services;
    what a user sees and changes follows their role on each map."""

    def save_model(self, request: HttpRequest, obj: Model, form: ModelForm[Any], change: bool) -> None:
        services.framework_save(instance=obj, user=request.user)

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        delete_recorded(instance=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            for obj in queryset:
                delete_recorded(instance=obj, user=request.user)

    def save_formset(
        self, request: HttpRequest, form: ModelForm[Any], formset: BaseInlineFormSet[Any, Any, Any], change: bool
    ) -> None:
        instances = formset.save(commit=False)
        for deleted in formset.deleted_objects:
            delete_recorded(instance=deleted, user=request.user)
        for instance in instances:
            services.framework_save(instance=instance, user=request.user)
        formset.save_m2m()


def codes_of(**scope: Any) -> QuerySet[Code]:
    """Codes (with their set, which names them) in `scope`, for the admin's code widgets."""
    return Code.objects.filter(**scope).select_related("code_set")


class CodeSetInline(MapRoleInline, TranslationTabularInline[CodeSet, EvidenceMap]):
    """The map's code sets: which are offered as filters; their codes are edited on each set's page."""

    model = CodeSet
    extra = 0
    fields = ("name", "slug", "position", "is_filter", "external_id")
    prepopulated_fields = {"slug": ("name",)}
    show_change_link = True
    verbose_name_plural = "code sets (save, then open a code set to edit its codes)"


class MembershipInline(MapRoleInline, admin.TabularInline[MapMembership, EvidenceMap]):
    """The map's team: each member's role (only the map's publishers change it)."""

    model = MapMembership
    extra = 0
    fields = ("user", "role")
    verbose_name_plural = "members and their roles (viewer, reviewer, editor, publisher)"


# The records the deleted-records page lists and restores, by the name in its URLs.
RESTORABLE: dict[str, Any] = {
    str(model._meta.model_name): model
    for model in (Study, EffectSize, AppraisalItem, Intervention, Outcome, CodeSet, Code, CellSummary, MapMembership)
}
DELETED_PER_KIND = 200


def _deleted_map_id(historical: Any) -> int | None:
    """The map a deleted record was on, also when what it belonged to is deleted too."""
    for owner_field, owner in (("study_id", Study), ("code_set_id", CodeSet)):
        owner_id = getattr(historical, owner_field, None)
        if owner_id is not None:
            last = owner.history.filter(id=owner_id).order_by("-history_date").first()
            return int(last.evidence_map_id) if last is not None else None
    map_id = getattr(historical, "evidence_map_id", None)
    return int(map_id) if map_id is not None else None


def deleted_records(user: Any) -> list[dict[str, Any]]:
    """The latest deletion of each record that is still deleted, newest first, on the maps
    where `user` may write that kind of record."""
    found = []
    for name, model in RESTORABLE.items():
        rows = (model.history.filter(history_type="-").exclude(id__in=model._default_manager.values("pk"))
                .select_related("history_user").order_by("-history_date")[:DELETED_PER_KIND])
        seen: set[int] = set()
        for row in rows:
            if row.id in seen:
                continue
            seen.add(row.id)
            map_id = _deleted_map_id(row)
            if map_id is None or not user.has_perm(f"evidence.{model.write_role}", map_id):
                continue
            found.append({"kind": name, "label": model._meta.verbose_name, "row": row, "map_id": map_id,
                          "name": _safe_str(row)})
    maps = dict(EvidenceMap.objects.filter(pk__in={r["map_id"] for r in found}).values_list("pk", "title"))
    for record in found:
        record["map"] = maps.get(record["map_id"], f"deleted map {record['map_id']}")
    return sorted(found, key=lambda r: r["row"].history_date, reverse=True)


def _safe_str(historical: Any) -> str:
    try:
        return str(historical.instance)
    except Exception:  # its name needs a related record that is gone too
        return f"#{historical.id}"


class ReleaseForm(forms.Form):
    notes = forms.CharField(widget=forms.Textarea, required=False, help_text="What is new (Markdown).")
    search_from = forms.DateField(required=False, help_text="First date of the searches it covers (YYYY-MM-DD).")
    search_to = forms.DateField(required=False, help_text="Last date of the searches it covers (YYYY-MM-DD).")

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if data.get("search_from") and data.get("search_to") and data["search_from"] > data["search_to"]:
            self.add_error("search_to", "The searches cannot end before they start.")
        return data


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin[Release]):
    """Releases, to look at: they are made by the action on maps and never changed."""

    list_display = ("__str__", "released_at", "released_by", "n_studies", "n_effect_sizes", "n_cells", "size_bytes")
    list_filter = ("evidence_map",)
    list_select_related = ("evidence_map", "released_by")
    exclude = ("document",)
    readonly_fields = (
        "evidence_map", "number", "released_at", "released_by", "notes", "search_from", "search_to",
        "document_sha256", "size_bytes", "n_studies", "n_effect_sizes", "n_cells",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Release]:
        return super().get_queryset(request).defer("document")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("evidence.viewer", obj) if obj is not None
                    else request.user.has_perm("evidence.viewer"))


@admin.register(EvidenceMap)
class EvidenceMapAdmin(ServiceSaveAdmin, TranslationAdmin[EvidenceMap]):
    map_lookup = "pk"
    map_fields: dict[str, str] = {}
    change_list_template = "admin/evidence/evidencemap/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        own = [
            path("deleted/", self.admin_site.admin_view(self.deleted_view), name="evidence_deleted"),
            path("deleted/<str:kind>/<int:history_id>/restore/",
                 self.admin_site.admin_view(require_POST(self.restore_view)), name="evidence_restore"),
        ]
        inherited: list[URLPattern] = super().get_urls()
        return own + inherited

    def deleted_view(self, request: HttpRequest) -> HttpResponse:
        """Deleted studies, effect sizes, framework rows, code sets, summaries and members, each
        with a button that restores it."""
        if not request.user.has_perm("evidence.reviewer"):
            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "title": "Deleted records",
                   "records": deleted_records(request.user), "opts": self.model._meta}
        return TemplateResponse(request, "admin/evidence/deleted.html", context)

    def restore_view(self, request: HttpRequest, kind: str, history_id: int) -> HttpResponse:
        model = RESTORABLE.get(kind)
        if model is None:
            raise PermissionDenied
        historical = get_object_or_404(model.history, history_id=history_id, history_type="-")
        try:
            restored = services.record_restore(historical=historical, user=request.user)
        except ValidationError as exc:
            self.message_user(request, f"Not restored: {' '.join(exc.messages)}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:evidence_deleted"))
        self.message_user(request, f"Restored the {model._meta.verbose_name} “{restored}”, with its history.",
                          messages.SUCCESS)
        try:
            return HttpResponseRedirect(reverse(f"admin:{model._meta.app_label}_{kind}_change", args=[restored.pk]))
        except NoReverseMatch:  # members are edited on their map's page
            return HttpResponseRedirect(reverse("admin:evidence_deleted"))

    list_display = ("title", "slug", "is_published", "pooling_method", "pooling_test", "updated_at")
    list_filter = ("is_published",)
    actions = ("release",)

    @admin.action(description="Release selected maps", permissions=["release"])
    def release(self, request: HttpRequest, queryset: QuerySet[EvidenceMap]) -> HttpResponse | None:
        """Ask for the release notes and search dates (an intermediate page), then release each
        selected map (evidence.releases.services.release_map, which checks the publisher role)."""
        form = ReleaseForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {**self.admin_site.each_context(request), "title": "Release maps", "maps": queryset,
                       "form": form, "opts": self.model._meta,
                       "action_checkbox_name": ACTION_CHECKBOX_NAME}
            return TemplateResponse(request, "admin/evidence/release_maps.html", context)
        for evidence_map in queryset:
            try:
                release = release_map(evidence_map=evidence_map, user=request.user, **form.cleaned_data)
            except (ValidationError, PermissionDenied) as exc:
                problem = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"“{evidence_map}” was not released: {problem}", messages.ERROR)
                continue
            self.message_user(request, f"Released “{evidence_map}” as release {release.number}.", messages.SUCCESS)
        return None

    def has_release_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("evidence.publisher"))  # on some map; each map is checked
    search_fields = ("title", "description")
    prepopulated_fields = {"slug": ("title",)}
    inlines = (CodeSetInline, MembershipInline)
    fieldsets = (
        (None, {"fields": ("title", "slug", "organisation", "is_published", "description")}),
        ("Methods", {"fields": (
            "search_dates", "last_search_update", "update_plan", "inclusion_criteria", "methods_notes",
        )}),
        ("Pooling", {"fields": ("pooling_method", "pooling_test", "within_study_correlation")}),
        ("Effect labels and confidence rule", {
            "fields": ("effect_label_preset", "min_studies_for_confidence", "inconsistency_i2", "egger_alpha", "egger_min_k"),
        }),
        ("Bubble segments", {
            "fields": ("segment_code_set",),
            "description": "Segment the bubbles by one of this map's code sets (listed below), "
            "or leave it empty to segment them by study design.",
        }),
        ("Sharing", {
            "fields": ("embed_origins",),
            "description": "Partner sites listed here may show the map's embed page (/maps/<slug>/embed/) "
            "in an iframe; the map page offers the snippet. Every other site is refused.",
        }),
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A new map has no members yet: the model permission decides, and its creator
        # becomes its publisher (evidence.services.framework_save).
        return request.user.has_perm("evidence.add_evidencemap")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = super().get_readonly_fields(request, obj)
        return tuple(f for f in fields if f != "is_published") if obj is None else fields

    def get_form(self, request: HttpRequest, obj: EvidenceMap | None = None, change: bool = False,
                 **kwargs: Any) -> type[ModelForm[Any]]:
        form: type[ModelForm[Any]] = super().get_form(request, obj, change=change, **kwargs)
        if "segment_code_set" in form.base_fields:
            # Only this map's code sets (a new map has none yet); the model checks it too.
            segments: Any = form.base_fields["segment_code_set"]
            segments.queryset = CodeSet.objects.filter(evidence_map=obj) if obj else CodeSet.objects.none()
        return form


class FrameworkNodeAdmin(ServiceSaveAdmin, TranslationAdmin[Any]):
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
class CellSummaryAdmin(ServiceSaveAdmin, TranslationAdmin[CellSummary]):
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


class CodeInline(MapRoleInline, TranslationTabularInline[Code, CodeSet]):
    """A code set's codes; a code's parent is searched among the same set's codes."""

    model = Code
    extra = 3
    fields = ("name", "parent", "position", "external_id")
    show_change_link = True
    ordering = ("parent_id", "position", "name")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Code]:
        return super().get_queryset(request).select_related("code_set")

    def get_formset(self, request: HttpRequest, obj: CodeSet | None = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        parent: Any = formset.form.base_fields["parent"]
        parent.widget = ScopedAutocompleteSelect(
            Code._meta.get_field("parent"), self.admin_site, params={"code_set": obj.pk} if obj else {},
        )
        parent.queryset = codes_of(code_set=obj) if obj else Code.objects.none()  # after the widget: it takes the choices
        parent.help_text = "" if obj else "Save the code set first; then codes can be nested."
        return formset


@admin.register(CodeSet)
class CodeSetAdmin(ServiceSaveAdmin, TranslationAdmin[CodeSet]):
    list_display = ("name", "evidence_map", "slug", "is_filter", "position")
    list_filter = ("evidence_map", "is_filter")
    search_fields = ("name", "description", "slug")
    list_select_related = ("evidence_map",)
    prepopulated_fields = {"slug": ("name",)}
    fields = ("evidence_map", "name", "slug", "description", "position", "is_filter", "external_id")
    inlines = (CodeInline,)
    ordering = ("evidence_map", "position", "name")


@admin.register(Code)
class CodeAdmin(ServiceSaveAdmin, TranslationAdmin[Code]):
    map_lookup = "code_set__evidence_map"
    map_fields = {"code_set": "evidence_map"}

    list_display = ("name", "parent", "code_set", "position", "external_id")
    list_filter = ("code_set__evidence_map", "code_set")
    search_fields = ("name", "external_id", "description")
    list_select_related = ("code_set", "parent__code_set")
    fields = ("code_set", "parent", "name", "description", "position", "external_id")
    autocomplete_fields = ("parent",)
    ordering = ("code_set", "parent_id", "position", "name")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Code]:
        codes: QuerySet[Code] = super().get_queryset(request)
        return codes.select_related("code_set")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Code], search_term: str
    ) -> tuple[QuerySet[Code], bool]:
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if "field_name" in request.GET:  # an autocomplete's search: keep to its code set or map
            for param, lookup in (("code_set", "code_set_id"), ("evidence_map", "code_set__evidence_map_id")):
                value = request.GET.get(param, "")
                if value.isascii() and value.isdigit():  # "²" is a digit to isdigit()
                    found = found.filter(**{lookup: int(value)})
        return found, may_have_duplicates


# Users and groups with their history (evidence.models.register_account_history).
admin.site.unregister(get_user_model())
admin.site.unregister(Group)


@admin.register(get_user_model())
class UserHistoryAdmin(SimpleHistoryAdmin, UserAdmin):  # type: ignore[type-arg]
    pass


@admin.register(Group)
class GroupHistoryAdmin(SimpleHistoryAdmin, GroupAdmin):
    pass
