"""Does a cell's pooled effect hold? Its sensitivity analyses, from what the cell pooled.

Three checks, each on the cell's own inputs (`Cell.yi`, `vi`, `clusters`: oriented as the
cell pools them) and the map's synthesis settings:

- leave-one-out by study: the cell pooled again without each study in turn (all its effect
  sizes), for cells of at most LEAVE_ONE_OUT_MAX_STUDIES studies and LEAVE_ONE_OUT_MAX_K
  effect sizes (the J refits hold about J x k rows: a bigger cell costs more than a page
  should wait for, and one study among hundreds rarely moves it);
- trim-and-fill (Duval & Tweedie, L0) from TRIM_AND_FILL_MIN_K effect sizes, treating them as
  independent as the funnel plot does, up to TRIM_AND_FILL_MAX_K;
- where studies contribute several effect sizes, the CHE model under other assumed
  within-study correlations (CORRELATIONS).

How the results are told (labels, whether each keeps the cell's label) is the presenter's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from evidence.models import EvidenceMap
from evidence.stats.phrases import _
from evidence.stats.pubbias import TrimAndFill, trim_and_fill
from evidence.stats.results import ClusteredResult, StatsError
from evidence.stats.sensitivity import (
    LeaveOneClusterOut,
    leave_one_cluster_out,
    pool_by_correlation,
)
from evidence.synthesis.cells import Cell

LEAVE_ONE_OUT_MAX_STUDIES = 100
LEAVE_ONE_OUT_MAX_K = 500
TRIM_AND_FILL_MIN_K = 10
TRIM_AND_FILL_MAX_K = 1000
CORRELATIONS = (0.2, 0.5, 0.8)


@dataclass(frozen=True)
class Sensitivity:
    """A pooled cell's sensitivity analyses; each one None (with the reason) when not run."""

    leave_one_out: LeaveOneClusterOut | None = None
    leave_one_out_reason: str = ""
    trim_and_fill: TrimAndFill | None = None
    trim_and_fill_reason: str = ""
    correlations: dict[float, ClusteredResult | str] = field(default_factory=dict)
    correlations_reason: str = ""


def dependent(cell: Cell) -> bool:
    """Whether some study contributes several effect sizes to the cell."""
    return bool(np.unique(cell.clusters).size < cell.n_effects)


def cell_sensitivity(evidence_map: EvidenceMap, cell: Cell) -> Sensitivity | None:
    """The sensitivity analyses of a pooled cell (None when the cell has no pooled effect)."""
    if cell.result is None:
        return None
    method, test = evidence_map.pooling_method, evidence_map.pooling_test
    n_studies = int(np.unique(cell.clusters).size)
    leave_one_out, leave_one_out_reason = None, ""
    if n_studies < 3:
        leave_one_out_reason = _("it needs at least 3 studies with effect sizes, so that two are left to pool")
    elif n_studies > LEAVE_ONE_OUT_MAX_STUDIES or cell.n_effects > LEAVE_ONE_OUT_MAX_K:
        leave_one_out_reason = _(
            "it is run for cells of at most %(max_studies)s studies and %(max_k)s effect sizes "
            "(this one has %(studies)s and %(k)s)",
            max_studies=LEAVE_ONE_OUT_MAX_STUDIES, max_k=LEAVE_ONE_OUT_MAX_K, studies=n_studies, k=cell.n_effects,
        )
    else:
        leave_one_out = leave_one_cluster_out(
            cell.yi, cell.vi, cell.clusters, rho=evidence_map.within_study_correlation, method=method, test=test
        )

    filled, filled_reason = None, ""
    if cell.n_effects < TRIM_AND_FILL_MIN_K:
        filled_reason = _(
            "it needs at least %(min_k)s effect sizes (this cell has %(k)s)", min_k=TRIM_AND_FILL_MIN_K, k=cell.n_effects
        )
    elif cell.n_effects > TRIM_AND_FILL_MAX_K:
        filled_reason = _("it is run for cells of at most %(max_k)s effect sizes", max_k=TRIM_AND_FILL_MAX_K)
    else:
        try:
            filled = trim_and_fill(cell.yi, cell.vi, estimator="L0", method=evidence_map.pooling_method)
        except StatsError as problem:  # ConvergenceError included
            filled_reason = _("it could not be computed: %(problem)s", problem=str(problem))

    correlations: dict[float, ClusteredResult | str] = {}
    correlations_reason = ""
    if dependent(cell):
        correlations = pool_by_correlation(cell.yi, cell.vi, cell.clusters, CORRELATIONS, method=method, test=test)
    else:
        correlations_reason = _("every study contributes one effect size, so no within-study correlation is assumed")
    return Sensitivity(
        leave_one_out=leave_one_out, leave_one_out_reason=leave_one_out_reason,
        trim_and_fill=filled, trim_and_fill_reason=filled_reason,
        correlations=correlations, correlations_reason=correlations_reason,
    )
