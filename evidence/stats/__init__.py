"""Pure statistics engine: numpy/scipy only, no Django imports.

The public names below are the engine's stable interface (used by the synthesis layer,
the benchmark and outside checks).
"""

from evidence.stats.cells import pool_cells
from evidence.stats.clustered import impute_covariance, pool_cells_clustered, pool_clustered
from evidence.stats.interpret import (
    ConfidenceRules,
    apply_override,
    cell_confidence,
    describe_preset,
    describe_rules,
    effect_label,
)
from evidence.stats.pubbias import egger_test, leave_one_out, rank_test, trim_and_fill
from evidence.stats.results import (
    ClusteredResult,
    ConvergenceError,
    FitStats,
    PoolResult,
    StatsError,
)
from evidence.stats.univariate import pool, tau2_ci

__all__ = [
    "ClusteredResult",
    "ConfidenceRules",
    "ConvergenceError",
    "FitStats",
    "PoolResult",
    "StatsError",
    "apply_override",
    "cell_confidence",
    "describe_preset",
    "describe_rules",
    "effect_label",
    "egger_test",
    "impute_covariance",
    "leave_one_out",
    "pool",
    "pool_cells",
    "pool_cells_clustered",
    "pool_clustered",
    "rank_test",
    "tau2_ci",
    "trim_and_fill",
]
