"""Pooling every cell of a map at once, with the small-study test where a cell is large enough.

Takes the membership's parallel columns and hands them to the statistics engine in two
batched calls (the pooled effects, then Egger's test); a cell that cannot be pooled keeps
its reason instead of a result, so one cell never breaks the map.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from evidence.models import EvidenceMap
from evidence.stats.clustered import pool_cells_clustered
from evidence.stats.egger_cells import egger_tests
from evidence.stats.results import PoolResult
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
    # Egger's test in every cell with enough effect sizes, in one batched call; a cell
    # it cannot test (e.g. equal sampling variances: no predictor) gets no p-value.
    eligible = np.bincount(codes)[codes] >= evidence_map.egger_min_k
    if eligible.any():
        tests = egger_tests(yi[eligible], vi[eligible], codes[eligible])
        # The labels of an integer array come back as Python ints.
        pooled.egger_p = {cast(int, code): result.p_value for code, result in tests.items()}
    return pooled


def plain_reason(message: str) -> str:
    """The engine's reason for not pooling a cell, in words for the cell page."""
    if not message:
        return ""
    if "single cluster" in message:
        return "all its effect sizes come from one study, and a pooled effect needs at least two"
    return message.partition(": ")[2] or message
