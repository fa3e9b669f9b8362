"""A map's cells: membership and pooling put together with labels, confidence and overrides.

`map_evidence` is the one entry point the pages, the exports and the API use; how a cell is
shown (JSON, CSV, HTML) is evidence.synthesis.presenter's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from evidence.filters import StudyFilters
from evidence.models import CellSummary, EvidenceMap
from evidence.selectors import Node
from evidence.stats.interpret import (
    CellConfidence,
    EffectLabel,
    apply_override,
    cell_confidence,
    effect_label,
)
from evidence.stats.results import ClusteredResult
from evidence.synthesis.membership import CellKey, Membership, map_membership
from evidence.synthesis.pooling import plain_reason, pool_rows
from studies.models import Region

_NONE = np.zeros(0, dtype=np.int64)
_NO_VALUES = np.zeros(0, dtype=np.float64)
_NOT_REVERSED = np.zeros(0, dtype=bool)


@dataclass(frozen=True, eq=False)
class Cell:
    intervention_id: int
    outcome_id: int
    studies: npt.NDArray[np.int64]  # study ids, ascending
    effects: npt.NDArray[np.int64]  # effect size ids, ascending: the order they are pooled in
    designs: dict[str, int]
    region: str
    result: ClusteredResult | None = None
    label: EffectLabel | None = None
    confidence: CellConfidence | None = None
    egger_p: float | None = None
    not_pooled_reason: str = ""
    # What was pooled, in the order of `effects`: g as oriented for this cell, its sampling
    # variance and study (the inputs of the sensitivity analyses and the funnel plot).
    yi: npt.NDArray[np.float64] = field(default_factory=lambda: _NO_VALUES)
    vi: npt.NDArray[np.float64] = field(default_factory=lambda: _NO_VALUES)
    clusters: npt.NDArray[np.int64] = field(default_factory=lambda: _NONE)
    # True when the cell pools several outcomes on the "positive means better" scale (its
    # column is a category); `reversed_outcomes` are those whose effect sizes were reversed.
    harmonised: bool = False
    reversed_outcomes: tuple[int, ...] = ()
    higher_is_better: bool = True  # the direction its label reads: True when harmonised
    # True where an effect size's sign was turned before pooling, in `effects` order.
    reversed: npt.NDArray[np.bool_] = field(default_factory=lambda: _NOT_REVERSED)

    def label_of(self, evidence_map: EvidenceMap, estimate: float, ci: tuple[float, float]) -> EffectLabel:
        """A pooled estimate (the cell's own, or one of its sensitivity analyses) in words."""
        return pooled_label(evidence_map, estimate, ci, higher_is_better=self.higher_is_better)

    @property
    def study_ids(self) -> tuple[int, ...]:
        return tuple(self.studies.tolist())

    @property
    def effect_ids(self) -> tuple[int, ...]:
        return tuple(self.effects.tolist())

    @property
    def n_studies(self) -> int:
        return int(self.studies.size)

    @property
    def n_effects(self) -> int:
        return int(self.effects.size)

    def sign(self, outcome_id: int) -> float:
        """-1 for an effect size on an outcome whose effects this cell reverses, else 1."""
        return -1.0 if outcome_id in self.reversed_outcomes else 1.0


@dataclass
class MapEvidence:
    evidence_map: EvidenceMap
    filters: StudyFilters
    interventions: dict[int, Node]
    outcomes: dict[int, Node]
    cells: dict[CellKey, Cell]
    n_studies: int
    n_effects: int

    def cell(self, intervention_id: int, outcome_id: int) -> Cell:
        return self.cells.get((intervention_id, outcome_id)) or Cell(
            intervention_id, outcome_id, _NONE, _NONE, {}, ""
        )

    def cells_in_order(self) -> list[Cell]:
        """Cells row by row, in the order the map shows its rows and columns."""
        rows = {node_id: i for i, node_id in enumerate(self.interventions)}
        cols = {node_id: i for i, node_id in enumerate(self.outcomes)}
        return sorted(
            (c for c in self.cells.values() if c.intervention_id in rows and c.outcome_id in cols),
            key=lambda c: (rows[c.intervention_id], cols[c.outcome_id]),
        )


def pooled_label(
    evidence_map: EvidenceMap, estimate: float, ci: tuple[float, float], *, higher_is_better: bool
) -> EffectLabel:
    """A pooled effect in words, under the map's label preset."""
    return effect_label(
        estimate, preset=evidence_map.effect_label_preset, higher_is_better=higher_is_better, ci=ci, decimals=3
    )


def _region(regions: Iterable[str]) -> str:
    distinct = {r for r in regions if r}
    if Region.GLOBAL in distinct or len(distinct) > 1:
        return Region.GLOBAL
    return distinct.pop() if distinct else ""


def _per_cell(members: Membership, values: npt.NDArray[np.int64], n_values: int) -> npt.NDArray[np.int64]:
    """Counts of each value among each cell's studies: a (cells, values) array."""
    n_cells = len(members.keys)
    cell_of_pair = np.repeat(np.arange(n_cells), np.diff(members.study_bounds))
    counts = np.bincount(cell_of_pair * n_values + values, minlength=n_cells * n_values)
    return counts.reshape(n_cells, n_values)


def _reversed_outcomes(members: Membership, rows: slice) -> tuple[int, ...]:
    """The outcomes whose effect sizes a cell reverses, in the order of the outcome tree."""
    found = set(members.rows.outcomes[rows][members.rows.reversed[rows]].tolist())
    return tuple(node_id for node_id in members.outcomes if node_id in found)


def _overrides(evidence_map: EvidenceMap) -> dict[CellKey, dict[str, Any]]:
    return {
        (row["intervention_id"], row["outcome_id"]): dict(row)
        for row in CellSummary.objects.filter(evidence_map=evidence_map)
        .exclude(confidence_override="")
        .values("intervention_id", "outcome_id", "confidence_override", "override_justification")
    }


def map_evidence(
    evidence_map: EvidenceMap,
    filters: StudyFilters | None = None,
    *,
    only: CellKey | None = None,
) -> MapEvidence:
    """Every cell of a map for the published studies that pass the filters (or just the cell
    `only`). Queries: those of the membership, then the confidence overrides."""
    filters = filters or StudyFilters()
    members = map_membership(evidence_map, filters, only=only)
    pooled = pool_rows(evidence_map, members.rows)
    overrides = _overrides(evidence_map)
    rules = evidence_map.confidence_rules
    designs = _per_cell(members, members.pair_design, len(members.designs))
    regions = _per_cell(members, members.pair_region, len(members.regions))
    confidences = _per_cell(members, members.pair_confidence, len(members.confidences))
    rated = [(n, name) for n, name in enumerate(members.confidences) if name]
    cells: dict[CellKey, Cell] = {}
    for code, key in enumerate(members.keys):
        studies = members.pair_studies[members.study_bounds[code] : members.study_bounds[code + 1]]
        rows = slice(members.effect_bounds[code], members.effect_bounds[code + 1])
        # A category column pools on the "positive means better" scale (see membership).
        harmonised = bool(members.outcomes[key[1]].children)
        higher_is_better = harmonised or members.outcomes[key[1]].higher_is_better
        result = pooled.results.get(code)
        egger_p = pooled.egger_p.get(code)
        label = confidence = None
        if result is not None:
            label = pooled_label(
                evidence_map, result.estimate, (result.ci_low, result.ci_high), higher_is_better=higher_is_better
            )
            confidence = cell_confidence(
                n_studies=int(studies.size),
                study_confidences={name: int(confidences[code, n]) for n, name in rated},
                i2=result.i2 if np.isfinite(result.i2) else None,
                ci_low=result.ci_low, ci_high=result.ci_high,
                egger_p=egger_p, k=result.k, rules=rules,
            )
            if key in overrides:
                confidence = apply_override(
                    confidence, overrides[key]["confidence_override"], overrides[key]["override_justification"]
                )
        rows = slice(members.effect_bounds[code], members.effect_bounds[code + 1])
        cells[key] = Cell(
            intervention_id=key[0],
            outcome_id=key[1],
            studies=studies,
            effects=members.rows.ids[rows],
            designs={members.designs[d]: int(n) for d, n in enumerate(designs[code]) if n},
            region=_region(members.regions[r] for r, n in enumerate(regions[code]) if n),
            result=result,
            label=label,
            confidence=confidence,
            egger_p=egger_p,
            not_pooled_reason=plain_reason(pooled.not_pooled.get(code, "")),
            yi=members.rows.yi[rows],
            vi=members.rows.vi[rows],
            clusters=members.rows.clusters[rows],
            harmonised=harmonised,
            reversed_outcomes=_reversed_outcomes(members, rows) if harmonised else (),
            higher_is_better=higher_is_better,
            reversed=members.rows.reversed[rows],
        )
    return MapEvidence(
        evidence_map=evidence_map,
        filters=filters,
        interventions=members.interventions,
        outcomes=members.outcomes,
        cells=cells,
        n_studies=members.n_studies,
        n_effects=members.n_effects,
    )
