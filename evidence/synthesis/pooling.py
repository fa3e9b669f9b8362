"""Pooling every cell of a map at once, with the small-study test where a cell is large enough.

Takes the membership's parallel columns and hands them to the statistics engine in one
batched call; a cell that cannot be pooled keeps its reason instead of a result, so one
cell never breaks the map.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from evidence.models import EvidenceMap
from evidence.stats.clustered import pool_cells_clustered
from evidence.stats.pubbias import egger_test
from evidence.stats.results import PoolResult, StatsError
from evidence.synthesis.membership import EffectRows


@dataclass
class Pooled:
    results: dict[Hashable, PoolResult] = field(default_factory=dict)  # by cell code
    not_pooled: dict[Hashable, str] = field(default_factory=dict)  # the engine's reason, by cell code
    egger_p: dict[int, float] = field(default_factory=dict)


def pool_rows(evidence_map: EvidenceMap, rows: EffectRows) -> Pooled:
    """Pooled effect (the map's model and test) and Egger's p of every cell in `rows`."""
    pooled = Pooled()
    if not rows.codes:
        return pooled
    codes = np.asarray(rows.codes)
    yi, vi = np.asarray(rows.yi), np.asarray(rows.vi)
    pooled.results = dict(pool_cells_clustered(
        yi, vi, codes, np.asarray(rows.clusters),
        rho=evidence_map.within_study_correlation,
        method=evidence_map.pooling_method, test=evidence_map.pooling_test,
        errors=pooled.not_pooled,
    ))
    for code in np.flatnonzero(np.bincount(codes) >= evidence_map.egger_min_k):
        mask = codes == code
        try:
            pooled.egger_p[int(code)] = egger_test(yi[mask], vi[mask]).p_value
        except StatsError:
            # e.g. equal sampling variances: the test has no predictor to regress on.
            continue
    return pooled


def plain_reason(message: str) -> str:
    """The engine's reason for not pooling a cell, in words for the cell page."""
    if not message:
        return ""
    if "single cluster" in message:
        return "all its effect sizes come from one study, and a pooled effect needs at least two"
    return message.partition(": ")[2] or message
