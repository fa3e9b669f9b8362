"""Effect sizes: list, read, create, change and delete (writes through studies.services)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponseBase
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import InvalidParameter
from api.serializers import (
    EffectSizeCreateInputSerializer,
    EffectSizeOutputSerializer,
    EffectSizePageSerializer,
    EffectSizeUpdateInputSerializer,
)
from api.views.base import (
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
    _id_parameter,
    _nodes_below,
    _requested_maps,
    _saved,
    ordering,
    updated_since,
)
from api.views.studies import StudyListView
from evidence import selectors
from evidence.models import Intervention, Outcome
from studies import services
from studies.models import EFFECT_CITATION_ORDER, EffectSize, Study

# --- Effect sizes ---


def _resolve_node(model: type[Intervention] | type[Outcome], pk: int | None, field: str) -> Any:
    if pk is None:
        return None
    node = model.objects.filter(pk=pk).first()
    if node is None:
        raise InvalidParameter(field, f"No {field} {pk}.")
    return node


EFFECT_SIZE_ORDERING = {
    "id": "pk", "study_id": "study_id", "g": "g", "created_at": "created_at", "updated_at": "updated_at",
}


class EffectSizeListView(StudyListView):
    queryset = EffectSize.objects.all()  # writes need the reviewer role on the map
    query_parameters = PAGE_NAMES | SYNC_NAMES | {"map", "study", "intervention", "outcome"}

    @extend_schema(
        operation_id="effect_sizes_list", summary="Effect sizes",
        description="Effect sizes of published studies (reviewers also see drafts): the reviewer's "
        "input and the Hedges' g computed from it. CSV (`?format=csv`) is not paginated.",
        parameters=[
            MAP_PARAMETER,
            OpenApiParameter("study", int, description="Study id."),
            *NODE_PARAMETERS, *SYNC_PARAMETERS, *PAGE_PARAMETERS,
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
        effects: QuerySet[EffectSize] = EffectSize.objects.visible_to(request.user).filter(study__evidence_map__in=map_ids)
        study_id = _id_parameter(params, "study")
        if study_id is not None:
            effects = effects.filter(study_id=study_id)
        interventions = _nodes_below(Intervention, params, "intervention", map_ids)
        if interventions is not None:
            effects = effects.filter(intervention_id__in=interventions)
        outcomes = _nodes_below(Outcome, params, "outcome", map_ids)
        if outcomes is not None:
            effects = effects.filter(outcome_id__in=outcomes)
        since = updated_since(params)
        if since is not None:
            effects = effects.filter(updated_at__gte=since)
        effects = selectors.effect_size_list(effects).order_by(*ordering(params, EFFECT_SIZE_ORDERING, EFFECT_CITATION_ORDER))
        return self.conditional(request, maps, lambda: self.page(request, effects, EffectSizeOutputSerializer))

    @extend_schema(
        operation_id="effect_sizes_create", summary="Add an effect size",
        description="g is computed from the input. Needs the reviewer role on the study's map.",
        request=EffectSizeCreateInputSerializer,
        responses={201: EffectSizeOutputSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = EffectSizeCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        study = Study.objects.visible_to(request.user).filter(pk=fields.pop("study")).first()
        if study is None:
            raise InvalidParameter("study", "No such study.")
        for name, model in (("intervention", Intervention), ("outcome", Outcome)):
            if name in fields:
                fields[name] = _resolve_node(model, fields[name], name)
        effect = _saved(lambda: services.effect_size_create(user=request.user, study=study, **fields))
        effect = selectors.effect_size_list(EffectSize.objects.filter(pk=effect.pk)).get()
        return Response(EffectSizeOutputSerializer(effect).data, status=status.HTTP_201_CREATED)


class EffectSizeDetailView(ApiView):
    queryset = EffectSize.objects.all()  # PATCH and DELETE need the reviewer role on the map

    def get_object(self, request: Request, pk: int) -> EffectSize:
        effect = selectors.effect_size_list(EffectSize.objects.visible_to(request.user).filter(pk=pk)).first()
        if effect is None:
            raise NotFound()
        return effect

    @extend_schema(operation_id="effect_sizes_retrieve", summary="One effect size",
                   description="An effect size of a published study (reviewers also see drafts): the "
                   "reviewer's input and the Hedges' g computed from it.",
                   responses={200: EffectSizeOutputSerializer, **READ_ERRORS})
    def get(self, request: Request, pk: int) -> HttpResponseBase:
        effect = self.get_object(request, pk)
        return self.conditional(
            request, [effect.study.evidence_map], lambda: Response(EffectSizeOutputSerializer(effect).data)
        )

    @extend_schema(
        operation_id="effect_sizes_partial_update", summary="Change an effect size",
        description="Send only the fields to change; g is computed again. "
        "Needs the reviewer role on the study's map.",
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
        description="Needs the reviewer role on the study's map.",
        responses={204: None, **WRITE_ERRORS},
    )
    def delete(self, request: Request, pk: int) -> Response:
        effect = self.get_object(request, pk)
        services.effect_size_delete(effect_size=effect, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


