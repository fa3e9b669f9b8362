"""Which studies and effect sizes fall in which cell of a map, aggregate cells included.

Reads a fixed number of queries whatever the map's size (the two framework trees, the
filtered published studies, their two codings, their effect sizes) and computes no
statistics: pooling is evidence.synthesis.pooling's.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from evidence.filters import StudyFilters
from evidence.models import EvidenceMap, Intervention, Outcome
from evidence.selectors import Node, framework_tree
from studies.models import EffectSize, Study

CellKey = tuple[int, int]


@dataclass
class EffectRows:
    """Every (cell, effect size) pair as parallel columns, ready for the batched pooling."""

    codes: list[int] = field(default_factory=list)  # the cell's index in `keys`
    clusters: list[int] = field(default_factory=list)  # study ids
    yi: list[float] = field(default_factory=list)
    vi: list[float] = field(default_factory=list)
    keys: dict[CellKey, int] = field(default_factory=dict)


@dataclass
class Membership:
    interventions: dict[int, Node]
    outcomes: dict[int, Node]
    study_rows: dict[int, dict[str, Any]]  # id -> design, confidence, region
    n_effects: int
    cell_studies: dict[CellKey, set[int]]
    cell_effects: dict[CellKey, list[int]]
    rows: EffectRows


def filtered_studies(evidence_map: EvidenceMap, filters: StudyFilters) -> Any:
    """The map's published studies that pass the filters: what every pooled number rests on."""
    return filters.apply(Study.objects.published().filter(evidence_map=evidence_map))


def map_membership(evidence_map: EvidenceMap, filters: StudyFilters, *, only: CellKey | None = None) -> Membership:
    """Cell membership of the whole map (or of the cell `only`).

    A study sits in a cell when it is coded with the row and the column or their
    descendants; each effect size counts in its own cell and in every aggregate cell above.
    Queries: interventions, outcomes, studies, the two codings, effect sizes.
    """
    interventions = framework_tree(Intervention, evidence_map)
    outcomes = framework_tree(Outcome, evidence_map)
    studies = filtered_studies(evidence_map, filters).order_by()
    effects_query = EffectSize.objects.order_by()
    if only is not None:
        # One cell costs one cell: read only the studies and effect sizes of its subtree.
        rows_below = [n for n, node in interventions.items() if only[0] in node.ancestors]
        cols_below = [n for n, node in outcomes.items() if only[1] in node.ancestors]
        studies = studies.filter(
            pk__in=Study.interventions.through.objects.filter(intervention_id__in=rows_below).values("study_id")
        ).filter(pk__in=Study.outcomes.through.objects.filter(outcome_id__in=cols_below).values("study_id"))
        effects_query = effects_query.filter(intervention_id__in=rows_below, outcome_id__in=cols_below)
    study_rows = {row["id"]: row for row in studies.values("id", "design", "confidence", "region")}
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
        effects_query.filter(study_id__in=ids).values_list("id", "study_id", "intervention_id", "outcome_id", "g", "var_g")
    )

    def wanted(key: CellKey) -> bool:
        return only is None or key == only

    cell_studies: dict[CellKey, set[int]] = defaultdict(set)
    for study_id in study_rows:
        rows = {a for i in coded_i[study_id] if i in interventions for a in interventions[i].ancestors}
        cols = {a for o in coded_o[study_id] if o in outcomes for a in outcomes[o].ancestors}
        for i in rows:
            for o in cols:
                if wanted((i, o)):
                    cell_studies[(i, o)].add(study_id)

    effect_rows = EffectRows()
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
                effect_rows.codes.append(effect_rows.keys.setdefault(key, len(effect_rows.keys)))
                effect_rows.clusters.append(study_id)
                effect_rows.yi.append(g)
                effect_rows.vi.append(var_g)
    return Membership(
        interventions=interventions, outcomes=outcomes, study_rows=study_rows, n_effects=len(effects),
        cell_studies=cell_studies, cell_effects=cell_effects, rows=effect_rows,
    )
