"""Keeping a copy of a map in sync: what changed since a time, and the whole map at once."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from stat import S_IFREG
from typing import Any

from django.http import HttpResponseBase, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils import encoders
from stream_zip import ZIP_64, stream_zip

from api.errors import InvalidParameter
from api.renderers import CSVRenderer, table
from api.serializers import (
    ChangeOutputSerializer,
    ChangesOutputSerializer,
    CodeOutputSerializer,
    CodeSetOutputSerializer,
    EffectSizeOutputSerializer,
    MapOutputSerializer,
    NodeOutputSerializer,
    OutcomeOutputSerializer,
    StudyOutputSerializer,
)
from api.views.base import LIST_ERRORS, READ_ERRORS, ApiView, updated_since
from api.views.cells import map_cells
from evidence import selectors
from evidence.changes import map_changes
from evidence.columns import EFFECT_SIZE_FIELDS, STUDY_FIELDS, csv_lines, flat, iso
from evidence.filters import StudyFilters
from evidence.models import EvidenceMap, Intervention, Outcome
from evidence.synthesis.presenter import CELL_CSV_COLUMNS, cell_csv_row
from studies.models import EffectSize, Study

# Rows read from the database at a time, and bytes of JSON sent at a time.
CHUNK = 500
STREAM_BYTES = 64 * 1024


class ChangesView(ApiView):
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer, CSVRenderer]
    reads_releases = False  # the history of the working copy, for clients that mirror it
    query_parameters = frozenset({"since"})

    @extend_schema(
        operation_id="changes_list", summary="What changed on a map since a time",
        description="Every intervention, outcome, code set, code, study (its codings included) and effect "
        "size of the map created, updated or deleted at or after `since`, each once with its latest change. "
        "`deleted` lists what this client saw and no longer sees: deleted records, and for clients "
        "without a token, unpublished studies and their effect sizes. Pass `until` as the next `since`. "
        "Pooled cells are derived: fetch them again when anything changed.",
        parameters=[OpenApiParameter(
            "since", str, required=True,
            description="ISO 8601 date or time (UTC without an offset), e.g. 2026-01-31T12:00:00Z.",
        )],
        responses={200: ChangesOutputSerializer, **LIST_ERRORS},
    )
    def get(self, request: Request, slug: str) -> HttpResponseBase:
        evidence_map = self.map_or_404(request, slug)
        since = updated_since(request.query_params, "since")
        if since is None:
            raise InvalidParameter("since", "Required: an ISO 8601 date or time.")

        def build() -> Response:
            until = timezone.now()
            changes = [
                {"type": c.kind, "id": c.id, "action": c.action, "at": c.at}
                for c in map_changes(evidence_map, since, user=request.user)
            ]
            if self.is_csv(request):
                rows = ChangeOutputSerializer(changes, many=True).data
                return Response(table(list(ChangeOutputSerializer().fields.keys()), rows))
            return Response(ChangesOutputSerializer(
                {"map": evidence_map.slug, "since": since, "until": until, "changes": changes}
            ).data)

        return self.conditional(request, [evidence_map], build)


# --- The whole map ---


class ZipRenderer(BaseRenderer):
    """Names the CSV zip for content negotiation (`?format=zip`); the view streams the body."""

    media_type = "application/zip"
    format = "zip"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return b""  # only errors reach a renderer, and they are JSON (ApiView.finalize_response)


def _tables(evidence_map: EvidenceMap, user: object, generated_at: str) -> Iterator[tuple[str, list[str], Iterable[dict[str, Any]]]]:
    """The map's tables, each as its name, its columns and its rows; the long ones (studies,
    codings, effect sizes) are read from the database in chunks as they are consumed."""
    counted = selectors.with_counts(EvidenceMap.objects.filter(pk=evidence_map.pk)).get()
    map_row = {**MapOutputSerializer(counted).data, "generated_at": generated_at}
    yield "map", list(map_row), [map_row]
    for name, model, serializer in (
        ("interventions", Intervention, NodeOutputSerializer), ("outcomes", Outcome, OutcomeOutputSerializer),
    ):
        nodes = serializer(list(selectors.framework_tree(model, evidence_map).values()), many=True).data
        yield name, list(serializer().fields.keys()), nodes
    trees = selectors.code_set_trees(evidence_map)
    set_columns: list[str] = [name for name in list(CodeSetOutputSerializer().fields) if name != "codes"]
    yield "code_sets", set_columns, [{k: v for k, v in CodeSetOutputSerializer(t).data.items() if k != "codes"}
                                     for t in trees]
    codes = [{**CodeOutputSerializer(node).data, "code_set_id": tree.id} for tree in trees for node in tree.code_list]
    yield "codes", [*CodeOutputSerializer().fields.keys(), "code_set_id"], codes

    studies = Study.objects.visible_to(user).filter(evidence_map=evidence_map)
    study_rows = (
        StudyOutputSerializer(study).data
        for study in selectors.study_list(studies).order_by("pk").iterator(chunk_size=CHUNK)
    )
    yield "studies", list(STUDY_FIELDS), study_rows
    yield "codings", ["study_id", "type", "id"], _codings(studies)
    effects = selectors.effect_size_list(
        EffectSize.objects.visible_to(user).filter(study__evidence_map=evidence_map)
    ).order_by("pk")
    yield "effect_sizes", list(EFFECT_SIZE_FIELDS), (
        EffectSizeOutputSerializer(effect).data for effect in effects.iterator(chunk_size=CHUNK)
    )
    cells = map_cells(evidence_map, StudyFilters())["cells"]
    yield "cells", list(CELL_CSV_COLUMNS), cells


def _codings(studies: Any) -> Iterator[dict[str, Any]]:
    """Each study's interventions, outcomes and codes, one row per coding."""
    for kind, through, column in (
        ("intervention", Study.interventions.through, "intervention_id"),
        ("outcome", Study.outcomes.through, "outcome_id"),
        ("code", Study.codes.through, "code_id"),
    ):
        rows = through.objects.filter(study__in=studies.values("pk")).order_by("study_id", column)
        for study_id, target in rows.values_list("study_id", column).iterator(chunk_size=CHUNK * 4):
            yield {"study_id": study_id, "type": kind, "id": target}


def _json_chunks(tables: Iterator[tuple[str, list[str], Iterable[dict[str, Any]]]]) -> Iterator[bytes]:
    """One JSON object, a key per table (`map` an object, the others arrays), written as it is read."""
    buffer: list[str] = ["{"]
    size = 0
    for index, (name, _, rows) in enumerate(tables):
        buffer.append(f'{"," if index else ""}"{name}":')
        if name == "map":
            buffer.append(_dumps(next(iter(rows))))
            continue
        buffer.append("[")
        for n, row in enumerate(rows):
            text = _dumps(row)
            buffer.append("," + text if n else text)
            size += len(text)
            if size >= STREAM_BYTES:
                yield "".join(buffer).encode()
                buffer, size = [], 0
        buffer.append("]")
    buffer.append("}")
    yield "".join(buffer).encode()


def _dumps(value: Any) -> str:
    return json.dumps(value, cls=encoders.JSONEncoder, ensure_ascii=False, separators=(",", ":"))


def _zip_chunks(tables: Iterator[tuple[str, list[str], Iterable[dict[str, Any]]]], modified: datetime) -> Iterable[bytes]:
    """A zip of one CSV per table, each written as it is read (stream-zip: zip64, deflated)."""

    def members() -> Iterator[tuple[str, datetime, int, Any, Iterable[bytes]]]:
        for name, columns, rows in tables:
            lines = csv_lines(columns, (flat(row) for row in _csv_rows(name, rows)))
            yield f"{name}.csv", modified, S_IFREG | 0o644, ZIP_64, (line.encode() for line in lines)

    return stream_zip(members())


def _csv_rows(name: str, rows: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    return (cell_csv_row(row) for row in rows) if name == "cells" else rows


class DumpView(ApiView):
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer, ZipRenderer]

    @extend_schema(
        operation_id="dump_retrieve", summary="The whole map at once",
        description="The map, its framework (interventions, outcomes), code sets and codes, studies, codings "
        "(one row per study and intervention, outcome or code), effect sizes and cells (unfiltered), as one "
        "JSON object with a key per table, or with `?format=zip` as a zip of one CSV per table "
        "(the columns are the JSON's fields). Clients without a token get published data only. The body "
        "is streamed as it is read; `map.generated_at` is the `since` for /changes/ afterwards.",
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="The tables."),
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="One CSV per table."),
            **READ_ERRORS,
        },
    )
    def get(self, request: Request, slug: str) -> HttpResponseBase:
        evidence_map = self.map_or_404(request, slug)

        def build() -> StreamingHttpResponse:
            now = timezone.now()
            tables = _tables(evidence_map, request.user, iso(now) or "")
            if getattr(request.accepted_renderer, "format", "") == "zip":
                response = StreamingHttpResponse(_zip_chunks(tables, now), content_type="application/zip")
                response["Content-Disposition"] = f'attachment; filename="{evidence_map.slug}.zip"'
            else:
                response = StreamingHttpResponse(_json_chunks(tables), content_type="application/json")
            return response

        return self.conditional(request, [evidence_map], build)  # type: ignore[arg-type]
