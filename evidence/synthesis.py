"""Evidence per map cell: which studies sit in it and what their effect sizes say.

Reads a fixed number of queries for a whole map, whatever its size, and pools every cell
(including the aggregate cells of collapsed categories) in one pass of the statistics engine.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from evidence.filters import StudyFilters
from evidence.models import CellSummary, Direction, EvidenceMap, Intervention, Outcome
from evidence.stats.clustered import pool_cells_clustered
from evidence.stats.interpret import (
    CellConfidence,
    EffectLabel,
    apply_override,
    cell_confidence,
    effect_label,
)
from evidence.stats.pubbias import egger_test
from evidence.stats.results import PoolResult, StatsError
from studies.models import EffectSize, Region, Status, Study

CellKey = tuple[int, int]


@dataclass(frozen=True)
class Node:
    """A row or column of the map: a framework node with its place in the tree."""

    id: int
    name: str
    description: str
    parent_id: int | None
    depth: int
    ancestors: tuple[int, ...]  # from the root down to and including this node
    higher_is_better: bool = True
    children: tuple[int, ...] = ()


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
    populations: list[str] = field(default_factory=list)

    def cell(self, intervention_id: int, outcome_id: int) -> Cell:
        return self.cells.get((intervention_id, outcome_id)) or Cell(
            intervention_id, outcome_id, (), (), {}, ""
        )


def _tree(rows: Iterable[dict[str, object]], *, outcomes: bool = False) -> dict[int, Node]:
    """Nodes in display order (depth-first, siblings by position then name)."""
    by_parent: dict[int | None, list[dict[str, object]]] = defaultdict(list)
    for row in rows:
        by_parent[row["parent_id"]].append(row)  # type: ignore[index]
    for siblings in by_parent.values():
        siblings.sort(key=lambda r: (r["position"], r["name"]))  # type: ignore[return-value]
    nodes: dict[int, Node] = {}

    def walk(parent: int | None, ancestors: tuple[int, ...]) -> None:
        for row in by_parent.get(parent, []):
            node_id = int(row["id"])  # type: ignore[call-overload]
            path = (*ancestors, node_id)
            nodes[node_id] = Node(
                id=node_id,
                name=str(row["name"]),
                description=str(row["description"]),
                parent_id=parent,
                depth=len(ancestors),
                ancestors=path,
                higher_is_better=(row.get("desirable_direction", Direction.HIGHER) == Direction.HIGHER),
                children=tuple(int(c["id"]) for c in by_parent.get(node_id, [])),  # type: ignore[call-overload]
            )
            walk(node_id, path)

    walk(None, ())
    return nodes


def _plain_reason(message: str) -> str:
    """The engine's reason for not pooling a cell, in words for the cell page."""
    if not message:
        return ""
    if "single cluster" in message:
        return "all its effect sizes come from one study, and a pooled effect needs at least two"
    return message.partition(": ")[2] or message


def _region(regions: Iterable[str]) -> str:
    distinct = {r for r in regions if r}
    if Region.GLOBAL in distinct or len(distinct) > 1:
        return Region.GLOBAL
    return distinct.pop() if distinct else ""


def published_studies(evidence_map: EvidenceMap, filters: StudyFilters) -> Study.objects:  # type: ignore[valid-type]
    return filters.apply(Study.objects.filter(evidence_map=evidence_map, status=Status.PUBLISHED))


def map_evidence(
    evidence_map: EvidenceMap,
    filters: StudyFilters | None = None,
    *,
    only: CellKey | None = None,
) -> MapEvidence:
    """Every cell of a map for the studies that pass the filters (or just the cell `only`).

    Queries: interventions, outcomes, studies, the two codings, effect sizes, summaries.
    """
    filters = filters or StudyFilters()
    interventions = _tree(
        Intervention.objects.filter(evidence_map=evidence_map).values("id", "name", "description", "parent_id", "position")
    )
    outcomes = _tree(
        Outcome.objects.filter(evidence_map=evidence_map).values(
            "id", "name", "description", "parent_id", "position", "desirable_direction"
        ),
        outcomes=True,
    )
    studies = published_studies(evidence_map, filters)
    study_rows = {row["id"]: row for row in studies.values("id", "design", "confidence", "region", "population")}
    ids = studies.values("id")
    coded_i: dict[int, set[int]] = defaultdict(set)
    for study_id, node_id in Study.interventions.through.objects.filter(study_id__in=ids).values_list(
        "study_id", "intervention_id"
    ):
        coded_i[study_id].add(node_id)
    coded_o: dict[int, set[int]] = defaultdict(set)
    for study_id, node_id in Study.outcomes.through.objects.filter(study_id__in=ids).values_list(
        "study_id", "outcome_id"
    ):
        coded_o[study_id].add(node_id)
    effects = list(
        EffectSize.objects.filter(study_id__in=ids).values_list("id", "study_id", "intervention_id", "outcome_id", "g", "var_g")
    )

    def wanted(key: CellKey) -> bool:
        return only is None or key == only

    # A study sits in a cell when it is coded with the row and the column (or their descendants).
    cell_studies: dict[CellKey, set[int]] = defaultdict(set)
    for study_id in study_rows:
        rows = {a for i in coded_i[study_id] if i in interventions for a in interventions[i].ancestors}
        cols = {a for o in coded_o[study_id] if o in outcomes for a in outcomes[o].ancestors}
        for i in rows:
            for o in cols:
                if wanted((i, o)):
                    cell_studies[(i, o)].add(study_id)

    # Each effect size counts in its own cell and in every aggregate cell above it.
    keys: dict[CellKey, int] = {}
    codes: list[int] = []
    clusters: list[int] = []
    yi: list[float] = []
    vi: list[float] = []
    cell_effects: dict[CellKey, list[int]] = defaultdict(list)
    for es_id, study_id, i, o, g, var_g in effects:
        if i not in interventions or o not in outcomes:
            continue
        for a_i in interventions[i].ancestors:
            for a_o in outcomes[o].ancestors:
                key = (a_i, a_o)
                if not wanted(key):
                    continue
                cell_studies[key].add(study_id)
                cell_effects[key].append(es_id)
                codes.append(keys.setdefault(key, len(keys)))
                clusters.append(study_id)
                yi.append(g)
                vi.append(var_g)

    results: dict[int, PoolResult] = {}
    not_pooled: dict[int, str] = {}
    egger: dict[int, float] = {}
    if codes:
        code_arr = np.asarray(codes)
        # A cell that cannot be pooled (one study with several effect sizes, no convergence)
        # is left out of `results` and its reason kept, so one cell never breaks the map.
        results = pool_cells_clustered(
            np.asarray(yi), np.asarray(vi), code_arr, np.asarray(clusters),
            rho=evidence_map.within_study_correlation,
            method=evidence_map.pooling_method, test=evidence_map.pooling_test,
            errors=not_pooled,  # type: ignore[arg-type]
        )
        counts = np.bincount(code_arr)
        y_arr, v_arr = np.asarray(yi), np.asarray(vi)
        for code in np.flatnonzero(counts >= evidence_map.egger_min_k):
            mask = code_arr == code
            try:
                egger[int(code)] = egger_test(y_arr[mask], v_arr[mask]).p_value
            except StatsError:
                # e.g. equal sampling variances: the test has no predictor to regress on.
                continue

    overrides = {
        (row["intervention_id"], row["outcome_id"]): row
        for row in CellSummary.objects.filter(evidence_map=evidence_map)
        .exclude(confidence_override="")
        .values("intervention_id", "outcome_id", "confidence_override", "override_justification")
    }
    rules = evidence_map.confidence_rules
    cells: dict[CellKey, Cell] = {}
    for key, members in cell_studies.items():
        rows_ = [study_rows[s] for s in members]
        code = keys.get(key)
        result = results.get(code) if code is not None else None
        label = confidence = None
        egger_p = egger.get(code) if code is not None else None
        if result is not None:
            label = effect_label(
                result.estimate, preset=evidence_map.effect_label_preset,
                higher_is_better=outcomes[key[1]].higher_is_better, ci=(result.ci_low, result.ci_high),
                decimals=3,
            )
            confidence = cell_confidence(
                n_studies=len(members),
                study_confidences=[r["confidence"] for r in rows_ if r["confidence"]],
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
            study_ids=tuple(sorted(members)),
            effect_ids=tuple(cell_effects.get(key, ())),
            designs=dict(Counter(r["design"] for r in rows_)),
            region=_region(r["region"] for r in rows_),
            result=result,
            label=label,
            confidence=confidence,
            egger_p=egger_p,
            not_pooled_reason=_plain_reason(not_pooled.get(code, "")) if code is not None else "",
        )
    return MapEvidence(
        evidence_map=evidence_map,
        filters=filters,
        interventions=interventions,
        outcomes=outcomes,
        cells=cells,
        n_studies=len(study_rows),
        n_effects=len(effects),
        populations=sorted({r["population"] for r in study_rows.values() if r["population"]}),
    )
