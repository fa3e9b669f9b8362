"""What changed between two releases of a map (or its last release and its working copy)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.http import HttpResponseBase
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import InvalidParameter
from api.serializers import ComparisonOutputSerializer
from api.views.base import READ_ERRORS, ApiView
from evidence.releases import compare
from studies.models import can_see_drafts

COMPARE_PARAMETERS = [
    OpenApiParameter("from", str, description="The earlier release's number (default: the one before `to`)."),
    OpenApiParameter(
        "to", str,
        description='The later release\'s number, or "working" for the working copy (the map\'s members only); '
        "default: the latest release.",
    ),
]


def comparison_record(evidence_map: Any, pair: compare.Pair, found: compare.Comparison) -> dict[str, Any]:
    """The comparison as the API returns it."""
    data = asdict(found)
    for cell, change in zip(data["cells"], found.cells, strict=True):
        cell["status"] = change.status
        for name in ("n_studies", "n_effects", "estimate", "ci_low", "ci_high", "confidence", "label"):
            before, after = cell[name]
            cell[name] = {"before": before, "after": after}
    return {
        "map": evidence_map.slug,
        "from": pair.first.number,
        "to": compare.WORKING if pair.second is None else pair.second.number,
        "counts": found.counts,
        **data,
    }


class CompareView(ApiView):
    permission_classes = [AllowAny]
    reads_releases = False  # it names its releases itself (`from`, `to`) and reads their documents
    query_parameters = frozenset({"from", "to"})

    @extend_schema(
        operation_id="releases_compare", summary="What changed between two releases",
        description="Studies added, removed (or unpublished) and re-coded (any change to a study's fields, "
        "its interventions, outcomes or codes, its appraisal or its effect sizes), framework nodes added, "
        "removed, renamed or moved, map settings changed, and every cell whose number of studies or effect "
        "sizes, pooled g, CI, confidence rating or label changed (from the releases' stored results; "
        "nothing is refitted).",
        parameters=COMPARE_PARAMETERS,
        responses={200: ComparisonOutputSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, slug: str) -> HttpResponseBase:
        evidence_map = self.map_or_404(request, slug)
        params = request.query_params
        members = can_see_drafts(request.user, evidence_map)
        try:
            pair = compare.choose_pair(evidence_map, params.get("from"), params.get("to"), members=members)
        except compare.CompareError as error:
            raise InvalidParameter(error.field, error.message) from None

        def build() -> Response:
            return Response(comparison_record(evidence_map, pair, compare.compare_pair(evidence_map, pair)))

        return self.conditional(request, [evidence_map], build)
