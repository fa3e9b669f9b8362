"""A whole map as an .xlsx workbook in the template's layout: its rows and columns, code sets,
the studies a reader may see, their codings and effect sizes.

`map_workbook_data` runs the queries (the studies and effect sizes through `visible_to`, the
one visibility rule); `map_workbook` builds the file from what it fetched, with no queries of
its own. Importing the workbook into an empty map gives the same map.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch

from evidence.models import Code, CodeSet, EvidenceMap, Intervention, Outcome
from interchange.table.layout import (
    CODE_SETS,
    CODES,
    EFFECT_SIZES,
    FRAMEWORK,
    LIST_SEPARATOR,
    PATH_SEPARATOR,
    STUDIES,
    new_workbook,
    workbook_bytes,
)
from studies.effect_sizes.registry import INPUT_FIELDS, accepted_fields
from studies.models import CITATION_ORDER, EffectSize, Study

JOIN = LIST_SEPARATOR + " "


@dataclass
class MapWorkbookData:
    evidence_map: EvidenceMap
    interventions: list[Intervention]
    outcomes: list[Outcome]
    code_sets: list[CodeSet]
    codes: list[Code]
    studies: list[Study]  # with interventions, outcomes and codes prefetched
    effects: list[EffectSize]


def map_workbook_data(evidence_map: EvidenceMap, user: object) -> MapWorkbookData:
    """What the workbook holds for `user` (nine queries)."""
    studies = (
        Study.objects.visible_to(user).filter(evidence_map=evidence_map).order_by(*CITATION_ORDER, "pk")
        .prefetch_related("interventions", "outcomes", Prefetch("codes", queryset=Code.objects.only("id")))
    )
    return MapWorkbookData(
        evidence_map=evidence_map,
        interventions=list(Intervention.objects.filter(evidence_map=evidence_map)),
        outcomes=list(Outcome.objects.filter(evidence_map=evidence_map)),
        code_sets=list(CodeSet.objects.filter(evidence_map=evidence_map)),
        codes=list(Code.objects.filter(code_set__evidence_map=evidence_map)),
        studies=list(studies),
        effects=list(EffectSize.objects.visible_to(user).filter(study__evidence_map=evidence_map)
                     .order_by("study_id", "pk")),
    )


def _ordered(rows: Iterable[Any]) -> list[tuple[Any, str]]:
    """Nodes of a tree, parents first and siblings in order, with their name paths."""
    children: dict[int | None, list[Any]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    out: list[tuple[Any, str]] = []

    def add(parent: int | None, path: str) -> None:
        for row in sorted(children.get(parent, []), key=lambda r: (r.position, r.name)):
            here = f"{path}{PATH_SEPARATOR}{row.name}" if path else row.name
            out.append((row, here))
            add(row.pk, here)

    add(None, "")
    return out


def study_key(study: Study) -> str:
    return study.external_id or f"study-{study.pk}"


def effect_key(effect: EffectSize) -> str:
    return effect.external_id or f"effect-{effect.pk}"


def _value(value: object) -> object:
    return "" if value is None else value


def _append(ws: Any, values: list[object]) -> None:
    """A line of values, text kept as text (openpyxl would take "=…" for a formula)."""
    ws.append(values)
    for cell in ws[ws.max_row]:
        if cell.data_type == "f":
            cell.data_type = "s"


def map_workbook(data: MapWorkbookData) -> bytes:
    workbook = new_workbook()
    rows = _ordered(data.interventions)
    columns = _ordered(data.outcomes)
    row_path = {row.pk: path for row, path in rows}
    column_path = {row.pk: path for row, path in columns}
    code_paths: dict[int, tuple[str, str]] = {}

    ws = workbook[FRAMEWORK.name]
    for kind, nodes in (("Row", rows), ("Column", columns)):
        for node, path in nodes:
            _append(ws, [kind, path, node.description, node.external_id])

    ws = workbook[CODE_SETS.name]
    segment = data.evidence_map.segment_code_set_id
    for code_set in sorted(data.code_sets, key=lambda s: (s.position, s.name)):
        _append(ws, [code_set.name, "", code_set.description, code_set.external_id,
                   "yes" if code_set.is_filter else "", "yes" if code_set.pk == segment else ""])
        for code, path in _ordered(c for c in data.codes if c.code_set_id == code_set.pk):
            code_paths[code.pk] = (code_set.name, path)
            _append(ws, [code_set.name, path, code.description, code.external_id, "", ""])

    ws = workbook[STUDIES.name]
    codes_ws = workbook[CODES.name]
    keys: dict[int, str] = {}
    for study in data.studies:
        keys[study.pk] = key = study_key(study)
        countries = [str(c.code) for c in study.countries] + (["Global"] if study.is_global else [])
        values: dict[str, object] = {
            "external_id": key, "authors": study.authors, "year": _value(study.year), "title": study.title,
            "short_title": study.short_title, "source": study.source, "volume": study.volume, "issue": study.issue,
            "pages": study.pages, "doi": study.doi, "url": study.url, "abstract": study.abstract,
            "keywords": JOIN.join(study.keywords.splitlines()), "countries": JOIN.join(countries),
            "design": study.get_design_display(), "population": study.population,
            "confidence": study.get_confidence_display() if study.confidence else "",
            "status": study.get_status_display(),
            "interventions": JOIN.join(sorted(row_path[n.pk] for n in study.interventions.all())),
            "outcomes": JOIN.join(sorted(column_path[n.pk] for n in study.outcomes.all())),
        }
        _append(ws, [values[c.name] for c in STUDIES.columns])
        for code in sorted(study.codes.all(), key=lambda c: code_paths[c.pk]):
            _append(codes_ws, [key, *code_paths[code.pk]])

    ws = workbook[EFFECT_SIZES.name]
    for effect in data.effects:
        accepted = set(accepted_fields(effect.input_kind))
        values = {
            "study": keys[effect.study_id], "external_id": effect_key(effect),
            "intervention": row_path[effect.intervention_id], "outcome": column_path[effect.outcome_id],
            "label": effect.label, "input_kind": effect.input_kind, "notes": effect.notes,
            **{name: _value(getattr(effect, name)) if name in accepted else "" for name in INPUT_FIELDS},
        }
        _append(ws, [values[c.name] for c in EFFECT_SIZES.columns])
    return workbook_bytes(workbook)


def workbook_name(evidence_map: EvidenceMap) -> str:
    return f"{evidence_map.slug}-map.xlsx"

