"""Maps, their frameworks (interventions and outcomes) and their code sets."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpResponseBase
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from api.serializers import (
    CodeSetOutputSerializer,
    MapOutputSerializer,
    NodeOutputSerializer,
    OutcomeOutputSerializer,
    ReleaseOutputSerializer,
)
from api.views.base import (
    LIST_ERRORS,
    READ_ERRORS,
    SYNC_NAMES,
    SYNC_PARAMETERS,
    ApiView,
    ordering,
    sorted_rows,
    updated_since,
)
from evidence import selectors
from evidence.changes import changed_since
from evidence.models import CodeSet, Intervention, Outcome
from evidence.releases.selectors import map_releases

# --- Maps and their frameworks ---


MAP_ORDERING = {"title": "title", "slug": "slug", "updated_at": "updated_at", "id": "pk"}


class MapListView(ApiView):
    permission_classes = [AllowAny]
    query_parameters = SYNC_NAMES

    @extend_schema(
        operation_id="maps_list", summary="Maps",
        description="Every published map (reviewers also see drafts), by title. Not paginated.",
        parameters=SYNC_PARAMETERS,
        responses={200: MapOutputSerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request) -> HttpResponseBase:
        # Queries: 1 (the maps, each with its counts and latest change).
        params = request.query_params
        order = ordering(params, MAP_ORDERING, ("title", "pk"))
        since = updated_since(params)
        maps_qs = selectors.with_counts(selectors.visible_maps(request.user)).order_by(*order)
        maps = list(maps_qs if since is None else maps_qs.filter(Q(updated_at__gte=since) | Q(changed_at__gte=since)))
        return self.conditional(request, maps, lambda: Response(MapOutputSerializer(maps, many=True).data))


class MapDetailView(ApiView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="maps_retrieve", summary="One map",
                   description="A published map (reviewers also see drafts) with its synthesis settings "
                   "and its number of published studies.",
                   responses={200: MapOutputSerializer, **READ_ERRORS})
    def get(self, request: Request, slug: str) -> HttpResponseBase:
        evidence_map = self.map_or_404(request, slug, counts=True)
        return self.conditional(
            request, [evidence_map], lambda: Response(MapOutputSerializer(evidence_map).data)
        )


class ReleaseListView(ApiView):
    permission_classes = [AllowAny]
    reads_releases = False  # the list of releases is the map's own

    @extend_schema(operation_id="releases_list", summary="A map's releases",
                   description="The map's releases, newest first: numbered, dated snapshots that never change, "
                   "with their notes, the search dates they cover and their counts. Read one with "
                   "`?release=n` on any of the map's URLs.",
                   responses={200: ReleaseOutputSerializer(many=True), **READ_ERRORS})
    def get(self, request: Request, slug: str) -> HttpResponseBase:
        evidence_map = self.map_or_404(request, slug)
        releases = list(map_releases(evidence_map).select_related("evidence_map"))
        return self.conditional(
            request, [evidence_map],
            lambda: Response(ReleaseOutputSerializer(releases, many=True, context={"request": request}).data),
        )


# Trees are sent depth first in display order; `ordering` sorts them by these instead.
NODE_ORDERING = {"id": "id", "name": "name", "position": "position"}
TREE_SYNC = (
    "`updated_since` keeps the nodes changed since then (from the history; deletions are listed "
    "by /api/v1/maps/{slug}/changes/)."
)


class InterventionListView(ApiView):
    permission_classes = [AllowAny]
    model: type[Intervention] | type[Outcome] = Intervention
    serializer_class: type[NodeOutputSerializer] = NodeOutputSerializer
    query_parameters = SYNC_NAMES

    @extend_schema(
        operation_id="interventions_list", summary="A map's interventions (rows)",
        description="Depth first, in display order; `parent_id`, `depth` and `children` give the tree. " + TREE_SYNC,
        parameters=SYNC_PARAMETERS,
        responses={200: NodeOutputSerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, slug: str) -> HttpResponseBase:
        # Queries: 2 (the map with its version, the nodes); +1 with updated_since.
        evidence_map = self.map_or_404(request, slug)
        since = updated_since(request.query_params)
        sorted_rows(request.query_params, [], NODE_ORDERING)  # a bad ordering is a 400 before any work

        def build() -> Response:
            nodes = list(selectors.framework_tree(self.model, evidence_map).values())
            if since is not None:
                changed = changed_since(self.model, evidence_map, since)
                nodes = [node for node in nodes if node.id in changed]
            nodes = sorted_rows(request.query_params, nodes, NODE_ORDERING)
            return Response(self.serializer_class(nodes, many=True).data)

        return self.conditional(request, [evidence_map], build)


class OutcomeListView(InterventionListView):
    model = Outcome
    serializer_class = OutcomeOutputSerializer

    @extend_schema(
        operation_id="outcomes_list", summary="A map's outcomes (columns)",
        description="Depth first, in display order; `parent_id`, `depth` and `children` give the tree. " + TREE_SYNC,
        parameters=SYNC_PARAMETERS,
        responses={200: OutcomeOutputSerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, slug: str) -> HttpResponseBase:
        return super().get(request, slug)




class CodeSetListView(ApiView):
    permission_classes = [AllowAny]
    query_parameters = SYNC_NAMES

    @extend_schema(
        operation_id="code_sets_list", summary="A map's code sets, with their code trees",
        description="The map's own code sets (setting, population group, ...), in order, each with "
        "its codes depth first. Filter studies and cells by codes with the `code` parameter; "
        "`is_segment` marks the code set whose top-level codes segment the map's bubbles. "
        "`updated_since` keeps the code sets changed since then, or one of whose codes did.",
        parameters=SYNC_PARAMETERS,
        responses={200: CodeSetOutputSerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, slug: str) -> HttpResponseBase:
        # Queries: 3 (the map with its version, its code sets, their codes); +1 with updated_since.
        evidence_map = self.map_or_404(request, slug)
        since = updated_since(request.query_params)
        sorted_rows(request.query_params, [], NODE_ORDERING)

        def build() -> Response:
            trees = selectors.code_set_trees(evidence_map)
            if since is not None:
                changed = changed_since(CodeSet, evidence_map, since)
                trees = [tree for tree in trees if tree.id in changed]
            trees = sorted_rows(request.query_params, trees, NODE_ORDERING)
            return Response(CodeSetOutputSerializer(trees, many=True).data)

        return self.conditional(request, [evidence_map], build)
