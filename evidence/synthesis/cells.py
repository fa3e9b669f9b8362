"""A map's cells: membership and pooling put together with labels, confidence and overrides.

`map_evidence` is the one entry point the pages, the exports and the API use; how a cell is
shown (JSON, CSV, HTML) is evidence.synthesis.presenter's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

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
from evidence.stats.results import PoolResult
from evidence.synthesis.membership import CellKey, map_membership
from evidence.synthesis.pooling import plain_reason, pool_rows
from studies.models import Region


@dataclass(frozen=True)
class Cell:
    intervention_id: int
    outcome_id: int
    study_ids: tuple[int, ...]
    effect_ids: tuple[int, ...]
    designs: dict[str, int]
    region: str
    result: PoolResult | None = None
    label: EffectLabel | None = None
    confidence: CellConfidence | None = None
    egger_p: float | None = None
    not_pooled_reason: str = ""

    @property
    def n_studies(self) -> int:
        return len(self.study_ids)

    @property
    def n_effects(self) -> int:
        return len(self.effect_ids)


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
            intervention_id, outcome_id, (), (), {}, ""
        )

    def cells_in_order(self) -> list[Cell]:
        """Cells row by row, in the order the map shows its rows and columns."""
        rows = {node_id: i for i, node_id in enumerate(self.interventions)}
        cols = {node_id: i for i, node_id in enumerate(self.outcomes)}
        return sorted(
            (c for c in self.cells.values() if c.intervention_id in rows and c.outcome_id in cols),
            key=lambda c: (rows[c.intervention_id], cols[c.outcome_id]),
        )


def _region(regions: Iterable[str]) -> str:
    distinct = {r for r in regions if r}
    if Region.GLOBAL in distinct or len(distinct) > 1:
        return Region.GLOBAL
    return distinct.pop() if distinct else ""


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
    cells: dict[CellKey, Cell] = {}
    for key, study_ids in members.cell_studies.items():
        rows = [members.study_rows[s] for s in study_ids]
        code = members.rows.keys.get(key)
        result = pooled.results.get(code) if code is not None else None
        egger_p = pooled.egger_p.get(code) if code is not None else None
        label = confidence = None
        if result is not None:
            label = effect_label(
                result.estimate, preset=evidence_map.effect_label_preset,
                higher_is_better=members.outcomes[key[1]].higher_is_better, ci=(result.ci_low, result.ci_high),
                decimals=3,
            )
            confidence = cell_confidence(
                n_studies=len(study_ids),
                study_confidences=[r["confidence"] for r in rows if r["confidence"]],
                i2=result.i2 if np.isfinite(result.i2) else None,
                ci_low=result.ci_low, ci_high=result.ci_high,
                egger_p=egger_p, k=result.k, rules=rules,
            )
            if key in overrides:
                confidence = apply_override(
                    confidence, overrides[key]["confidence_override"], overrides[key]["override_justification"]
                )
        cells[key] = Cell(
            intervention_id=key[0],
            outcome_id=key[1],
            study_ids=tuple(sorted(study_ids)),
            effect_ids=tuple(members.cell_effects.get(key, ())),
            designs=dict(Counter(r["design"] for r in rows)),
            region=_region(r["region"] for r in rows),
            result=result,
            label=label,
            confidence=confidence,
            egger_p=egger_p,
            not_pooled_reason=plain_reason(pooled.not_pooled.get(code, "")) if code is not None else "",
        )
    return MapEvidence(
        evidence_map=evidence_map,
        filters=filters,
        interventions=members.interventions,
        outcomes=members.outcomes,
        cells=cells,
        n_studies=len(members.study_rows),
        n_effects=members.n_effects,
    )
