"""The JSON documents the map and cell pages' scripts read: the whole map, and a cell's plots.

Pure functions over the synthesis layer's results; each cell's numbers come from the one
presenter (evidence.synthesis.presenter).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from evidence.selectors import Node
from evidence.stats.interpret import EFFECT_LABEL_PRESETS
from evidence.synthesis import Cell, MapEvidence, compact_cell, present_cell
from evidence.synthesis.presenter import CellView, SensitivityView, rounded
from evidence.synthesis.segments import Segments
from portal.i18n import say
from studies.models import EffectSize, StudyDesign


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


def _bands(preset: str) -> list[str]:
    """The preset's band names from the smallest effect up, so the map can shade by size."""
    found = EFFECT_LABEL_PRESETS.get(preset)
    return list(found.bands) if found else []


def _segments_json(segments: Segments | None) -> dict[str, Any] | None:
    """The segments once for the whole map; each cell carries only its counts (`seg`)."""
    if segments is None:
        return None
    return {
        "code_set": segments.code_set_id,
        "title": segments.code_set,
        "codes": [{"id": pk, "name": name} for pk, name in segments.codes],
        "uncoded": _("Not coded"),
    }


def map_json(
    evidence: MapEvidence, *, cell_url: str, urls: dict[str, str], segments: Segments | None = None
) -> dict[str, Any]:
    """The whole filtered map: rows, columns and every cell with studies, in one document.

    `cell_url` is a template with {i} and {o} placeholders; `urls` the export links;
    `segments` those of the map's segmenting code set, if it has one.
    """
    return {
        "map": {"slug": evidence.evidence_map.slug, "title": evidence.evidence_map.title},
        "query": evidence.filters.to_query(),
        "filtered": evidence.filters.active,
        "totals": {"studies": evidence.n_studies, "effects": evidence.n_effects},
        "interventions": [_node_json(n) for n in evidence.interventions.values()],
        "outcomes": [_node_json(n) for n in evidence.outcomes.values()],
        "cells": [
            _said(present_cell(evidence, c), segments.counts(c) if segments else None)
            for c in evidence.cells.values()
        ],
        "designs": {value: say(label) for value, label in StudyDesign.choices},
        "segments": _segments_json(segments),
        "bands": _bands(evidence.evidence_map.effect_label_preset),
        "cell_url": cell_url,
        "urls": urls,
    }


def _paths(nodes: list[dict[str, Any]]) -> dict[int, tuple[int, list[str]]]:
    """Node id -> (its place in the tree's order, the names of its categories from the top)."""
    by_id = {node["id"]: node for node in nodes}
    out: dict[int, tuple[int, list[str]]] = {}
    for place, node in enumerate(nodes):
        names: list[str] = []
        parent = node["parent"]
        while parent is not None and parent in by_id and len(names) < len(nodes):
            names.insert(0, by_id[parent]["name"])
            parent = by_id[parent]["parent"]
        out[node["id"]] = (place, names)
    return out


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def map_table(data: dict[str, Any]) -> dict[str, Any]:
    """The table view of a data.json document (`map_json`): every cell with studies, rows in
    the order of the interventions' tree, then of the outcomes', each with its categories
    and a link to its page under the same filters."""
    rows, cols = _paths(data["interventions"]), _paths(data["outcomes"])
    names = {("i", n["id"]): n["name"] for n in data["interventions"]}
    names.update({("o", n["id"]): n["name"] for n in data["outcomes"]})
    suffix = f"?{data['query']}" if data["query"] else ""
    cells = sorted(
        (c for c in data["cells"] if c["i"] in rows and c["o"] in cols),
        key=lambda c: (rows[c["i"]][0], cols[c["o"]][0]),
    )
    out = []
    for cell in cells:
        pooled = cell.get("g") is not None
        out.append({
            "intervention": names["i", cell["i"]], "intervention_path": rows[cell["i"]][1],
            "outcome": names["o", cell["o"]], "outcome_path": cols[cell["o"]][1],
            "url": data["cell_url"].replace("{i}", str(cell["i"])).replace("{o}", str(cell["o"])) + suffix,
            "studies": cell["studies"], "effects": cell["effects"],
            "g": _number(cell.get("g")) if pooled else "",
            "ci_low": _number(cell["ci"][0]) if pooled else "",
            "ci_high": _number(cell["ci"][1]) if pooled else "",
            "label": (cell.get("label") or _("No pooled effect")) if pooled else _("No pooled effect"),
            # data.json keeps the level's code (the script keys on it); the table shows its words.
            "confidence": say(f"{cell['confidence'].capitalize()} confidence") if cell.get("confidence") else "",
        })
    return {"rows": out}


def data_summary(data: dict[str, Any]) -> str:
    """What the filtered map counts, in words (the map script replaces it with its own)."""
    totals = data["totals"]
    studies = ngettext("%(n)d study", "%(n)d studies", totals["studies"]) % {"n": totals["studies"]}
    effects = ngettext("%(n)d effect size", "%(n)d effect sizes", totals["effects"]) % {"n": totals["effects"]}
    cells = ngettext("%(n)d cell has evidence", "%(n)d cells have evidence", len(data["cells"])) % {"n": len(data["cells"])}
    if data["filtered"]:
        return _("%(studies)s and %(effects)s that pass the filters; %(cells)s.") % {
            "studies": studies, "effects": effects, "cells": cells}
    return _("%(studies)s and %(effects)s; %(cells)s.") % {"studies": studies, "effects": effects, "cells": cells}


def _said(view: CellView, segments: Sequence[int] | None) -> dict[str, Any]:
    """A compact cell with its words in the reader's language (its codes, such as the band
    and the confidence level, stay as they are: the script keys on them)."""
    cell = compact_cell(view, segments=segments)
    for key in ("label", "note", "not_pooled"):
        if key in cell:
            cell[key] = say(cell[key])
    if view.confidence is not None and view.confidence.level is not None:
        level = say(f"{view.confidence.level.capitalize()} confidence")
        reasons = "; ".join(say(reason) for reason in view.confidence.reasons)
        cell["confidence_text"] = f"{level}: {reasons}" if reasons else level
    return cell


def oriented_effects(effects: Iterable[EffectSize], cell: Cell) -> list[dict[str, Any]]:
    """The cell's effect sizes as it pools them: g and its interval reversed where the cell
    reverses the effect size's outcome (see evidence.synthesis.membership), with each one's
    weight in the pooled estimate (%, None when the cell is not pooled)."""
    weights: dict[int, float] = {}
    if cell.result is not None and len(cell.result.weights) == cell.n_effects:
        weights = dict(zip(cell.effect_ids, cell.result.weights.tolist(), strict=True))
    out = []
    for es in effects:
        sign = cell.sign(es.outcome_id)
        low, high = sorted((sign * es.ci_low_g, sign * es.ci_high_g))
        out.append({
            "es": es, "g": sign * es.g, "se": es.se_g, "ci_low": low, "ci_high": high, "reversed": sign < 0,
            "weight": weights.get(es.pk),
        })
    return out


def forest_json(
    effects: list[dict[str, Any]], cell: Cell, *, citations: dict[int, str], egger_min_k: int,
    note: str = "",
) -> dict[str, Any]:
    """The forest plot's data (each effect size of the page's studies as `oriented_effects`
    gives them, grouped by study, then the pool) and the funnel plot's (g and SE of every
    effect size in the cell, as pooled)."""
    rows = [
        {
            "study": citations.get(row["es"].study_id, str(row["es"].study_id)),
            "label": row["es"].label + (" " + _("(reversed)") if row["reversed"] else ""),
            "g": rounded(row["g"]),
            "se": rounded(row["se"]),
            "ci": [rounded(row["ci_low"]), rounded(row["ci_high"])],
            "w": rounded(row["weight"], 2),
        }
        for row in effects
    ]
    points: list[tuple[float, float]] = []
    pooled = None
    if cell.result is not None:  # a cell not pooled may hold a value no plot can take
        points = list(zip(cell.yi.tolist(), np.sqrt(cell.vi).tolist(), strict=True))
        r = cell.result
        pooled = {
            "g": rounded(r.estimate),
            "ci": [rounded(r.ci_low), rounded(r.ci_high)],
            "pi": [rounded(r.pi_low), rounded(r.pi_high)],
            "label": say(cell.label.text) if cell.label else "",
        }
    return {
        "rows": rows,
        "pooled": pooled,
        "points": [[rounded(g), rounded(se)] for g, se in points],
        "funnel": len(points) >= egger_min_k and pooled is not None,
        "egger_p": rounded(cell.egger_p),
        "note": say(note),
    }


def sensitivity_json(view: SensitivityView, cell: Cell) -> dict[str, Any]:
    """The leave-one-out plot's data: the cell's pooled estimate, then each refit without one
    study (those that could be made), flagged where the label changes."""
    result = cell.result
    return {
        "full": {"g": rounded(result.estimate), "ci": [rounded(result.ci_low), rounded(result.ci_high)]}
        if result is not None else None,
        "label": view.label,
        "rows": [
            {"name": row.name, "g": rounded(row.estimate), "ci": [rounded(row.ci_low), rounded(row.ci_high)],
             "label": row.label, "changed": row.keeps_label is False}
            for row in view.leave_one_out if row.estimate is not None
        ],
    }
