"""A map's cells as plain data for the cell serializers (from the synthesis layer)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from api.serializers import finite
from evidence.synthesis import Cell, MapEvidence


def cell_data(evidence: MapEvidence, cell: Cell) -> dict[str, Any]:
    result = cell.result
    node_i = evidence.interventions.get(cell.intervention_id)
    node_o = evidence.outcomes.get(cell.outcome_id)
    data: dict[str, Any] = {
        "intervention_id": cell.intervention_id,
        "outcome_id": cell.outcome_id,
        "aggregate": bool((node_i and node_i.children) or (node_o and node_o.children)),
        "n_studies": cell.n_studies,
        "n_effects": cell.n_effects,
        "designs": dict(sorted(cell.designs.items())),
        "region": cell.region,
        "k": result.k if result is not None else None,
        "model": getattr(result, "model", None) if result is not None else None,
    }
    for name in ("estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high", "p_value", "tau2", "i2"):
        data[name] = finite(getattr(result, name)) if result is not None else None
    label = cell.label
    data["label"] = (
        {
            "text": label.text, "band": label.band, "direction": str(label.direction),
            "beneficial": label.beneficial, "ci_includes_zero": label.ci_includes_zero,
        }
        if label is not None else None
    )
    confidence = cell.confidence
    if confidence is not None:
        fields = asdict(confidence)
        data["confidence"] = {
            "level": str(confidence.level),
            "reasons": list(confidence.reasons),
            "overridden": bool(fields.get("overridden", False)),
            "justification": str(fields.get("justification", "")),
            "computed_level": str(fields.get("computed_level") or confidence.level),
            "text": confidence.text,
        }
    else:
        data["confidence"] = None
    return data


def cells_in_order(evidence: MapEvidence) -> list[Cell]:
    """Cells row by row, in the order the map shows its rows and columns."""
    rows = {node_id: i for i, node_id in enumerate(evidence.interventions)}
    cols = {node_id: i for i, node_id in enumerate(evidence.outcomes)}
    return sorted(
        (c for c in evidence.cells.values() if c.intervention_id in rows and c.outcome_id in cols),
        key=lambda c: (rows[c.intervention_id], cols[c.outcome_id]),
    )


CSV_COLUMNS = (
    "intervention_id", "outcome_id", "aggregate", "n_studies", "n_effects", "designs", "region", "k", "model",
    "estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high", "p_value", "tau2", "i2",
)


CELL_CSV_COLUMNS = (
    *CSV_COLUMNS,
    "label_text", "label_band", "label_direction", "label_beneficial", "label_ci_includes_zero",
    "confidence_level", "confidence_reasons", "confidence_overridden", "confidence_computed_level",
    "confidence_justification",
)


def csv_row(data: dict[str, Any]) -> dict[str, Any]:
    """A cell as one flat row with the same columns for every cell."""
    row = {name: data[name] for name in CSV_COLUMNS}
    row["designs"] = ";".join(f"{design}:{n}" for design, n in data["designs"].items())
    label = data["label"] or {}
    for name in ("text", "band", "direction", "beneficial", "ci_includes_zero"):
        row[f"label_{name}"] = label.get(name)
    confidence = data["confidence"] or {}
    for name in ("level", "reasons", "overridden", "computed_level", "justification"):
        row[f"confidence_{name}"] = confidence.get(name)
    return row
