"""What the public pages hand out: the map's JSON, forest-plot data, CSV and RIS files.

Pure functions over the synthesis layer's results and model instances; they run no queries
of their own (the views fetch everything first).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from typing import Any

from evidence.stats.interpret import EFFECT_LABEL_PRESETS
from evidence.synthesis import Cell, MapEvidence, Node
from studies.models import INPUT_FIELDS, EffectSize, Study, StudyDesign, accepted_fields

# Text that a spreadsheet would run as a formula starts with one of these.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _num(value: float | None, digits: int = 4) -> float | None:
    """A JSON-safe rounded number (NaN and infinities become null)."""
    if value is None:
        return None
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def _node_json(node: Node) -> dict[str, Any]:
    return {
        "id": node.id,
        "name": node.name,
        "description": node.description,
        "parent": node.parent_id,
        "depth": node.depth,
        "children": list(node.children),
        "higher_is_better": node.higher_is_better,
    }


def cell_json(cell: Cell) -> dict[str, Any]:
    """One cell as the map's JavaScript and the table view read it."""
    data: dict[str, Any] = {
        "i": cell.intervention_id,
        "o": cell.outcome_id,
        "studies": cell.n_studies,
        "effects": cell.n_effects,
        "designs": dict(sorted(cell.designs.items(), key=lambda kv: (-kv[1], kv[0]))),
        "region": cell.region,
        "g": None,
    }
    result = cell.result
    if result is not None:
        data.update(
            g=_num(result.estimate),
            se=_num(result.se),
            ci=[_num(result.ci_low), _num(result.ci_high)],
            pi=[_num(result.pi_low), _num(result.pi_high)],
            i2=_num(result.i2, 1),
        )
    if cell.label is not None:
        data.update(
            label=cell.label.text,
            band=cell.label.band,
            direction=cell.label.direction,
            beneficial=cell.label.beneficial,
        )
    if cell.confidence is not None:
        data.update(confidence=cell.confidence.level, confidence_text=cell.confidence.text)
    return data


def _bands(preset: str) -> list[str]:
    """The preset's band names from the smallest effect up, so the map can shade by size."""
    found = EFFECT_LABEL_PRESETS.get(preset)
    return list(found.bands) if found else []


def map_json(evidence: MapEvidence, *, cell_url: str, urls: dict[str, str]) -> dict[str, Any]:
    """The whole filtered map: rows, columns and every cell with studies, in one document.

    `cell_url` is a template with {i} and {o} placeholders; `urls` the export links.
    """
    return {
        "map": {"slug": evidence.evidence_map.slug, "title": evidence.evidence_map.title},
        "query": evidence.filters.to_query(),
        "filtered": evidence.filters.active,
        "totals": {"studies": evidence.n_studies, "effects": evidence.n_effects},
        "interventions": [_node_json(n) for n in evidence.interventions.values()],
        "outcomes": [_node_json(n) for n in evidence.outcomes.values()],
        "cells": [cell_json(c) for c in evidence.cells.values()],
        "designs": dict(StudyDesign.choices),
        "bands": _bands(evidence.evidence_map.effect_label_preset),
        "cell_url": cell_url,
        "urls": urls,
    }


def forest_json(
    effects: Iterable[EffectSize], cell: Cell, *, citations: dict[int, str], egger_min_k: int
) -> dict[str, Any]:
    """The forest (and funnel) plot's data: each effect size grouped by study, then the pool."""
    rows = [
        {
            "study": citations.get(es.study_id, str(es.study_id)),
            "label": es.label,
            "g": _num(es.g),
            "se": _num(es.se_g),
            "ci": [_num(es.ci_low_g), _num(es.ci_high_g)],
        }
        for es in effects
    ]
    pooled = None
    if cell.result is not None:
        r = cell.result
        pooled = {
            "g": _num(r.estimate),
            "ci": [_num(r.ci_low), _num(r.ci_high)],
            "pi": [_num(r.pi_low), _num(r.pi_high)],
            "label": cell.label.text if cell.label else "",
        }
    return {
        "rows": rows,
        "pooled": pooled,
        "funnel": len(rows) >= egger_min_k and pooled is not None,
        "egger_p": _num(cell.egger_p),
    }


# --- CSV and RIS ---------------------------------------------------------------------------


def _cell_text(value: object) -> object:
    """Keep text from being read as a spreadsheet formula; numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv(header: list[str], rows: Iterable[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell_text(v) for v in row])
    return out.getvalue()


def doi_url(doi: str) -> str:
    return f"https://doi.org/{doi}" if doi else ""


STUDY_COLUMNS = [
    "id", "authors", "year", "title", "source", "doi", "url", "design", "study_confidence",
    "countries", "region", "population", "interventions", "outcomes", "abstract",
]


def studies_csv(studies: Iterable[Study]) -> str:
    """Studies with their coding; interventions and outcomes must be prefetched."""
    return _csv(
        STUDY_COLUMNS,
        (
            [
                s.pk, s.authors, s.year, s.title, s.source, s.doi, s.url, s.get_design_display(),
                s.get_confidence_display(), "; ".join(c.code for c in s.countries), s.region,
                s.population, "; ".join(n.name for n in s.interventions.all()),
                "; ".join(n.name for n in s.outcomes.all()), s.abstract,
            ]
            for s in studies
        ),
    )


def _ris_line(tag: str, value: object) -> str:
    text = " ".join(str(value).split())  # one line: RIS has no continuation lines
    return f"{tag}  - {text}"


def studies_ris(studies: Iterable[Study], *, study_url: dict[int, str] | None = None) -> str:
    """The studies as RIS records (TY, AU, PY, TI, T2, DO, UR, AB, ER), one per study.

    `study_url` gives each study's page on the portal, used when it has no URL of its own.
    """
    lines: list[str] = []
    for s in studies:
        lines.append(_ris_line("TY", "JOUR" if "journal" in s.source.lower() else "GEN"))
        for author in s.authors.split(";"):
            if author.strip():
                lines.append(_ris_line("AU", author.strip()))
        lines.append(_ris_line("PY", s.year))
        lines.append(_ris_line("TI", s.title))
        if s.source:
            lines.append(_ris_line("T2", s.source))
        if s.doi:
            lines.append(_ris_line("DO", s.doi))
        url = s.url or doi_url(s.doi) or (study_url or {}).get(s.pk, "")
        if url:
            lines.append(_ris_line("UR", url))
        if s.abstract:
            lines.append(_ris_line("AB", s.abstract))
        lines.append("ER  - ")
        lines.append("")
    return "\r\n".join(lines)


EFFECT_COLUMNS = [
    "effect_id", "study_id", "study", "label", "intervention", "outcome", "input_kind", "inputs",
    "g", "se", "ci_low", "ci_high", "conversion_note",
]


def effect_inputs(es: EffectSize) -> list[tuple[str, object]]:
    """The input values an effect size was computed from, by their field names as shown."""
    fields = {f.name: f for f in EffectSize._meta.get_fields() if f.name in INPUT_FIELDS}
    return [
        (str(fields[name].verbose_name), getattr(es, name))
        for name in accepted_fields(es.input_kind)
        if getattr(es, name) is not None
    ]


def effects_csv(effects: Iterable[EffectSize]) -> str:
    """Effect sizes with their study, the reported input and the computed g (study selected)."""
    return _csv(
        EFFECT_COLUMNS,
        (
            [
                es.pk, es.study_id, es.study.short_citation, es.label, es.intervention.name,
                es.outcome.name, es.get_input_kind_display(),
                "; ".join(f"{name} = {value:g}" if isinstance(value, float) else f"{name} = {value}"
                          for name, value in effect_inputs(es)),
                _num(es.g), _num(es.se_g), _num(es.ci_low_g), _num(es.ci_high_g), es.conversion_note,
            ]
            for es in effects
        ),
    )
