"""Input and output shapes of the partner API.

Output serializers only read. Input serializers only parse types: every rule about what a
valid study or effect size is lives in the models' full_clean(), which the services run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from drf_spectacular.drainage import set_override
from rest_framework import serializers
from rest_framework_dataclasses.serializers import DataclassSerializer

from evidence.columns import EFFECT_SIZE_FIELDS, STUDY_JSON_FIELDS, effect_size_record, study_record
from evidence.models import Direction, EvidenceMap, Release
from evidence.synthesis.presenter import CellView, ConfidenceView, LabelView, PooledEffectView
from evidence.synthesis.subgroups import SubgroupLevel, SubgroupView
from studies.effect_sizes.registry import (
    INPUT_FIELDS,
    INTEGER_INPUTS,  # input fields that hold whole numbers
)
from studies.models import EffectSize, InputKind, Study, StudyDesign

# Bound for integers, so an absurd number is a 400 and never a database overflow.
MAX_INT = 2**31 - 1


class FiniteFloatField(serializers.FloatField):
    """A stored number as JSON: null for NaN or an infinity, which JSON cannot carry (only a
    row written past validation can hold one; see README, "Bounds")."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> float | None:  # type: ignore[override]  # stubs say str
        number = float(value)
        return number if math.isfinite(number) else None



# --- Missing values ---


class NullForMissing:
    """Missing text is null, as missing numbers are: one convention for every output.

    Text fields are declared nullable (for the schema), and an empty string is sent as null.
    Lists are always lists (empty when there is nothing), never null.
    """

    def get_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = super().get_fields()  # type: ignore[misc]
        for field in fields.values():
            if isinstance(field, serializers.CharField):
                field.allow_null = True
        return fields

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)  # type: ignore[misc]
        for key, value in data.items():
            if value == "":
                data[key] = None
        return data


# --- Errors (for the schema) ---


class ErrorDetailSerializer(serializers.Serializer[Any]):
    status = serializers.IntegerField(help_text="The HTTP status code.")
    code = serializers.CharField(
        help_text="Machine-readable: invalid, invalid_parameter, not_authenticated, "
        "authentication_failed, permission_denied, not_found, method_not_allowed, "
        "not_acceptable, unsupported_media_type, parse_error, request_too_large, throttled or server_error."
    )
    message = serializers.CharField(help_text="What went wrong, for people.")
    # The API's field names `fields`, `source` and `label` shadow attributes of DRF's serializer and
    # field classes; DRF reads declared fields first, so only the type checker minds.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors only: field or query parameter -> messages.",
    )


class ErrorSerializer(serializers.Serializer[Any]):
    error = ErrorDetailSerializer()


# --- Maps and their frameworks ---


class MapOutputSerializer(NullForMissing, serializers.ModelSerializer[EvidenceMap]):
    n_studies = serializers.IntegerField(
        source="n_published_studies", help_text="Published studies on the map."
    )

    class Meta:
        model = EvidenceMap
        fields = [
            "slug", "title", "description", "search_dates", "inclusion_criteria", "methods_notes",
            "last_search_update", "is_published", "pooling_method", "pooling_test",
            "within_study_correlation", "effect_label_preset", "min_studies_for_confidence",
            "inconsistency_i2", "egger_alpha", "egger_min_k", "n_studies", "updated_at",
        ]
        read_only_fields = fields


class ReleaseOutputSerializer(serializers.ModelSerializer[Release]):
    page = serializers.SerializerMethodField(help_text="The release's map page.")
    api = serializers.SerializerMethodField(help_text="The release's map in the API (add `?release=n` to any map URL).")
    notes = serializers.CharField(help_text="Release notes (Markdown).")

    class Meta:
        model = Release
        fields = [
            "number", "released_at", "notes", "search_from", "search_to",
            "n_studies", "n_effect_sizes", "n_cells", "size_bytes", "document_sha256", "page", "api",
        ]
        read_only_fields = fields

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def get_page(self, release: Release) -> str:
        return self._absolute(release.get_absolute_url())

    def get_api(self, release: Release) -> str:
        from django.urls import reverse

        url = reverse("api:map", kwargs={"slug": release.evidence_map.slug})
        return self._absolute(f"{url}?release={release.number}")


class NodeOutputSerializer(NullForMissing, serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    parent_id = serializers.IntegerField(allow_null=True, help_text="null for a top-level node.")
    depth = serializers.IntegerField(help_text="0 for a top-level node, 1 for its children, ...")
    position = serializers.IntegerField(help_text="Order among its siblings.")
    children = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the child nodes, in order.")


class OutcomeOutputSerializer(NodeOutputSerializer):
    desirable_direction = serializers.ChoiceField(choices=Direction.choices, help_text='"higher" or "lower" is better.')


class CodeOutputSerializer(NodeOutputSerializer):
    external_id = serializers.CharField(help_text="Identifier in the source system (e.g. EPPI-Reviewer AttributeId), or null.")


class CodeSetOutputSerializer(NullForMissing, serializers.Serializer[Any]):
    id = serializers.IntegerField()
    slug = serializers.CharField(help_text="Names the code set in the studies CSV.")
    name = serializers.CharField()
    description = serializers.CharField()
    external_id = serializers.CharField(help_text="Identifier in the source system (e.g. EPPI-Reviewer SetId), or null.")
    position = serializers.IntegerField(help_text="Order among the map's code sets.")
    is_filter = serializers.BooleanField(help_text="True when the map page offers the code set as a filter.")
    is_segment = serializers.BooleanField(help_text="True when the map's bubbles are segmented by its top-level codes.")
    codes = CodeOutputSerializer(
        many=True, source="code_list",
        help_text="The codes, depth first; `parent_id`, `depth` and `children` give the tree.",
    )


class StudyCodeSerializer(NullForMissing, serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text="The code's id.")
    name = serializers.CharField()
    code_set = serializers.IntegerField(source="code_set_id", help_text="Id of the code's code set.")


# --- Studies ---


def _labels(help_text: str) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(), help_text=help_text)


def _ids(help_text: str) -> serializers.ListField:
    return serializers.ListField(child=serializers.IntegerField(), help_text=help_text)


class StudyOutputSerializer(NullForMissing, serializers.ModelSerializer[Study]):
    """A study as `evidence.columns.study_record` writes it (the CSV's columns are the same)."""

    map: serializers.CharField = serializers.CharField(help_text="Slug of the study's map.")
    countries = _labels("ISO 3166-1 alpha-2 codes.")
    design_label = serializers.CharField(help_text="The design in words.")
    confidence_label = serializers.CharField(allow_null=True, help_text="The study confidence in words; null until appraised.")
    status_label = serializers.CharField(help_text="The status in words.")
    intervention_ids = _ids("Interventions the study is coded with.")
    intervention_labels = _labels("Their names, in the same order.")
    outcome_ids = _ids("Outcomes the study is coded with.")
    outcome_labels = _labels("Their names, in the same order.")
    code_ids = _ids("Codes of the map's code sets the study is coded with.")
    code_labels = _labels("Their names, in the same order.")
    codes = StudyCodeSerializer(
        many=True, read_only=True,
        help_text="The same codes with their code sets (JSON only; /api/v1/maps/{slug}/code-sets/ "
        "lists the sets and their trees).",
    )
    url = serializers.CharField(read_only=True, help_text="A link to the study, or null.")
    created_at = serializers.DateTimeField(help_text="ISO 8601, UTC.")
    updated_at = serializers.DateTimeField(help_text="ISO 8601, UTC.")

    class Meta:
        model = Study
        fields = list(STUDY_JSON_FIELDS)
        read_only_fields = fields

    def to_representation(self, instance: Study) -> dict[str, Any]:
        return study_record(instance)


class WriteSerializer(serializers.Serializer[Any]):
    """An input serializer that refuses fields it does not know (a typo, or an output field such
    as `g` sent back) with a 400 naming each, instead of ignoring them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = set(self.fields)
            unknown = sorted(str(name) for name in data if name not in known)
            if unknown:
                writable = ", ".join(sorted(known))
                raise serializers.ValidationError(
                    {name: [f"Unknown field: not one this write takes ({writable})."] for name in unknown}
                )
        return super().to_internal_value(data)


def _text(help_text: str = "") -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, help_text=help_text)


class StudyUpdateInputSerializer(WriteSerializer):
    """Fields of a study that a client may send; every one is optional here, the model decides."""

    external_id = _text("Identifier in the source system.")
    authors = _text('Surname and initials, separated by ";".')
    year = serializers.IntegerField(
        required=False, allow_null=True, max_value=MAX_INT, min_value=-MAX_INT, help_text="null: not given (n.d.)."
    )
    title = _text()
    short_title = _text('The source system\'s short citation, e.g. "Smith (2014)".')
    source = _text("Journal, or report series.")  # type: ignore[assignment]  # see ErrorDetailSerializer
    volume = _text()
    issue = _text()
    pages = _text()
    doi = _text("A DOI, with or without https://doi.org/.")
    url = _text()
    abstract = _text()
    keywords = _text("One keyword or phrase per line.")
    countries = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="ISO 3166-1 alpha-2 codes."
    )
    is_global = serializers.BooleanField(required=False)
    population = _text()
    design = _text(f"One of: {', '.join(StudyDesign.values)}.")
    confidence = _text("high, medium, low, or empty until appraised.")
    status = _text("draft or published.")
    interventions = serializers.ListField(
        child=serializers.IntegerField(max_value=MAX_INT, min_value=1), required=False,
        help_text="Ids of the interventions of the study's map that the study is coded with.",
    )
    outcomes = serializers.ListField(
        child=serializers.IntegerField(max_value=MAX_INT, min_value=1), required=False,
        help_text="Ids of the outcomes of the study's map that the study is coded with.",
    )
    codes = serializers.ListField(
        child=serializers.IntegerField(max_value=MAX_INT, min_value=1), required=False,
        help_text="Ids of the codes of the study's map's code sets that the study is coded with.",
    )


class StudyCreateInputSerializer(StudyUpdateInputSerializer):
    map = serializers.CharField(help_text="Slug of the map the study belongs to.")


# --- Effect sizes ---


class NumberField(serializers.FloatField):
    """A real number in a write: true and false are not numbers (DRF would read them as 1 and 0)."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class EffectSizeOutputSerializer(NullForMissing, serializers.ModelSerializer[EffectSize]):
    """An effect size as `evidence.columns.effect_size_record` writes it (the CSV's columns are the same)."""

    map = serializers.CharField(read_only=True, help_text="Slug of the map.")
    study_id = serializers.IntegerField(read_only=True)
    study_label = serializers.CharField(read_only=True, help_text='The study\'s short citation, e.g. "Smith et al. (2014)".')
    intervention_id = serializers.IntegerField(read_only=True)
    intervention_label = serializers.CharField(read_only=True, help_text="The intervention's name.")
    outcome_id = serializers.IntegerField(read_only=True)
    outcome_label = serializers.CharField(read_only=True, help_text="The outcome's name.")
    input_kind_label = serializers.CharField(read_only=True, help_text="The input kind in words.")
    g = FiniteFloatField(read_only=True, help_text="Hedges' g, computed from the input.")
    var_g = FiniteFloatField(read_only=True, help_text="Sampling variance of g.")
    se_g = FiniteFloatField(read_only=True, help_text="Standard error of g.")
    ci_low_g = FiniteFloatField(read_only=True, help_text="Lower bound of the 95% CI of g.")
    ci_high_g = FiniteFloatField(read_only=True, help_text="Upper bound of the 95% CI of g.")
    native_metric = serializers.CharField(
        read_only=True, help_text="The metric the input was reported in (e.g. SMD, OR, RR, COR)."
    )
    native_yi = FiniteFloatField(read_only=True, help_text="The effect in its native metric.")
    native_vi = FiniteFloatField(read_only=True, help_text="Its variance in the native metric.")
    conversion_note = serializers.CharField(read_only=True, help_text="How g was obtained.")
    created_at = serializers.DateTimeField(help_text="ISO 8601, UTC.")
    updated_at = serializers.DateTimeField(help_text="ISO 8601, UTC.")

    class Meta:
        model = EffectSize
        fields = list(EFFECT_SIZE_FIELDS)
        read_only_fields = fields

    def to_representation(self, instance: EffectSize) -> dict[str, Any]:
        return effect_size_record(instance)


AnyField = serializers.Field[Any, Any, Any, Any]


def _effect_input_fields() -> dict[str, AnyField]:
    out: dict[str, AnyField] = {}
    for name in INPUT_FIELDS:
        if name in INTEGER_INPUTS:
            out[name] = serializers.IntegerField(
                required=False, allow_null=True, max_value=MAX_INT, min_value=-MAX_INT
            )
        else:
            out[name] = NumberField(required=False, allow_null=True)
    return out


class EffectSizeUpdateInputSerializer(WriteSerializer):
    """The reviewer's input; which numeric fields an input kind needs is checked by the model."""

    intervention = serializers.IntegerField(required=False, min_value=1, max_value=MAX_INT,
                                            help_text="Intervention id (of the study's map).")
    outcome = serializers.IntegerField(required=False, min_value=1, max_value=MAX_INT,
                                       help_text="Outcome id (of the study's map).")
    label = _text('e.g. "campaign vs comparison, 2015 cohort".')  # type: ignore[assignment]  # as `source`
    input_kind = _text(f"What the study reports; one of: {', '.join(InputKind.values)}.")
    notes = _text()
    external_id = _text("Identifier in the source system (e.g. EPPI-Reviewer OutcomeId).")

    def get_fields(self) -> dict[str, AnyField]:
        fields = super().get_fields()
        fields.update(_effect_input_fields())
        return fields


class EffectSizeCreateInputSerializer(EffectSizeUpdateInputSerializer):
    study = serializers.IntegerField(min_value=1, max_value=MAX_INT, help_text="Id of the study.")


# --- Cells ---


# The cell serializers are derived from the one cell presenter: their fields and help texts
# are the presenter's dataclasses'. The component names stay those partners already know.
set_override(LabelView, "component_name", "EffectLabel")
set_override(ConfidenceView, "component_name", "Confidence")


class CellOutputSerializer(DataclassSerializer[CellView]):
    class Meta:
        dataclass = CellView
        ref_name = "CellOutput"


class PooledEffectOutputSerializer(DataclassSerializer[PooledEffectView]):
    class Meta:
        dataclass = PooledEffectView
        ref_name = "PooledEffect"


class CellKeyOutputSerializer(serializers.Serializer[Any]):
    intervention_id = serializers.IntegerField()
    outcome_id = serializers.IntegerField()


class CellListOutputSerializer(serializers.Serializer[Any]):
    map = serializers.CharField(help_text="Slug of the map.")
    filters = serializers.CharField(allow_null=True, help_text="The filters applied, as a query string; null for none.")
    empty_cells = serializers.ChoiceField(
        choices=["omitted"],
        help_text="How cells without studies are treated: omitted (every intervention and outcome pair "
        "not listed has no study that passes the filters).",
    )
    n_studies = serializers.IntegerField(help_text="Published studies that pass the filters.")
    n_effects = serializers.IntegerField(help_text="Their effect sizes.")
    updated_since = serializers.DateTimeField(
        allow_null=True, help_text="The `updated_since` asked for (cells changed at or after it are listed); null without one."
    )
    removed_cells = CellKeyOutputSerializer(
        many=True, allow_null=True,
        help_text="With `updated_since`: cells whose studies or effect sizes changed since then and that no "
        "longer have any study that passes the filters (a deletion, an unpublished study, a recoding); drop "
        "them from a copy (one the client never had may be named). Cells of a deleted intervention or outcome "
        "go with it (/changes/ lists it). null without `updated_since`.",
    )
    cells = CellOutputSerializer(many=True)


class CellSummaryOutputSerializer(NullForMissing, serializers.Serializer[Any]):
    headline = serializers.CharField(allow_blank=True)
    short_summary = serializers.CharField(allow_blank=True, help_text="Markdown.")
    findings = serializers.CharField(allow_blank=True, help_text="Markdown.")
    confidence_assessment = serializers.CharField(allow_blank=True, help_text="Markdown.")


class SubgroupLevelOutputSerializer(DataclassSerializer[SubgroupLevel]):
    class Meta:
        dataclass = SubgroupLevel


class SubgroupChoiceOutputSerializer(serializers.Serializer[Any]):
    value = serializers.CharField(help_text="The value of the `differ` query parameter.")
    name = serializers.CharField(help_text="What the reader sees.")


class SubgroupOutputSerializer(DataclassSerializer[SubgroupView]):
    """"Why do the studies differ?": the cell's studies compared by one characteristic."""

    levels = SubgroupLevelOutputSerializer(many=True)
    choices = SubgroupChoiceOutputSerializer(many=True, help_text="Characteristics to compare by.")

    class Meta:
        dataclass = SubgroupView


# The cell's own fields (from the presenter), then what the detail adds.
CellDetailOutputSerializer = type("CellDetailOutputSerializer", (serializers.Serializer,), {
    **CellOutputSerializer().get_fields(),
    "map": serializers.CharField(help_text="Slug of the map."),
    "filters": serializers.CharField(allow_null=True, help_text="The filters applied, as a query string; null for none."),
    "summary": CellSummaryOutputSerializer(allow_null=True, help_text="What the reviewers wrote, if anything."),
    "studies": StudyOutputSerializer(many=True),
    "effect_sizes": EffectSizeOutputSerializer(many=True),
    "pooled_effects": PooledEffectOutputSerializer(
        many=True,
        help_text="The effect sizes as they were pooled, in that order: enough to refit the cell "
        "(see the R and Python examples in the API documentation). Empty when the cell is not pooled.",
    ),
    "differ": SubgroupOutputSerializer(
        allow_null=True,
        help_text="The studies compared by the characteristic in the `differ` query parameter "
        "(design, region, confidence, year or code:<code set slug>; default design); null when the cell is not pooled.",
    ),
})


# --- Pages ---


def _page_of(item: type[serializers.Serializer[Any]], name: str) -> type[serializers.Serializer[Any]]:
    fields = {
        "count": serializers.IntegerField(help_text="Results on every page together."),
        "next": serializers.URLField(allow_null=True, help_text="The next page, or null."),
        "previous": serializers.URLField(allow_null=True, help_text="The previous page, or null."),
        "results": item(many=True),
    }
    return type(name, (serializers.Serializer,), fields)


StudyPageSerializer = _page_of(StudyOutputSerializer, "StudyPageSerializer")
EffectSizePageSerializer = _page_of(EffectSizeOutputSerializer, "EffectSizePageSerializer")


# --- Sync ---


class ChangeOutputSerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(
        choices=["intervention", "outcome", "code_set", "code", "study", "effect_size"],
        help_text="The kind of record.",
    )
    id = serializers.IntegerField()
    action = serializers.ChoiceField(
        choices=["created", "updated", "deleted"],
        help_text="deleted: the client saw the record and no longer does (deleted, or unpublished).",
    )
    at = serializers.DateTimeField(help_text="Time of the record's latest change.")


class ChangesOutputSerializer(serializers.Serializer[Any]):
    map = serializers.CharField(help_text="Slug of the map.")
    since = serializers.DateTimeField(help_text="The `since` asked for.")
    until = serializers.DateTimeField(help_text="The server's time when the changes were read: the next `since`.")
    changes = ChangeOutputSerializer(many=True, help_text="In the order of their latest change.")


# --- What changed between releases (evidence.releases.compare) ---


class ReleaseChangedValueSerializer(serializers.Serializer[Any]):
    field = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)


class ReleaseStudyRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    citation = serializers.CharField()
    title = serializers.CharField()


class _Renamed(serializers.Serializer[Any]):
    """Members whose names a Serializer's own attributes take ("fields", "label"): declared
    with a trailing underscore and renamed here."""

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        for name in [n for n in fields if n.endswith("_")]:
            fields[name.removesuffix("_")] = fields.pop(name)
        return fields


class ReleaseRowChangeSerializer(_Renamed):
    id = serializers.IntegerField()
    name = serializers.CharField()
    change = serializers.ChoiceField(["added", "removed", "changed"])
    fields_ = ReleaseChangedValueSerializer(many=True)


class ReleaseCodingChangeSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(["intervention", "outcome", "code"])
    added = serializers.ListField(child=serializers.CharField())
    removed = serializers.ListField(child=serializers.CharField())


class ReleaseRecodedStudySerializer(ReleaseStudyRefSerializer, _Renamed):
    fields_ = ReleaseChangedValueSerializer(many=True, help_text="The study's own fields that changed.")
    codings = ReleaseCodingChangeSerializer(many=True)
    appraisals = ReleaseRowChangeSerializer(many=True)
    effect_sizes = ReleaseRowChangeSerializer(many=True)


class ReleaseNodeChangeSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(["intervention", "outcome", "code"])
    id = serializers.IntegerField()
    change = serializers.ChoiceField(["added", "removed", "renamed", "moved"])
    name = serializers.CharField()
    before = serializers.CharField(allow_null=True, help_text="The old name (renamed) or old parent (moved).")


def _before_after(child: serializers.Field[Any, Any, Any, Any], name: str) -> type[serializers.Serializer[Any]]:
    attrs = {"before": child, "after": type(child)(**child._kwargs)}  # type: ignore[attr-defined]
    return type(name, (serializers.Serializer,), attrs)


class ReleaseCellChangeSerializer(_Renamed):
    intervention_id = serializers.IntegerField()
    outcome_id = serializers.IntegerField()
    intervention = serializers.CharField()
    outcome = serializers.CharField()
    status = serializers.ChoiceField(["gap_to_evidence", "evidence_to_gap", "changed"])
    n_studies = _before_after(serializers.IntegerField(), "ReleaseCountChange")()
    n_effects = _before_after(serializers.IntegerField(), "ReleaseEffectCountChange")()
    estimate = _before_after(serializers.FloatField(allow_null=True), "ReleaseEstimateChange")()
    ci_low = _before_after(serializers.FloatField(allow_null=True), "ReleaseCiLowChange")()
    ci_high = _before_after(serializers.FloatField(allow_null=True), "ReleaseCiHighChange")()
    confidence = _before_after(serializers.CharField(allow_null=True), "ReleaseConfidenceChange")()
    label_ = _before_after(
        serializers.CharField(help_text='"gap", "evidence" (studies, no pooled effect) or the effect\'s label.'),
        "ReleaseLabelChange",
    )()
    label_changed = serializers.BooleanField()


class ReleaseComparisonCountsSerializer(serializers.Serializer[Any]):
    studies_added = serializers.IntegerField()
    studies_removed = serializers.IntegerField()
    studies_recoded = serializers.IntegerField()
    framework = serializers.IntegerField()
    settings = serializers.IntegerField()
    cells = serializers.IntegerField()
    cells_relabelled = serializers.IntegerField()


class ComparisonOutputSerializer(_Renamed):
    map = serializers.CharField()
    from_ = serializers.IntegerField(help_text="The earlier release.")
    to = serializers.CharField(help_text='The later release\'s number, or "working".')
    counts = ReleaseComparisonCountsSerializer()
    studies_added = ReleaseStudyRefSerializer(many=True)
    studies_removed = ReleaseStudyRefSerializer(many=True, help_text="Deleted or unpublished since `from`.")
    studies_recoded = ReleaseRecodedStudySerializer(many=True)
    framework = ReleaseNodeChangeSerializer(many=True)
    settings = ReleaseChangedValueSerializer(many=True, help_text="The map's settings that changed.")
    cells = ReleaseCellChangeSerializer(many=True)
