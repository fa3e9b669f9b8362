"""A map's cells: membership and pooling put together with labels, confidence and overrides.

`map_evidence` is the one entry point the pages, the exports and the API use; how a cell is
shown (JSON, CSV, HTML) is evidence.synthesis.presenter's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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


@dataclass(frozen=True, eq=False)
class Cell:
    intervention_id: int
    outcome_id: int
    studies: npt.NDArray[np.int64]  # study ids, ascending
    effects: npt.NDArray[np.int64]  # effect size ids, ascending: the order they are pooled in
    yi: npt.NDArray[np.float64]  # each effect size as pooled, in that order
    vi: npt.NDArray[np.float64]  # its sampling variance
    clusters: npt.NDArray[np.int64]  # its study (the CHE model's cluster)
    designs: dict[str, int]
    region: str
    result: ClusteredResult | None = None
    label: EffectLabel | None = None
    confidence: CellConfidence | None = None
    egger_p: float | None = None
    not_pooled_reason: str = ""
    # Where an effect size's sign was turned to the cell's outcome direction before pooling
    # (True), in `effects` order; None while no effect size is reoriented.
    reversed: npt.NDArray[np.bool_] | None = None

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
            intervention_id, outcome_id, _NONE, _NONE, _NO_VALUES, _NO_VALUES, _NONE, {}, ""
        )

    def cells_in_order(self) -> list[Cell]:
        """Cells row by row, in the order the map shows its rows and columns."""
        rows = {node_id: i for i, node_id in enumerate(self.interventions)}
        cols = {node_id: i for i, node_id in enumerate(self.outcomes)}
        return sorted(
            (c for c in self.cells.values() if c.intervention_id in rows and c.outcome_id in cols),
            key=lambda c: (rows[c.intervention_id], cols[c.outcome_id]),
        )


_NONE = np.zeros(0, dtype=np.int64)
_NO_VALUES = np.zeros(0, dtype=np.float64)


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
        result = pooled.results.get(code)
        egger_p = pooled.egger_p.get(code)
        label = confidence = None
        if result is not None:
            label = effect_label(
                result.estimate, preset=evidence_map.effect_label_preset,
                higher_is_better=members.outcomes[key[1]].higher_is_better, ci=(result.ci_low, result.ci_high),
                decimals=3,
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
            yi=members.rows.yi[rows],
            vi=members.rows.vi[rows],
            clusters=members.rows.clusters[rows],
            designs={members.designs[d]: int(n) for d, n in enumerate(designs[code]) if n},
            region=_region(members.regions[r] for r, n in enumerate(regions[code]) if n),
            result=result,
            label=label,
            confidence=confidence,
            egger_p=egger_p,
            not_pooled_reason=plain_reason(pooled.not_pooled.get(code, "")),
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
