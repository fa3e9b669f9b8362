"""Partner API views: thin. Reads come from the selectors and the synthesis layer, writes go
through the services in studies/services.py (whose full_clean() is the validation)."""

from __future__ import annotations

from calendar import timegm
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpResponseBase
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date, quote_etag
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import selectors
from api.cells import CELL_CSV_COLUMNS, cell_data, cells_in_order, csv_row
from api.errors import InvalidParameter, model_errors
from api.renderers import CSVRenderer, table
from api.serializers import (
    MAX_INT,
    CellDetailOutputSerializer,
    CellListOutputSerializer,
    EffectSizeCreateInputSerializer,
    EffectSizeOutputSerializer,
    EffectSizePageSerializer,
    EffectSizeUpdateInputSerializer,
    ErrorSerializer,
    MapOutputSerializer,
    NodeOutputSerializer,
    OutcomeOutputSerializer,
    StudyCreateInputSerializer,
    StudyOutputSerializer,
    StudyPageSerializer,
    StudyUpdateInputSerializer,
)
from evidence.filters import StudyFilters
from evidence.models import EvidenceMap, Intervention, Outcome
from evidence.synthesis import map_evidence
from studies import services
from studies.models import EffectSize, Region, Study, StudyDesign

# Bumped when a response shape changes, so that cached copies are not reused.
API_REVISION = "1"


# --- Shared pieces ---


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


READ_ERRORS = {
    404: _error("Not found (or not visible to this client)."),
    429: _error("Too many requests; retry after the number of seconds in Retry-After."),
}
LIST_ERRORS = {400: _error("A query parameter cannot be used; `fields` names it."), **READ_ERRORS}
WRITE_ERRORS = {
    400: _error("Invalid input; `fields` maps each field to its messages. Nothing was changed."),
    401: _error("No or invalid token."),
    403: _error("The user lacks the model permission."),
    404: _error("Not found."),
}

FILTER_PARAMETERS = [
    OpenApiParameter("region", str, many=True, enum=list(Region.values),
                     description="UN M49 region (repeat or comma-separate for several)."),
    OpenApiParameter("country", str, many=True, description="ISO 3166-1 alpha-2 code(s)."),
    OpenApiParameter("population", str, many=True, description="Population (exact value)."),
    OpenApiParameter("design", str, many=True, enum=list(StudyDesign.values), description="Study design(s)."),
    OpenApiParameter("confidence", str, many=True, enum=["high", "medium", "low"],
                     description="Study confidence rating(s)."),
    OpenApiParameter("year_min", int, description="Published in or after this year (1900 to now)."),
    OpenApiParameter("year_max", int, description="Published in or before this year (1900 to now)."),
    OpenApiParameter("q", str, description="Text search in titles, abstracts and authors."),
]
PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="Page number (from 1)."),
    OpenApiParameter("page_size", int, description="Results per page (default 50, at most 500)."),
]


def _check_parameters(params: Mapping[str, Any]) -> None:
    """Reject characters no database accepts in a query, before any query runs."""
    for name in params:
        values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
        if any("\x00" in str(v) for v in values):
            raise InvalidParameter(name, "contains a NUL character.")


def _id_parameter(params: Mapping[str, Any], name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(str(raw))
    except ValueError:
        raise InvalidParameter(name, f"{raw!r} is not an id.") from None
    if not 1 <= value <= MAX_INT:
        raise InvalidParameter(name, f"{value} is not an id.")
    return value


def _nodes_below(
    model: type[Intervention] | type[Outcome], params: Mapping[str, Any], name: str, map_ids: list[int]
) -> set[int] | None:
    """The node a filter names and its sub-categories (None without the filter)."""
    node_id = _id_parameter(params, name)
    if node_id is None:
        return None
    nodes = selectors.with_descendants(model, node_id, map_ids)
    if not nodes:
        raise InvalidParameter(name, f"No {name} {node_id} on the visible maps.")
    return nodes


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class ApiView(APIView):
    """JSON views with conditional GET (ETag and Last-Modified)."""

    renderer_classes = [JSONRenderer]

    def conditional(
        self, request: Request, maps: list[EvidenceMap], build: Callable[[], Response]
    ) -> HttpResponseBase:
        """304 when the client's copy is current; otherwise `build()` with validators attached."""
        salt = "|".join([
            API_REVISION, request.get_full_path(), request.accepted_renderer.format or "",
            "drafts" if selectors.can_see_drafts(request.user) else "public",
        ])
        version = selectors.version_of(maps, salt=salt)
        etag = quote_etag(version.tag)
        last_modified = timegm(version.last_modified.utctimetuple()) if version.last_modified else None
        response: HttpResponseBase | None = get_conditional_response(
            request._request, etag=etag, last_modified=last_modified
        )
        if response is None:
            response = build()
        response["ETag"] = etag
        if last_modified is not None:
            response["Last-Modified"] = http_date(last_modified)
        response["Cache-Control"] = "no-cache" if not selectors.can_see_drafts(request.user) else "private, no-cache"
        return response

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_vary_headers(response, ("Accept", "Authorization", "Cookie"))
        return response

    def is_csv(self, request: Request) -> bool:
        return getattr(request.accepted_renderer, "format", "") == "csv"

    def map_or_404(self, request: Request, slug: str) -> EvidenceMap:
        found = selectors.with_versions(selectors.visible_maps(request.user)).filter(slug=slug).first()
        if found is None:
            raise NotFound()
        return found


# --- Maps and their frameworks ---


class MapListView(ApiView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="maps_list", summary="Maps",
        description="Every published map (reviewers also see drafts), by title. Not paginated.",
        responses={200: MapOutputSerializer(many=True), 429: READ_ERRORS[429]},
    )
    def get(self, request: Request) -> HttpResponseBase:
        # Queries: 1 (the maps, each with its counts and latest change).
        maps = list(selectors.with_versions(selectors.visible_maps(request.user)).order_by("title", "pk"))
        return self.conditional(request, maps, lambda: Response(MapOutputSerializer(maps, many=True).data))


class MapDetailView(ApiView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="maps_retrieve", summary="One map",
                   responses={200: MapOutputSerializer, **READ_ERRORS})
    def get(self, request: Request, slug: str) -> HttpResponseBase:
        evidence_map = self.map_or_404(request, slug)
        return self.conditional(
            request, [evidence_map], lambda: Response(MapOutputSerializer(evidence_map).data)
        )


class InterventionListView(ApiView):
    permission_classes = [AllowAny]
    model: type[Intervention] | type[Outcome] = Intervention
    serializer_class: type[NodeOutputSerializer] = NodeOutputSerializer

    @extend_schema(
        operation_id="interventions_list", summary="A map's interventions (rows)",
        description="Depth first, in display order; `parent_id`, `depth` and `children` give the tree.",
        responses={200: NodeOutputSerializer(many=True), **READ_ERRORS},
    )
    def get(self, request: Request, slug: str) -> HttpResponseBase:
        # Queries: 2 (the map with its version, the nodes).
        evidence_map = self.map_or_404(request, slug)

        def build() -> Response:
            nodes = selectors.framework_tree(self.model, evidence_map)
            return Response(self.serializer_class(nodes, many=True).data)

        return self.conditional(request, [evidence_map], build)


class OutcomeListView(InterventionListView):
    model = Outcome
    serializer_class = OutcomeOutputSerializer

    @extend_schema(
        operation_id="outcomes_list", summary="A map's outcomes (columns)",
        description="Depth first, in display order; `parent_id`, `depth` and `children` give the tree.",
        responses={200: OutcomeOutputSerializer(many=True), **READ_ERRORS},
    )
    def get(self, request: Request, slug: str) -> HttpResponseBase:
        return super().get(request, slug)


# --- Studies ---


def _nodes(model: type[Intervention] | type[Outcome], evidence_map: EvidenceMap, ids: list[int] | None,
           field: str) -> list[Any] | None:
    """Resolve node ids within a map; unknown ids are a field error."""
    if ids is None:
        return None
    found = list(model.objects.filter(evidence_map=evidence_map, pk__in=ids))
    missing = sorted(set(ids) - {node.pk for node in found})
    if missing:
        raise InvalidParameter(field, f"Unknown id(s) for this map: {', '.join(map(str, missing))}.")
    return found


def _saved(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except DjangoValidationError as exc:
        raise model_errors(exc) from None


def _requested_maps(request: Request, params: Any) -> list[EvidenceMap]:
    """The maps a list covers (with their versions): the `map` parameter's, or all visible."""
    maps_qs = selectors.with_versions(selectors.visible_maps(request.user))
    if params.get("map"):
        maps_qs = maps_qs.filter(slug=params["map"])
    maps = list(maps_qs)
    if params.get("map") and not maps:
        raise InvalidParameter("map", f"No map {params['map']!r}.")
    return maps


class StudyListView(ApiView):
    queryset: QuerySet[Any] = Study.objects.all()  # for DjangoModelPermissions: POST needs add_study
    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(
        operation_id="studies_list", summary="Studies",
        description="Published studies (reviewers also see drafts), in citation order. "
        "`intervention` and `outcome` include the nodes below them. CSV (`?format=csv`) is not paginated.",
        parameters=[
            OpenApiParameter("map", str, description="Slug of a map."),
            OpenApiParameter("intervention", int, description="Intervention id (with its sub-categories)."),
            OpenApiParameter("outcome", int, description="Outcome id (with its sub-categories)."),
            *FILTER_PARAMETERS, *PAGE_PARAMETERS,
        ],
        responses={200: StudyPageSerializer, **LIST_ERRORS},
    )
    def get(self, request: Request) -> HttpResponseBase:
        # Queries: 1 maps with their versions (+1 per intervention/outcome filter: the node's
        # tree), 1 count, 1 page of studies with their maps, 1 intervention codings, 1 outcome
        # codings. CSV has no count.
        params = request.query_params
        _check_parameters(params)
        filters = StudyFilters.from_query(params)
        maps = _requested_maps(request, params)
        map_ids = [m.pk for m in maps]
        studies = selectors.visible_studies(request.user).filter(evidence_map__in=map_ids)
        interventions = _nodes_below(Intervention, params, "intervention", map_ids)
        outcomes = _nodes_below(Outcome, params, "outcome", map_ids)
        studies = selectors.studies_in_map(studies, interventions=interventions, outcomes=outcomes)
        studies = selectors.study_list(filters.apply(studies))
        return self.conditional(request, maps, lambda: self.page(request, studies, StudyOutputSerializer))

    def page(self, request: Request, rows: QuerySet[Any], serializer: type[Any]) -> Response:
        if self.is_csv(request):
            return Response(table(list(serializer().fields), serializer(rows, many=True).data))
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(serializer(page, many=True).data)

    @extend_schema(
        operation_id="studies_create", summary="Add a study",
        description="Needs a token of a user with the studies.add_study permission.",
        request=StudyCreateInputSerializer,
        responses={201: StudyOutputSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = StudyCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        evidence_map = selectors.visible_maps(request.user).filter(slug=fields.pop("map")).first()
        if evidence_map is None:
            raise InvalidParameter("map", "No such map.")
        fields["interventions"] = _nodes(Intervention, evidence_map, fields.get("interventions"), "interventions")
        fields["outcomes"] = _nodes(Outcome, evidence_map, fields.get("outcomes"), "outcomes")
        study = _saved(lambda: services.study_create(user=request.user, evidence_map=evidence_map, **fields))
        study = selectors.study_list(Study.objects.filter(pk=study.pk)).get()
        return Response(StudyOutputSerializer(study).data, status=status.HTTP_201_CREATED)


class StudyDetailView(ApiView):
    queryset = Study.objects.all()  # PATCH needs studies.change_study

    def get_object(self, request: Request, pk: int) -> Study:
        study = selectors.study_list(selectors.visible_studies(request.user).filter(pk=pk)).first()
        if study is None:
            raise NotFound()
        return study

    @extend_schema(operation_id="studies_retrieve", summary="One study",
                   responses={200: StudyOutputSerializer, **READ_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        return Response(StudyOutputSerializer(self.get_object(request, pk)).data)

    @extend_schema(
        operation_id="studies_partial_update", summary="Change a study",
        description="Send only the fields to change. Needs the studies.change_study permission.",
        request=StudyUpdateInputSerializer,
        responses={200: StudyOutputSerializer, **WRITE_ERRORS},
    )
    def patch(self, request: Request, pk: int) -> Response:
        study = self.get_object(request, pk)
        data = StudyUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        for name, model in (("interventions", Intervention), ("outcomes", Outcome)):
            if name in fields:
                fields[name] = _nodes(model, study.evidence_map, fields[name], name)
        _saved(lambda: services.study_update(study=study, user=request.user, data=fields))
        study = self.get_object(request, pk)
        return Response(StudyOutputSerializer(study).data)


# --- Effect sizes ---


def _resolve_node(model: type[Intervention] | type[Outcome], pk: int | None, field: str) -> Any:
    if pk is None:
        return None
    node = model.objects.filter(pk=pk).first()
    if node is None:
        raise InvalidParameter(field, f"No {field} {pk}.")
    return node


class EffectSizeListView(StudyListView):
    queryset = EffectSize.objects.all()  # POST needs studies.add_effectsize

    @extend_schema(
        operation_id="effect_sizes_list", summary="Effect sizes",
        description="Effect sizes of published studies (reviewers also see drafts): the reviewer's "
        "input and the Hedges' g computed from it. CSV (`?format=csv`) is not paginated.",
        parameters=[
            OpenApiParameter("map", str, description="Slug of a map."),
            OpenApiParameter("study", int, description="Study id."),
            OpenApiParameter("intervention", int, description="Intervention id (with its sub-categories)."),
            OpenApiParameter("outcome", int, description="Outcome id (with its sub-categories)."),
            *PAGE_PARAMETERS,
        ],
        responses={200: EffectSizePageSerializer, **LIST_ERRORS},
    )
    def get(self, request: Request) -> HttpResponseBase:
        # Queries: 1 maps with their versions (+1 per intervention/outcome filter), 1 count,
        # 1 page of effect sizes with their studies and maps. CSV has no count.
        params = request.query_params
        _check_parameters(params)
        maps = _requested_maps(request, params)
        map_ids = [m.pk for m in maps]
        effects = selectors.visible_effect_sizes(request.user).filter(study__evidence_map__in=map_ids)
        study_id = _id_parameter(params, "study")
        if study_id is not None:
            effects = effects.filter(study_id=study_id)
        interventions = _nodes_below(Intervention, params, "intervention", map_ids)
        if interventions is not None:
            effects = effects.filter(intervention_id__in=interventions)
        outcomes = _nodes_below(Outcome, params, "outcome", map_ids)
        if outcomes is not None:
            effects = effects.filter(outcome_id__in=outcomes)
        effects = selectors.effect_size_list(effects)
        return self.conditional(request, maps, lambda: self.page(request, effects, EffectSizeOutputSerializer))

    @extend_schema(
        operation_id="effect_sizes_create", summary="Add an effect size",
        description="g is computed from the input. Needs the studies.add_effectsize permission.",
        request=EffectSizeCreateInputSerializer,
        responses={201: EffectSizeOutputSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = EffectSizeCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        study = selectors.visible_studies(request.user).filter(pk=fields.pop("study")).first()
        if study is None:
            raise InvalidParameter("study", "No such study.")
        for name, model in (("intervention", Intervention), ("outcome", Outcome)):
            if name in fields:
                fields[name] = _resolve_node(model, fields[name], name)
        effect = _saved(lambda: services.effect_size_create(user=request.user, study=study, **fields))
        effect = selectors.effect_size_list(EffectSize.objects.filter(pk=effect.pk)).get()
        return Response(EffectSizeOutputSerializer(effect).data, status=status.HTTP_201_CREATED)


class EffectSizeDetailView(ApiView):
    queryset = EffectSize.objects.all()  # PATCH needs change_effectsize, DELETE delete_effectsize

    def get_object(self, request: Request, pk: int) -> EffectSize:
        effect = selectors.effect_size_list(selectors.visible_effect_sizes(request.user).filter(pk=pk)).first()
        if effect is None:
            raise NotFound()
        return effect

    @extend_schema(operation_id="effect_sizes_retrieve", summary="One effect size",
                   responses={200: EffectSizeOutputSerializer, **READ_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        return Response(EffectSizeOutputSerializer(self.get_object(request, pk)).data)

    @extend_schema(
        operation_id="effect_sizes_partial_update", summary="Change an effect size",
        description="Send only the fields to change; g is computed again. "
        "Needs the studies.change_effectsize permission.",
        request=EffectSizeUpdateInputSerializer,
        responses={200: EffectSizeOutputSerializer, **WRITE_ERRORS},
    )
    def patch(self, request: Request, pk: int) -> Response:
        effect = self.get_object(request, pk)
        data = EffectSizeUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        for name, model in (("intervention", Intervention), ("outcome", Outcome)):
            if name in fields:
                fields[name] = _resolve_node(model, fields[name], name)
        _saved(lambda: services.effect_size_update(effect_size=effect, user=request.user, data=fields))
        return Response(EffectSizeOutputSerializer(self.get_object(request, pk)).data)

    @extend_schema(
        operation_id="effect_sizes_destroy", summary="Delete an effect size",
        description="Needs the studies.delete_effectsize permission.",
        responses={204: None, **WRITE_ERRORS},
    )
    def delete(self, request: Request, pk: int) -> Response:
        effect = self.get_object(request, pk)
        services.effect_size_delete(effect_size=effect, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


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
        filters = StudyFilters.from_query(request.query_params)
        evidence_map = self.map_or_404(request, slug)

        def build() -> Response:
            evidence = map_evidence(evidence_map, filters)
            cells = [cell_data(evidence, cell) for cell in cells_in_order(evidence)]
            if self.is_csv(request):
                return Response(table(list(CELL_CSV_COLUMNS), [csv_row(cell) for cell in cells]))
            return Response({
                "map": evidence_map.slug,
                "filters": filters.to_query(),
                "n_studies": evidence.n_studies,
                "n_effects": evidence.n_effects,
                "cells": cells,
            })

        return self.conditional(request, [evidence_map], build)


class CellDetailView(ApiView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="cells_retrieve", summary="One cell, with its studies and effect sizes",
        parameters=FILTER_PARAMETERS,
        responses={200: CellDetailOutputSerializer, **LIST_ERRORS},
    )
    def get(self, request: Request, slug: str, intervention_id: int, outcome_id: int) -> HttpResponseBase:
        _check_parameters(request.query_params)
        filters = StudyFilters.from_query(request.query_params)
        evidence_map = self.map_or_404(request, slug)

        def build() -> Response:
            key = (intervention_id, outcome_id)
            evidence = map_evidence(evidence_map, filters, only=key)
            if intervention_id not in evidence.interventions or outcome_id not in evidence.outcomes:
                raise NotFound()
            cell = evidence.cell(*key)
            summary = selectors.cell_summary_of(evidence_map, *key)
            data = cell_data(evidence, cell)
            data.update({
                "map": evidence_map.slug,
                "filters": filters.to_query(),
                "summary": {
                    "headline": summary.headline, "short_summary": summary.short_summary,
                    "findings": summary.findings, "confidence_assessment": summary.confidence_assessment,
                } if summary is not None else None,
                "studies": StudyOutputSerializer(
                    selectors.study_list(Study.objects.filter(pk__in=cell.study_ids)), many=True
                ).data,
                "effect_sizes": EffectSizeOutputSerializer(
                    selectors.effect_size_list(EffectSize.objects.filter(pk__in=cell.effect_ids)), many=True
                ).data,
            })
            return Response(data)

        return self.conditional(request, [evidence_map], build)


@extend_schema(exclude=True)
class NotFoundView(ApiView):
    """Anything else under /api/v1/: a 404 in the API's error format."""

    permission_classes = [AllowAny]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound()

    post = put = patch = delete = get

