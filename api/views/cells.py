"""Pooled cells: every cell of a map, and one cell with its studies and effect sizes."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from api.renderers import CSVRenderer, table
from api.serializers import (
    CellDetailOutputSerializer,
    CellListOutputSerializer,
    EffectSizeOutputSerializer,
    StudyOutputSerializer,
)
from api.views.base import FILTER_PARAMETERS, LIST_ERRORS, ApiView, _check_parameters
from evidence import selectors, versions
from evidence.filters import StudyFilters
from evidence.synthesis import cell_record, map_evidence, present_cell
from evidence.synthesis.presenter import CELL_CSV_COLUMNS, cell_csv_row, pooled_effects
from evidence.synthesis.subgroups import explain_cell, subgroup_record
from studies.models import EffectSize, Study

# --- Cells ---


class CellListView(ApiView):
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(
        operation_id="cells_list", summary="Every cell of a map, pooled",
        description="One entry per cell with studies (aggregate cells of categories included), "
        "for the published studies that pass the filters: the same filters as the map page. "
        "Only published studies are pooled, for every client.",
        parameters=FILTER_PARAMETERS,
        responses={200: CellListOutputSerializer, **LIST_ERRORS},
    )
    def get(self, request: Request, slug: str) -> HttpResponseBase:
        # Queries: 1 map with its version, then map_evidence's 7 (interventions, outcomes,
        # studies, intervention codings, outcome codings, effect sizes, summaries).
        _check_parameters(request.query_params)
        evidence_map = self.map_or_404(request, slug)
        filters = StudyFilters.from_query(request.query_params, maps=[evidence_map])

        def compute() -> dict[str, Any]:
            evidence = map_evidence(evidence_map, filters)
            return {
                "map": evidence_map.slug,
                "filters": filters.to_query(),
                "n_studies": evidence.n_studies,
                "n_effects": evidence.n_effects,
                "cells": [cell_record(present_cell(evidence, cell)) for cell in evidence.cells_in_order()],
            }

        def build() -> Response:
            # Computed once per map version and filters (evidence.versions), for every client.
            key = versions.cache_key("api-cells", evidence_map, filters.to_query())
            data = versions.cached(key, compute)
            if self.is_csv(request):
                return Response(table(list(CELL_CSV_COLUMNS), [cell_csv_row(cell) for cell in data["cells"]]))
            return Response(data)

        return self.conditional(request, [evidence_map], build)


class CellDetailView(ApiView):
    permission_classes = [AllowAny]

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

        def compute() -> dict[str, Any]:
            key = (intervention_id, outcome_id)
            evidence = versions.cell_evidence(evidence_map, filters, key)
            if intervention_id not in evidence.interventions or outcome_id not in evidence.outcomes:
                raise NotFound()
            cell = evidence.cell(*key)
            summary = selectors.cell_summary(evidence_map, *key)
            data = cell_record(present_cell(evidence, cell))
            data.update({
                "map": evidence_map.slug,
                "filters": filters.to_query(),
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
            key = versions.cache_key("api-cell", evidence_map, f"{filters.to_query()}|{intervention_id}|{outcome_id}|{differ}")
            return Response(versions.cached(key, compute))

        return self.conditional(request, [evidence_map], build)
