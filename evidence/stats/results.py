"""Result types shared by every pooling function (pure: numpy only)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


class StatsError(ValueError):
    """Input that no pooling method can use (mismatched lengths, NaN, vi <= 0, ...)."""


class ConvergenceError(StatsError):
    """An iterative tau² estimator found no root within its iteration limit."""


@dataclass(frozen=True, kw_only=True)
class FitStats:
    """Log-likelihood and information criteria, as metafor's `fitstats()` reports them."""

    ll: float
    dev: float
    aic: float
    bic: float
    aicc: float


@dataclass(frozen=True, kw_only=True)
class PoolResult:
    """A pooled effect: what `pool` returns, and what every cell of `pool_cells` holds.

    `i2`, `weights` are percentages (as metafor prints them). `df` is None for a z test.
    `pi_low`/`pi_high` are the prediction interval for a new true effect.
    """

    method: str
    test: str
    level: float
    k: int
    estimate: float
    se: float
    statistic: float
    df: float | None
    p_value: float
    ci_low: float
    ci_high: float
    tau2: float
    tau2_se: float | None
    i2: float
    h2: float
    q: float
    q_df: int
    q_p: float
    pi_low: float
    pi_high: float
    weights: FloatArray = field(repr=False)
    converged: bool = True
    iterations: int = 0
    fit_ml: FitStats | None = None
    fit_reml: FitStats | None = None
    # Knapp-Hartung scaling factor s² (1 unless test is knha/adhoc).
    s2w: float = 1.0

    @property
    def tau(self) -> float:
        return float(np.sqrt(self.tau2))


@dataclass(frozen=True, kw_only=True)
class ClusteredResult(PoolResult):
    """A pooled effect from several effect sizes per study (cluster).

    `model` is the working model ("CHE", "CE", "3L", "CORR", "HIER"); `vcov` is
    "CR2" (cluster-robust, Satterthwaite df) or "model" (model-based). `tau2` is the
    between-cluster variance; `omega2` the within-cluster (between effect size) variance
    where the model has one.
    """

    model: str
    vcov: str
    n_clusters: int
    rho: float | None = None
    omega2: float | None = None
