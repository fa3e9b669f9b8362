"""Fitting the cells of a cluster layout: working model, then variance, then results.

:func:`fit_cells` takes the cells that have at least two clusters and a cluster of
several effect sizes and, for all of them at once, dispatches to the working-model
family (multilevel.py for 3L, CE and CHE; rve.py for CORR and HIER), then to the
variance estimator (model based; CR2 or CR1 from robust.py), and turns the per-cell
arrays into tests, confidence and prediction intervals and ClusteredResult objects.
:class:`Options` holds the checked options of one call.

Not here: the public functions, input checks, which cells are fitted, and the
univariate fallback for cells of single-effect clusters (clustered.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from . import multilevel, robust, rve
from .grouping import ClusterLayout
from .linalg import diagonal_blocks, sampling_blocks
from .results import (
    BoolArray,
    ClusteredResult,
    ConvergenceError,
    FitStats,
    FloatArray,
    IntArray,
    StatsError,
)

__all__ = [
    "IMPUTED",
    "MODELS",
    "REML_MODELS",
    "ROBU_MODELS",
    "VCOVS",
    "Options",
    "check_rho",
    "fit_cells",
]

MODELS: tuple[str, ...] = ("CHE", "CE", "3L", "CORR", "HIER")
VCOVS: tuple[str, ...] = ("CR2", "model")
REML_MODELS = ("CHE", "CE", "3L")
ROBU_MODELS = ("CORR", "HIER")
# Models whose sampling covariance is imputed with a common within-study correlation.
IMPUTED = ("CHE", "CE", "CORR")

_LOG_2PI = math.log(2.0 * math.pi)


# --------------------------------------------------------------------------------------
# options
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """The checked options of one pool_clustered or pool_cells_clustered call."""

    model: str
    rho: float | None
    vcov: str
    small: bool
    level: float
    method: str
    test: str
    singletons: str

    @staticmethod
    def build(
        model: str,
        rho: float,
        vcov: str,
        small: bool,
        level: float,
        method: str,
        test: str,
        singletons: str,
    ) -> Options:
        if model not in MODELS:
            raise StatsError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
        if vcov not in VCOVS:
            raise StatsError(f"unknown vcov {vcov!r}; choose one of {', '.join(VCOVS)}")
        if model in ROBU_MODELS and vcov != "CR2":
            raise StatsError(
                f"model {model} (robumeta weights) has only robust inference; use vcov='CR2'"
            )
        if model in REML_MODELS and vcov == "model" and test not in ("z", "t"):
            raise StatsError(
                f"test {test!r} is not available for a multilevel model; use 'z' or 't'"
            )
        try:
            level_ok = 0.0 < float(level) < 1.0
        except (TypeError, ValueError):
            level_ok = False
        if not level_ok:
            raise StatsError(f"level must be between 0 and 1, got {level!r}")
        if singletons not in ("univariate", "raise"):
            raise StatsError("singletons must be 'univariate' or 'raise'")
        used_rho: float | None = None
        if model in IMPUTED:
            # V must stay positive definite for CE/CHE; robumeta accepts rho = 1.
            used_rho = check_rho(rho, upper_inclusive=model == "CORR")
        return Options(
            model=model,
            rho=used_rho,
            vcov=vcov,
            small=bool(small),
            level=float(level),
            method=method,
            test=test,
            singletons=singletons,
        )


def check_rho(rho: float, *, upper_inclusive: bool) -> float:
    """rho as a float, or StatsError unless 0 <= rho < 1 (<= 1 if ``upper_inclusive``)."""
    value = float(rho)
    upper_ok = value <= 1.0 if upper_inclusive else value < 1.0
    if not (math.isfinite(value) and value >= 0.0 and upper_ok):
        bound = "0 <= rho <= 1" if upper_inclusive else "0 <= rho < 1"
        raise StatsError(f"rho must satisfy {bound}, got {rho!r}")
    return value


# --------------------------------------------------------------------------------------
# fitting and assembling the per-cell results
# --------------------------------------------------------------------------------------


def fit_cells(
    layout: ClusterLayout, opts: Options
) -> tuple[dict[int, ClusteredResult], dict[int, StatsError]]:
    """Fit every cell of the layout: its results, and the errors of cells that failed.

    Keys are the cell codes of the layout; a failed cell has an error and no result.
    """
    table, failures = _fit_table(layout, opts)
    return _results(layout, table, opts, skip=set(failures)), failures


@dataclass
class _CellTable:
    """Per-cell arrays for the fitted cells (index = cell code of the fitted layout)."""

    method: str
    test: str
    vcov: str
    estimate: FloatArray
    se: FloatArray
    df: FloatArray  # NaN means a z test
    tau2: FloatArray
    omega2: FloatArray | None
    i2: FloatArray
    q: FloatArray
    q_p: FloatArray
    weights_pct: FloatArray  # per sorted row
    converged: BoolArray
    iterations: IntArray
    fit_ml: list[FitStats] | None
    fit_reml: list[FitStats] | None


def _fit_table(layout: ClusterLayout, opts: Options) -> tuple[_CellTable, dict[int, StatsError]]:
    """Fit every cell of the layout; returns the table and the errors of failed cells."""
    failures: dict[int, StatsError] = {}
    k = layout.k()
    imputed_ok = opts.model in IMPUTED and (opts.rho or 0.0) < 1.0
    sampling_v = sampling_blocks(layout, opts.rho if opts.model in IMPUTED else None)
    q, q_p, trace_p, logdet_v = multilevel.heterogeneity(
        layout, sampling_v if (imputed_ok or opts.model not in IMPUTED) else None
    )
    fit_ml: list[FitStats] | None = None
    fit_reml: list[FitStats] | None = None

    if opts.model in REML_MODELS:
        fit = multilevel.fit_reml(layout, sampling_v, free_omega=opts.model != "CE")
        for stuck in np.flatnonzero(~fit.converged).tolist():
            failures[stuck] = ConvergenceError(
                f"REML did not converge in {multilevel.MAX_ITER} iterations "
                f"(tau2={fit.tau2[stuck]:.6g}, omega2={fit.omega2[stuck]:.6g})"
            )
        state = fit.state
        tau2 = fit.tau2
        omega2: FloatArray | None = None if opts.model == "CE" else fit.omega2
        estimate = state.b
        sum_w = state.sum_w
        resid = layout.y - estimate[layout.row_cell]
        row_weights = state.moments.diag_rows
        w_rows = state.moments.w_rows
        phi = fit.marginal
        total = tau2 + (omega2 if omega2 is not None else 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            i2 = 100.0 * total / (total + (k - 1.0) / trace_p)
        converged = fit.converged
        iterations = fit.iterations
        parms = 1 + (1 if opts.model == "CE" else 2)
        fit_ml, fit_reml = [], []
        for cell in range(layout.n_cells):
            ll_ml = float(state.ll_ml[cell])
            ll_qe = -0.5 * (k[cell] * _LOG_2PI + logdet_v[cell])
            fit_ml.append(
                multilevel.fit_stats(ll_ml, -2.0 * (ll_ml - ll_qe), parms, float(k[cell]))
            )
            ll_reml = float(state.ll[cell])
            fit_reml.append(
                multilevel.fit_stats(ll_reml, -2.0 * ll_reml, parms, float(k[cell] - 1))
            )
        method = "REML"
    else:
        robu = (
            rve.robu_corr(layout, opts.rho or 0.0)
            if opts.model == "CORR"
            else rve.robu_hier(layout)
        )
        tau2 = robu.tau2
        omega2 = robu.omega2 if opts.model == "HIER" else None
        bad = ~np.isfinite(tau2) | ~np.isfinite(robu.omega2 if opts.model == "HIER" else tau2)
        for undefined in np.flatnonzero(bad).tolist():
            failures[undefined] = StatsError(
                "the moment estimators of the variance components are undefined"
            )
        # Such cells are dropped; finite stand-in weights keep NaN out of the batched
        # linear algebra shared with the other cells.
        row_weights = np.where(bad[layout.row_cell], 1.0 / layout.v, robu.weights)
        w_rows = row_weights
        sum_w = layout.cell_sum_rows(row_weights)
        estimate = layout.cell_sum_rows(row_weights * layout.y) / sum_w
        resid = layout.y - estimate[layout.row_cell]
        phi = diagonal_blocks(layout, 1.0 / row_weights)
        if opts.model == "CORR":
            i2 = robu.i2
        else:
            total = tau2 + robu.omega2
            with np.errstate(divide="ignore", invalid="ignore"):
                i2 = 100.0 * total / (total + (k - 1.0) / trace_p)
        converged = np.ones(layout.n_cells, dtype=bool)
        iterations = np.zeros(layout.n_cells, dtype=np.intp)
        method = "MoM"

    if opts.vcov == "model":
        se = 1.0 / np.sqrt(sum_w)
        df = np.full(layout.n_cells, np.nan) if opts.test == "z" else k - 1.0
        test, vcov = opts.test, "model"
    elif opts.small:
        variance, df = robust.cr2(layout, phi, resid, sum_w)
        se = np.sqrt(variance)
        test, vcov = "t", "CR2"
    else:
        variance, df = robust.cr1(layout, w_rows, resid, sum_w)
        se = np.sqrt(variance)
        test, vcov = "t", "CR1"

    weights_pct = 100.0 * row_weights / layout.cell_sum_rows(row_weights)[layout.row_cell]
    table = _CellTable(
        method=method,
        test=test,
        vcov=vcov,
        estimate=estimate + layout.centre,
        se=se,
        df=df,
        tau2=tau2,
        omega2=omega2,
        i2=i2,
        q=q,
        q_p=q_p,
        weights_pct=weights_pct,
        converged=converged,
        iterations=iterations,
        fit_ml=fit_ml,
        fit_reml=fit_reml,
    )
    return table, failures


def _inference(
    estimate: FloatArray, se: FloatArray, df: FloatArray, spread: FloatArray, level: float
) -> dict[str, FloatArray]:
    """Test statistic, p-value, CI and prediction interval, per cell.

    NaN df means the standard normal; otherwise Student t on df. The prediction
    interval uses the same quantile with sqrt(se² + tau2 + omega2) (metafor
    predict.rma for rma.mv; Higgins, Thompson & Spiegelhalter 2009 otherwise).
    """
    upper = 0.5 + level / 2.0
    z = np.isnan(df)
    df_safe = np.where(z, 1.0, df)
    crit = np.where(z, stats.norm.ppf(upper), stats.t.ppf(upper, df_safe))
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = estimate / se
    tail = np.where(z, stats.norm.sf(np.abs(statistic)), stats.t.sf(np.abs(statistic), df_safe))
    half_pi = crit * np.sqrt(se**2 + spread)
    return {
        "statistic": statistic,
        "p_value": 2.0 * tail,
        "ci_low": estimate - crit * se,
        "ci_high": estimate + crit * se,
        "pi_low": estimate - half_pi,
        "pi_high": estimate + half_pi,
    }


def _results(
    layout: ClusterLayout, table: _CellTable, opts: Options, skip: set[int]
) -> dict[int, ClusteredResult]:
    omega = table.omega2 if table.omega2 is not None else np.zeros(layout.n_cells)
    inf = _inference(table.estimate, table.se, table.df, table.tau2 + omega, opts.level)
    k = layout.k()
    n_cl = layout.n_clusters()
    # Weights back in the input order within each cell.
    by_input = np.lexsort((layout.position, layout.row_cell))
    bounds = np.searchsorted(layout.row_cell[by_input], np.arange(layout.n_cells + 1))
    out: dict[int, ClusteredResult] = {}
    for cell in range(layout.n_cells):
        if cell in skip:
            continue
        rows = by_input[bounds[cell] : bounds[cell + 1]]
        df = float(table.df[cell])
        out[cell] = ClusteredResult(
            method=table.method,
            test=table.test,
            level=opts.level,
            k=int(k[cell]),
            estimate=float(table.estimate[cell]),
            se=float(table.se[cell]),
            statistic=float(inf["statistic"][cell]),
            df=None if math.isnan(df) else df,
            p_value=float(inf["p_value"][cell]),
            ci_low=float(inf["ci_low"][cell]),
            ci_high=float(inf["ci_high"][cell]),
            tau2=float(table.tau2[cell]),
            tau2_se=None,
            i2=float(table.i2[cell]),
            h2=math.nan,
            q=float(table.q[cell]),
            q_df=int(k[cell]) - 1,
            q_p=float(table.q_p[cell]),
            pi_low=float(inf["pi_low"][cell]),
            pi_high=float(inf["pi_high"][cell]),
            weights=table.weights_pct[rows].copy(),
            converged=bool(table.converged[cell]),
            iterations=int(table.iterations[cell]),
            fit_ml=table.fit_ml[cell] if table.fit_ml is not None else None,
            fit_reml=table.fit_reml[cell] if table.fit_reml is not None else None,
            model=opts.model,
            vcov=table.vcov,
            n_clusters=int(n_cl[cell]),
            rho=opts.rho,
            omega2=None if table.omega2 is None else float(table.omega2[cell]),
        )
    return out
