"""Pooled cells: every cell of a map, and one cell with its studies and effect sizes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpResponseBase
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import InvalidParameter
from api.renderers import CSVRenderer, table
from api.serializers import (
    CellDetailOutputSerializer,
    CellListOutputSerializer,
    EffectSizeOutputSerializer,
    StudyOutputSerializer,
)
from api.views.base import (
    FILTER_NAMES,
    FILTER_PARAMETERS,
    LIST_ERRORS,
    SYNC_PARAMETERS,
    ApiView,
    _check_parameters,
    sorted_rows,
    updated_since,
)
from evidence import selectors, versions
from evidence.changes import cells_changed_since
from evidence.columns import iso
from evidence.filters import StudyFilters
from evidence.models import EvidenceMap
from evidence.synthesis import cell_record, map_evidence, present_cell
from evidence.synthesis.presenter import CELL_CSV_COLUMNS, cell_csv_row, pooled_effects
from evidence.synthesis.subgroups import (
    BUILT_IN_FACTORS,
    explain_cell,
    factor_choices,
    subgroup_record,
)
from studies.models import EffectSize, Study

# --- Cells ---


def null_for_missing(data: Any) -> Any:
    """The presenter's records with empty text as null, the API's one convention."""
    if isinstance(data, dict):
        return {key: null_for_missing(value) for key, value in data.items()}
    if isinstance(data, list):
        return [null_for_missing(value) for value in data]
    return None if data == "" else data


def map_cells(evidence_map: EvidenceMap, filters: StudyFilters) -> dict[str, Any]:
    """Every cell of the map with studies that pass the filters, as the API returns them:
    computed once per map version and filters (evidence.versions), for every client."""

    def compute() -> dict[str, Any]:
        evidence = map_evidence(evidence_map, filters)
        data: dict[str, Any] = null_for_missing({
            "map": evidence_map.slug,
            "filters": filters.to_query(),
            "empty_cells": "omitted",
            "n_studies": evidence.n_studies,
            "n_effects": evidence.n_effects,
            "updated_since": None,
            "removed_cells": None,
            "cells": [cell_record(present_cell(evidence, cell)) for cell in evidence.cells_in_order()],
        })
        return data

    cells: dict[str, Any] = versions.cached(versions.cache_key("api-cells.3", evidence_map, filters.to_query()), compute)
    return cells


def changed_cells(evidence_map: EvidenceMap, data: dict[str, Any], since: datetime) -> dict[str, Any]:
    """The cell list `data` narrowed to the cells changed at or after `since`
    (evidence.changes.cells_changed_since), with the changed cells it no longer lists."""
    changed = cells_changed_since(evidence_map, since)
    cells = [c for c in data["cells"] if (c["intervention_id"], c["outcome_id"]) in changed]
    listed = {(c["intervention_id"], c["outcome_id"]) for c in data["cells"]}
    removed = [{"intervention_id": i, "outcome_id": o} for i, o in sorted(changed.cells - listed)]
    return {**data, "updated_since": iso(since), "removed_cells": removed, "cells": cells}


CELL_ORDERING = {
    name: name for name in ("intervention_id", "outcome_id", "n_studies", "n_effects", "k", "estimate", "p_value")
}


class CellListView(ApiView):
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer, CSVRenderer]
    query_parameters = FILTER_NAMES | {"ordering", "updated_since"}

    @extend_schema(
        operation_id="cells_list", summary="Every cell of a map, pooled",
        description="One entry per cell with studies (aggregate cells of categories included), "
        "for the published studies that pass the filters: the same filters as the map page. "
        "Only published studies are pooled, for every client. In the framework's order unless `ordering` "
        "(intervention_id, outcome_id, n_studies, n_effects, k, estimate, p_value; nulls last) is given. "
        "With `updated_since`, only the cells any of whose inputs changed at or after it: every cell when the "
        "map's settings were saved; the rows and columns of an intervention or outcome created, changed, moved "
        "or deleted, and of the categories above it (where it hangs now and where it hung); the cell of a "
        "summary; the cells a published study counted in before and after it was created, changed, recoded, "
        "deleted, published or unpublished; the cells of an effect size of a published study before and after "
        "it was created, changed or deleted. `removed_cells` then lists the changed cells left without studies.",
        parameters=[*FILTER_PARAMETERS, OpenApiParameter(
            "updated_since", str,
            description="Only cells whose inputs (studies, their codings and effect sizes, the framework, "
            "summaries, the map's settings) changed at or after this ISO 8601 date or time (UTC without an "
            "offset), e.g. 2026-01-31T12:00:00Z.",
        ), SYNC_PARAMETERS[1]],
        responses={200: CellListOutputSerializer, **LIST_ERRORS},
    )
    def get(self, request: Request, slug: str) -> HttpResponseBase:
        # Queries: 1 map with its version, then map_evidence's 7 (interventions, outcomes,
        # studies, intervention codings, outcome codings, effect sizes, summaries).
        _check_parameters(request.query_params)
        evidence_map = self.map_or_404(request, slug)
        filters = StudyFilters.from_query(request.query_params, maps=[evidence_map])
        sorted_rows(request.query_params, [], CELL_ORDERING)
        since = updated_since(request.query_params)

        def build() -> Response:
            # Computed once per map version and filters (evidence.versions), for every client;
            # with `updated_since`, narrowed by a few queries of the history.
            data = map_cells(evidence_map, filters)
            if since is not None:
                data = changed_cells(evidence_map, data, since)
            if request.query_params.get("ordering"):
                data = {**data, "cells": sorted_rows(request.query_params, data["cells"], CELL_ORDERING)}
            if self.is_csv(request):
                return Response(table(list(CELL_CSV_COLUMNS), [cell_csv_row(cell) for cell in data["cells"]]))
            return Response(data)

        return self.conditional(request, [evidence_map], build)


class CellDetailView(ApiView):
    permission_classes = [AllowAny]
    query_parameters = FILTER_NAMES | {"differ"}

    @extend_schema(
        operation_id="cells_retrieve", summary="One cell, with its studies and effect sizes",
        description="The cell as the cell list gives it (the model and settings it was pooled with, "
        "every variance component, Q, I², Egger's p and the prediction interval), with the reviewers' "
        "summary, its published studies and effect sizes, and `pooled_effects`: the effect sizes as "
        "they were pooled, enough to refit the cell (see \"Reproducing a cell\" in the documentation). "
        "Only published studies are pooled, for every client.",
        parameters=[*FILTER_PARAMETERS, OpenApiParameter(
            "differ", str,
            description="Compare the cell's studies by design, region, confidence, year or code:<code set slug>.",
        )],
        responses={200: CellDetailOutputSerializer, **LIST_ERRORS},
    )
    def get(self, request: Request, slug: str, intervention_id: int, outcome_id: int) -> HttpResponseBase:
        _check_parameters(request.query_params)
        evidence_map = self.map_or_404(request, slug)
        filters = StudyFilters.from_query(request.query_params, maps=[evidence_map])
        differ = str(request.query_params.get("differ", ""))
        if differ and differ not in BUILT_IN_FACTORS and differ not in dict(factor_choices(evidence_map)):
            choices = ", ".join(value for value, _ in factor_choices(evidence_map))
            raise InvalidParameter("differ", f"{differ!r} is not one of: {choices}.")

        def compute() -> dict[str, Any]:
            key = (intervention_id, outcome_id)
            evidence = versions.cell_evidence(evidence_map, filters, key)
            if intervention_id not in evidence.interventions or outcome_id not in evidence.outcomes:
                raise NotFound()
            cell = evidence.cell(*key)
            summary = selectors.cell_summary(evidence_map, *key)
            data: dict[str, Any] = null_for_missing(cell_record(present_cell(evidence, cell)))
            data.update({
                "map": evidence_map.slug,
                "filters": filters.to_query() or None,
                "summary": {
                    "headline": summary.headline, "short_summary": summary.short_summary,
                    "findings": summary.findings, "confidence_assessment": summary.confidence_assessment,
                } if summary is not None else None,
                "studies": StudyOutputSerializer(
                    selectors.study_list(Study.objects.filter(pk__in_ids=cell.study_ids)), many=True
                ).data,
                "effect_sizes": EffectSizeOutputSerializer(
                    selectors.effect_size_list(EffectSize.objects.filter(pk__in_ids=cell.effect_ids)), many=True
                ).data,
                "pooled_effects": pooled_effects(cell),
                "differ": subgroup_record(explain_cell(evidence_map, cell, differ or None)),
            })
            return data

        def build() -> Response:
            # Published studies only, for every client: computed once per map version, filters
            # and cell (evidence.versions), then served from the shared cache.
            key = versions.cache_key("api-cell.2", evidence_map, f"{filters.to_query()}|{intervention_id}|{outcome_id}|{differ}")
            return Response(versions.cached(key, compute))

        return self.conditional(request, [evidence_map], build)
