"""Downloads: the filtered studies as CSV and RIS, a cell's effect sizes as CSV, the data of each
chart of the map's overview as CSV, and the whole map as EPPI-Reviewer JSON and as an Excel
workbook in the import template's layout.

A bad filter value is a plain-text 400 that names the parameter (a download has no page to
show it on).
"""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from evidence import overview, selectors, versions
from evidence.filters import FilterError, StudyFilters
from evidence.models import EvidenceMap
from interchange import exports
from interchange.eppi.export import export_map
from interchange.table import export as table_export
from interchange.table.layout import XLSX_CONTENT_TYPE
from studies.models import CITATION_ORDER


def _attachment(body: str | bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _bad_filter(error: FilterError) -> HttpResponse:
    return HttpResponse(f"{error.field}: {error.message}\n", status=400, content_type="text/plain; charset=utf-8")


def _map_and_filters(request: HttpRequest, slug: str) -> tuple[EvidenceMap, StudyFilters]:
    """The map the user may see (else 404) and the filters; a bad filter raises FilterError."""
    evidence_map = selectors.visible_map(slug, request.user)
    return evidence_map, StudyFilters.from_query(request.GET, maps=[evidence_map], others=())


@require_GET
def studies_csv(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        evidence_map, filters = _map_and_filters(request, slug)
    except FilterError as error:
        return _bad_filter(error)
    studies = selectors.studies_for_export(filters.apply(selectors.map_studies(evidence_map, request.user)))
    body = exports.studies_csv(studies, code_sets=selectors.map_code_sets(evidence_map))
    return _attachment(body, "text/csv; charset=utf-8", f"{evidence_map.slug}-studies.csv")


@require_GET
def studies_ris(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        evidence_map, filters = _map_and_filters(request, slug)
    except FilterError as error:
        return _bad_filter(error)
    studies = list(filters.apply(selectors.map_studies(evidence_map, request.user)).order_by(*CITATION_ORDER))
    urls = {
        s.pk: request.build_absolute_uri(reverse("portal:study", kwargs={"slug": evidence_map.slug, "pk": s.pk}))
        for s in studies
    }
    body = exports.studies_ris(studies, study_url=urls)
    return _attachment(body, "application/x-research-info-systems; charset=utf-8", f"{evidence_map.slug}-studies.ris")


@require_GET
def cell_effects_csv(request: HttpRequest, slug: str, intervention_id: int, outcome_id: int) -> HttpResponse:
    try:
        evidence_map, filters = _map_and_filters(request, slug)
    except FilterError as error:
        return _bad_filter(error)
    evidence = versions.cell_evidence(evidence_map, filters, (intervention_id, outcome_id))
    if intervention_id not in evidence.interventions or outcome_id not in evidence.outcomes:
        raise Http404("No such cell on this map.")
    cell = evidence.cell(intervention_id, outcome_id)
    effects = selectors.effect_sizes_by_ids(cell.effect_ids)
    name = f"{evidence_map.slug}-cell-{intervention_id}-{outcome_id}-effect-sizes.csv"
    body = exports.effects_csv(effects, reversed_outcomes=cell.reversed_outcomes)
    return _attachment(body, "text/csv; charset=utf-8", name)


@require_GET
def overview_csv(request: HttpRequest, slug: str, chart: str) -> HttpResponse:
    """One chart of the overview page (`chart`: year, design, region, confidence, appraisal or
    country) as CSV, for the studies the user sees that pass the filters."""
    if chart not in overview.CHARTS:
        raise Http404(f"No chart {chart!r}; the charts are {', '.join(overview.CHARTS)}.")
    try:
        evidence_map, filters = _map_and_filters(request, slug)
    except FilterError as error:
        return _bad_filter(error)
    found = overview.map_overview(evidence_map, filters, request.user).chart(chart)
    body = "".join(overview.overview_csv_lines(found))
    return _attachment(body, "text/csv; charset=utf-8", f"{evidence_map.slug}-studies-by-{chart}.csv")


@require_GET
def map_eppi_json(request: HttpRequest, slug: str) -> HttpResponse:
    """The whole map (framework, code sets, the studies the user may see, codings and effect
    sizes) in the shape `manage.py import_eppi` reads."""
    evidence_map = selectors.visible_map(slug, request.user)
    body = json.dumps(export_map(evidence_map, request.user).data, ensure_ascii=False)
    return _attachment(body, "application/json; charset=utf-8", f"{evidence_map.slug}-eppi.json")


@require_GET
def map_xlsx(request: HttpRequest, slug: str) -> HttpResponse:
    """The whole map as a workbook in the import template's layout (what the reader may see)."""
    evidence_map = selectors.visible_map(slug, request.user)
    body = table_export.map_workbook(table_export.map_workbook_data(evidence_map, request.user))
    return _attachment(body, XLSX_CONTENT_TYPE, table_export.workbook_name(evidence_map))
