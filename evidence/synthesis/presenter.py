"""The one presenter of a cell: what a reader is told about it, as typed records.

The API's cell serializers are derived from these dataclasses (their help texts are the
schema's), the API and the cell CSV return `cell_record`, and the map page's data.json
carries `compact_cell`, a shorter form of the same record. Nothing else turns a Cell into
JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import Any, get_type_hints

from evidence.columns import flat
from evidence.synthesis.cells import Cell, MapEvidence
from studies.models import StudyDesign


def _help(text: str) -> Any:
    """Field metadata that the API's dataclass serializers read as the field's help text."""
    return field(metadata={"serializer_kwargs": {"help_text": text}})


def finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: report them as null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def rounded(value: float | None, digits: int = 4) -> float | None:
    value = finite(value)
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class LabelView:
    """The effect's size and direction in words; every member null when the cell has no
    pooled estimate (the object itself is always there, so that flattening names its
    members the same for every cell)."""

    text: str | None = _help('e.g. "Small positive effect".')
    band: str | None = _help("The size band of |g| under the map's label preset.")
    direction: str | None = _help("positive (desirable), negative (undesirable) or none.")
    beneficial: bool | None = _help("True when the effect goes the outcome's desirable way.")
    ci_includes_zero: bool | None = _help("True when the confidence interval also includes no effect.")


@dataclass(frozen=True)
class ConfidenceView:
    """How far the pooled effect can be trusted, and why; every member null (no reasons)
    when the cell has no rating."""

    level: str | None = _help("high, medium or low.")
    reasons: list[str] = _help("Why the rating is what it is.")
    overridden: bool | None = _help("True when a reviewer overrode the computed rating.")
    computed_level: str | None = _help("The rating the map's rules give, before any override.")
    justification: str | None = _help("The reviewer's reason for an override; null without one.")
    text: str | None = _help("The sentence the map shows.")


NO_LABEL = LabelView(text=None, band=None, direction=None, beneficial=None, ci_includes_zero=None)
NO_CONFIDENCE = ConfidenceView(
    level=None, reasons=[], overridden=None, computed_level=None, justification=None, text=None
)


@dataclass(frozen=True)
class CellView:
    intervention_id: int
    outcome_id: int
    aggregate: bool = _help("True when the row or the column is a category with sub-categories.")
    n_studies: int = _help("Published studies in the cell.")
    n_effects: int = _help("Their effect sizes in the cell.")
    designs: dict[str, int] = _help("Study design -> number of studies.")
    region: str | None = _help("UN M49 region of the studies, or Global; null when none is known.")
    k: int | None = _help("Effect sizes pooled; null when none.")
    model: str | None = _help("Working model of the pooled estimate (e.g. CHE).")
    estimate: float | None = _help("Pooled Hedges' g.")
    se: float | None = _help("Standard error of the pooled g.")
    ci_low: float | None = _help("Lower bound of the confidence interval.")
    ci_high: float | None = _help("Upper bound of the confidence interval.")
    pi_low: float | None = _help("Lower bound of the 95% prediction interval.")
    pi_high: float | None = _help("Upper bound of the 95% prediction interval.")
    p_value: float | None = _help("p-value of the pooled estimate.")
    tau2: float | None = _help("Between-study variance τ².")
    i2: float | None = _help("I² (%).")
    label: LabelView | None = None
    confidence: ConfidenceView | None = None


_NUMBERS = ("estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high", "p_value", "tau2", "i2")


def present_cell(evidence: MapEvidence, cell: Cell) -> CellView:
    result = cell.result
    node_i = evidence.interventions.get(cell.intervention_id)
    node_o = evidence.outcomes.get(cell.outcome_id)
    label = confidence = None
    if cell.label is not None:
        label = LabelView(
            text=cell.label.text, band=cell.label.band, direction=str(cell.label.direction),
            beneficial=cell.label.beneficial, ci_includes_zero=cell.label.ci_includes_zero,
        )
    if cell.confidence is not None:
        c = cell.confidence
        confidence = ConfidenceView(
            level=str(c.level), reasons=list(c.reasons), overridden=bool(c.overridden),
            computed_level=str(c.computed_level or c.level), justification=str(c.justification) or None, text=c.text,
        )
    numbers = {name: finite(getattr(result, name)) if result is not None else None for name in _NUMBERS}
    return CellView(
        intervention_id=cell.intervention_id,
        outcome_id=cell.outcome_id,
        aggregate=bool((node_i and node_i.children) or (node_o and node_o.children)),
        n_studies=cell.n_studies,
        n_effects=cell.n_effects,
        designs=dict(sorted(cell.designs.items())),
        region=cell.region or None,
        k=result.k if result is not None else None,
        model=getattr(result, "model", None) if result is not None else None,
        label=label,
        confidence=confidence,
        **numbers,
    )


def cell_record(view: CellView) -> dict[str, Any]:
    """The cell as the API returns it: `label` and `confidence` are always objects."""
    return asdict(replace(view, label=view.label or NO_LABEL, confidence=view.confidence or NO_CONFIDENCE))


def compact_cell(view: CellView, *, segments: Sequence[int] | None = None) -> dict[str, Any]:
    """The cell as the map page's script reads it: short keys, rounded numbers; `segments`
    are its studies per segment of the map's segmenting code set (evidence.synthesis.segments),
    sent as `seg` with the trailing zeros left out."""
    data: dict[str, Any] = {
        "i": view.intervention_id,
        "o": view.outcome_id,
        "studies": view.n_studies,
        "effects": view.n_effects,
        "designs": dict(sorted(view.designs.items(), key=lambda kv: (-kv[1], kv[0]))),
        "region": view.region or "",
        "g": None,
    }
    if view.k is not None:
        data.update(
            g=rounded(view.estimate),
            se=rounded(view.se),
            ci=[rounded(view.ci_low), rounded(view.ci_high)],
            pi=[rounded(view.pi_low), rounded(view.pi_high)],
            i2=rounded(view.i2, 1),
        )
    if view.label is not None:
        data.update(
            label=view.label.text, band=view.label.band, direction=view.label.direction,
            beneficial=view.label.beneficial,
        )
    if view.confidence is not None:
        data.update(confidence=view.confidence.level, confidence_text=view.confidence.text)
    if segments is not None:
        counts = list(segments)
        while counts and counts[-1] == 0:
            counts.pop()
        data["seg"] = counts
    return data


def _columns(view: type[Any], prefix: str = "") -> list[str]:
    """The flat names of a record's fields, as pandas.json_normalize and the CSV name them:
    a nested record's members as `label.text`, the designs as `designs.rct`, ..."""
    hints = get_type_hints(view)
    names: list[str] = []
    for item in fields(view):
        nested = [t for t in getattr(hints[item.name], "__args__", (hints[item.name],)) if isinstance(t, type) and is_dataclass(t)]
        if nested:
            names += _columns(nested[0], f"{prefix}{item.name}.")
        elif item.name == "designs":
            names += [f"{prefix}designs.{design}" for design in StudyDesign.values]
        else:
            names.append(prefix + item.name)
    return names


CELL_CSV_COLUMNS = tuple(_columns(CellView))


def cell_csv_row(record: dict[str, Any]) -> dict[str, Any]:
    """A cell record as one flat row with the same columns for every cell (a design without
    studies in the cell counts 0)."""
    row = {f"designs.{design}": 0 for design in StudyDesign.values}
    row.update(flat(record))
    return row
