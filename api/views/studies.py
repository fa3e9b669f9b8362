"""Studies: list, read, create and change (writes through studies.services)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponseBase
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import InvalidParameter
from api.renderers import CSVRenderer
from api.serializers import (
    StudyCreateInputSerializer,
    StudyOutputSerializer,
    StudyPageSerializer,
    StudyUpdateInputSerializer,
)
from api.views.base import (
    FILTER_NAMES,
    FILTER_PARAMETERS,
    LIST_ERRORS,
    MAP_PARAMETER,
    NODE_PARAMETERS,
    PAGE_NAMES,
    PAGE_PARAMETERS,
    READ_ERRORS,
    SYNC_NAMES,
    SYNC_PARAMETERS,
    WRITE_ERRORS,
    ApiView,
    _check_parameters,
    _nodes_below,
    _requested_maps,
    _saved,
    ordering,
    updated_since,
)
from evidence import selectors
from evidence.filters import StudyFilters
from evidence.models import Code, EvidenceMap, Intervention, Outcome
from studies import services
from studies.models import CITATION_ORDER, Study

# --- Studies ---


def _nodes(model: type[Intervention] | type[Outcome] | type[Code], evidence_map: EvidenceMap,
           ids: list[int] | None, field: str) -> list[Any] | None:
    """Resolve node ids (or code ids) within a map; unknown ids are a field error."""
    if ids is None:
        return None
    in_map = {"code_set__evidence_map": evidence_map} if model is Code else {"evidence_map": evidence_map}
    found = list(model.objects.filter(pk__in=ids, **in_map))
    missing = sorted(set(ids) - {node.pk for node in found})
    if missing:
        raise InvalidParameter(field, f"Unknown id(s) for this map: {', '.join(map(str, missing))}.")
    return found




STUDY_ORDERING = {
    "id": "pk", "year": "year", "title": "title", "authors": "authors",
    "created_at": "created_at", "updated_at": "updated_at",
}


class StudyListView(ApiView):
    queryset: QuerySet[Any] = Study.objects.all()  # POST needs the reviewer role (api.permissions)
    renderer_classes = [JSONRenderer, CSVRenderer]
    query_parameters = FILTER_NAMES | PAGE_NAMES | SYNC_NAMES | {"map", "intervention", "outcome"}

    @extend_schema(
        operation_id="studies_list", summary="Studies",
        description="Published studies (reviewers also see drafts), in citation order. "
        "`intervention` and `outcome` include the nodes below them. CSV (`?format=csv`) is not paginated.",
        parameters=[
            MAP_PARAMETER, *NODE_PARAMETERS, *FILTER_PARAMETERS, *SYNC_PARAMETERS, *PAGE_PARAMETERS,
        ],
        responses={200: StudyPageSerializer, **LIST_ERRORS},
    )
    def get(self, request: Request) -> HttpResponseBase:
        # Queries: 1 maps with their versions (+1 per intervention/outcome filter: the node's
        # tree; +2 with a code filter: its ids checked, its code sets' trees), 1 count, 1 page
        # of studies with their maps, 1 intervention codings, 1 outcome codings, 1 codes.
        # CSV has no count.
        params = request.query_params
        _check_parameters(params)
        maps = _requested_maps(request, params)
        map_ids = [m.pk for m in maps]
        filters = StudyFilters.from_query(params, maps=map_ids)
        studies: QuerySet[Study] = Study.objects.visible_to(request.user).filter(evidence_map__in=map_ids)
        interventions = _nodes_below(Intervention, params, "intervention", map_ids)
        outcomes = _nodes_below(Outcome, params, "outcome", map_ids)
        studies = selectors.studies_in_nodes(studies, interventions=interventions, outcomes=outcomes)
        since = updated_since(params)
        if since is not None:
            studies = studies.filter(updated_at__gte=since)
        order = ordering(params, STUDY_ORDERING, CITATION_ORDER)

        def build() -> Response:
            # Applied here, after the conditional check: the code filter reads its code sets.
            rows = selectors.study_list(filters.apply(studies)).order_by(*order)
            return self.page(request, rows, StudyOutputSerializer)

        return self.conditional(request, maps, build)


    @extend_schema(
        operation_id="studies_create", summary="Add a study",
        description="Needs a token of a user with the reviewer role on the map (publisher to add it published).",
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
        fields["codes"] = _nodes(Code, evidence_map, fields.get("codes"), "codes")
        study = _saved(lambda: services.study_create(user=request.user, evidence_map=evidence_map, **fields))
        study = selectors.study_list(Study.objects.filter(pk=study.pk)).get()
        return Response(StudyOutputSerializer(study).data, status=status.HTTP_201_CREATED)


class StudyDetailView(ApiView):
    queryset = Study.objects.all()  # PATCH needs the reviewer role on the study's map

    def get_object(self, request: Request, pk: int) -> Study:
        study = selectors.study_list(Study.objects.visible_to(request.user).filter(pk=pk)).first()
        if study is None:
            raise NotFound()
        return study

    @extend_schema(operation_id="studies_retrieve", summary="One study",
                   description="A published study (reviewers also see drafts), with its coding.",
                   responses={200: StudyOutputSerializer, **READ_ERRORS})
    def get(self, request: Request, pk: int) -> HttpResponseBase:
        study = self.get_object(request, pk)
        return self.conditional(request, [study.evidence_map], lambda: Response(StudyOutputSerializer(study).data))

    @extend_schema(
        operation_id="studies_partial_update", summary="Change a study",
        description="Send only the fields to change. Needs the reviewer role on the study's map (publisher to change `status`).",
        request=StudyUpdateInputSerializer,
        responses={200: StudyOutputSerializer, **WRITE_ERRORS},
    )
    def patch(self, request: Request, pk: int) -> Response:
        study = self.get_object(request, pk)
        data = StudyUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        for name, model in (("interventions", Intervention), ("outcomes", Outcome), ("codes", Code)):
            if name in fields:
                fields[name] = _nodes(model, study.evidence_map, fields[name], name)
        _saved(lambda: services.study_update(study=study, user=request.user, data=fields))
        study = self.get_object(request, pk)
        return Response(StudyOutputSerializer(study).data)


