"""Pure statistics engine: numpy/scipy only, no Django imports.

The public names below are the engine's stable interface (used by the synthesis layer,
the benchmark and outside checks). Where things live:

* independent effect sizes: univariate.py (``pool``), tau2.py (the tau² estimators),
  confint.py (``tau2_ci``), options.py (method and test names, input checks);
  cells.py (``pool_cells``, many cells at once) with cells_tau2.py (its vectorised
  tau² estimators);
* several effect sizes per study: clustered.py (``pool_clustered``,
  ``pool_cells_clustered``, ``impute_covariance``), which dispatches through
  clustered_fit.py to multilevel.py (3L, CE, CHE), rve.py (CORR, HIER) and
  robust.py (CR2, CR1), on grouping.py (labels, cluster layout) and linalg.py
  (batched block algebra);
* meta-regression and subgroups: metareg.py (``meta_regression``, ``subgroup_analysis``
  and their many-cells twins, on the model matrices of design.py) and
  metareg_clustered.py (``meta_regression_clustered``: CR2 tests, Satterthwaite df,
  the HTZ Wald test);
* pubbias.py (small-study effects, leave-one-out) with egger_cells.py (``egger_tests``:
  Egger's test in many cells at once), interpret.py (effect labels and
  confidence ratings), results.py (result types).

Modules import each other only at module level and without cycles
(tests/evidence/stats/test_structure.py).
"""

from evidence.stats.cells import pool_cells
from evidence.stats.clustered import (
    impute_covariance,
    pool_cells_clustered,
    pool_clustered,
    stopping_tolerance,
)
from evidence.stats.egger_cells import egger_tests
from evidence.stats.interpret import (
    ConfidenceRules,
    apply_override,
    cell_confidence,
    describe_preset,
    describe_rules,
    effect_label,
)
from evidence.stats.metareg import (
    MetaRegression,
    SubgroupAnalysis,
    meta_regression,
    meta_regression_cells,
    subgroup_analysis,
    subgroup_analysis_cells,
)
from evidence.stats.metareg_clustered import ClusteredMetaRegression, meta_regression_clustered
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
    "ClusteredMetaRegression",
    "ClusteredResult",
    "ConfidenceRules",
    "ConvergenceError",
    "FitStats",
    "MetaRegression",
    "PoolResult",
    "StatsError",
    "SubgroupAnalysis",
    "apply_override",
    "cell_confidence",
    "describe_preset",
    "describe_rules",
    "effect_label",
    "egger_test",
    "egger_tests",
    "impute_covariance",
    "leave_one_out",
    "meta_regression",
    "meta_regression_cells",
    "meta_regression_clustered",
    "pool",
    "pool_cells",
    "pool_cells_clustered",
    "pool_clustered",
    "rank_test",
    "stopping_tolerance",
    "subgroup_analysis",
    "subgroup_analysis_cells",
    "tau2_ci",
    "trim_and_fill",
]
