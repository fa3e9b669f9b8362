"""The release document: everything a reader sees of a map, as one canonical JSON value.

`build_document` reads the map's framework, code sets, cell summaries, published studies (with
their codings and appraisal), their effect sizes and the pooled result of every non-empty cell,
unfiltered; `encode` turns it into deterministic bytes (sorted keys, no whitespace, gzip with
no timestamp) and `decode` back. Rows are kept as Django's "python" serializer gives them
(`{"pk": …, "fields": {…}}`, many-to-many fields as lists of ids), so that reading a release
(evidence.releases.store) restores every field with the model's own conversions. Who wrote a
record (users) is not part of what readers see and is left out.
"""

from __future__ import annotations

import datetime
import gzip
import json
from collections.abc import Iterable
from typing import Any

from django.core.serializers.python import Serializer as PythonSerializer
from django.db.models import Model, QuerySet

from evidence.models import CellSummary, Code, CodeSet, EvidenceMap, Intervention, Outcome
from evidence.synthesis import cell_record, map_evidence, present_cell
from studies.models import AppraisalItem, EffectSize, Study

FORMAT_VERSION = 1

# Each section of the document and its model, in an order where every row's foreign keys
# point to rows of earlier sections (the map's segment_code_set is restored afterwards).
SECTIONS: dict[str, type[Model]] = {
    "map": EvidenceMap,
    "interventions": Intervention,
    "outcomes": Outcome,
    "code_sets": CodeSet,
    "codes": Code,
    "cell_summaries": CellSummary,
    "studies": Study,
    "appraisal_items": AppraisalItem,
    "effect_sizes": EffectSize,
}

# Fields that name users: not what readers see, and users are not part of a release.
PRIVATE_FIELDS = frozenset({"created_by", "updated_by"})


class _Serializer(PythonSerializer):
    """Django's "python" serializer, reading prefetched many-to-many values from the prefetch.

    Django's own builds (but does not run) a queryset per object and relation even when the
    relation is prefetched: for 20,000 studies and three codings, 60,000 querysets and about
    a third of the time a release takes."""

    def handle_m2m_field(self, obj: Model, field: Any) -> None:
        prefetched = getattr(obj, "_prefetched_objects_cache", {})
        if field.name in prefetched:
            self._current[field.name] = [related.pk for related in prefetched[field.name]]  # type: ignore[attr-defined]
        else:
            super().handle_m2m_field(obj, field)


def _rows(queryset: QuerySet[Any]) -> list[dict[str, Any]]:
    """The rows as the "python" serializer gives them, without the model name or users."""
    rows = _Serializer().serialize(queryset)
    return [
        {"pk": row["pk"], "fields": {k: v for k, v in row["fields"].items() if k not in PRIVATE_FIELDS}}
        for row in rows
    ]


def _parents_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tree rows ordered so that every parent comes before its children."""
    by_id = {row["pk"]: row for row in rows}
    ordered: list[dict[str, Any]] = []
    placed: set[int] = set()

    def place(row: dict[str, Any]) -> None:
        if row["pk"] in placed:
            return
        parent = row["fields"].get("parent")
        if parent is not None and parent in by_id:
            place(by_id[parent])
        placed.add(row["pk"])
        ordered.append(row)

    for row in rows:
        place(row)
    return ordered


def cell_payloads(evidence_map: EvidenceMap) -> dict[str, dict[str, Any]]:
    """The pooled result of every non-empty cell, unfiltered, as the one cell presenter gives
    it to the API, keyed by "intervention_id/outcome_id"."""
    evidence = map_evidence(evidence_map)
    return {
        f"{cell.intervention_id}/{cell.outcome_id}": cell_record(present_cell(evidence, cell))
        for cell in evidence.cells_in_order()
    }


def build_document(evidence_map: EvidenceMap) -> dict[str, Any]:
    """Everything a reader sees of `evidence_map` now (published studies only)."""
    studies = Study.objects.published().filter(evidence_map=evidence_map).order_by("pk")
    study_ids = studies.values("pk")
    document: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "map": _rows(EvidenceMap.objects.filter(pk=evidence_map.pk))[0],
        "interventions": _parents_first(_rows(Intervention.objects.filter(evidence_map=evidence_map).order_by("pk"))),
        "outcomes": _parents_first(_rows(Outcome.objects.filter(evidence_map=evidence_map).order_by("pk"))),
        "code_sets": _rows(CodeSet.objects.filter(evidence_map=evidence_map).order_by("pk")),
        "codes": _parents_first(_rows(Code.objects.filter(code_set__evidence_map=evidence_map).order_by("pk"))),
        "cell_summaries": _rows(CellSummary.objects.filter(evidence_map=evidence_map).order_by("pk")),
        "studies": _rows(studies.prefetch_related(
            _only_pk("interventions"), _only_pk("outcomes"), _only_pk("codes"),
        )),
        "appraisal_items": _rows(AppraisalItem.objects.filter(study__in=study_ids).order_by("pk")),
        "effect_sizes": _rows(EffectSize.objects.filter(study__in=study_ids).order_by("pk")),
        "cells": cell_payloads(evidence_map),
    }
    return document


def _only_pk(name: str) -> Any:
    from django.db.models import Prefetch

    model: Any = Study._meta.get_field(name).related_model
    return Prefetch(name, queryset=model._default_manager.only("pk").order_by("pk"))


def counts(document: dict[str, Any]) -> dict[str, int]:
    """The numbers a release row keeps of its document."""
    return {
        "n_studies": len(document["studies"]),
        "n_effect_sizes": len(document["effect_sizes"]),
        "n_cells": len(document["cells"]),
    }


def _default(value: Any) -> Any:
    # Full precision, unlike DjangoJSONEncoder, which drops microseconds after the third digit.
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return list(value)
    raise TypeError(f"A release cannot store {type(value).__name__} values ({value!r}).")


def encode(document: dict[str, Any]) -> bytes:
    """Canonical JSON (sorted keys, no whitespace), gzipped without a timestamp: the same
    document gives the same bytes."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)


def decode(data: bytes | memoryview) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(gzip.decompress(bytes(data)))
    return document
