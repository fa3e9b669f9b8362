"""Pool every cell of an evidence map in one vectorised pass.

``pool_cells`` gives, for each cell, exactly what :func:`evidence.stats.univariate.pool`
gives for that cell's effect sizes alone (to rounding error), but computes all cells
together: the tau² of every cell comes from :mod:`evidence.stats.cells_tau2`, and the
pooled estimates, tests, heterogeneity and fit statistics below are whole-array
expressions over the cells.  Only building the result objects at the end loops over
cells.

Effect sizes are taken as independent; several effect sizes per study are pooled by
:mod:`evidence.stats.clustered`. The formulas and their sources are documented in
:mod:`evidence.stats.univariate` and :mod:`evidence.stats.tau2`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from .cells_tau2 import (
    CellData,
    Segments,
    cell_log_likelihoods,
    closed_form_tau2,
    iterative_tau2,
    q_and_traces,
)
from .grouping import factorize
from .options import (
    DEFAULT_MAX_ITER,
    FIXED_METHODS,
    RSS_ZERO,
    check_inputs,
    check_options,
)
from .results import BoolArray, FitStats, FloatArray, IntArray, PoolResult, StatsError

__all__ = ["pool_cells"]


# --------------------------------------------------------------------------------------
# pool_cells
# --------------------------------------------------------------------------------------


def _information_criteria(
    ll: FloatArray, parms: int, n: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    aic = -2.0 * ll + 2.0 * parms
    with np.errstate(divide="ignore"):
        bic = -2.0 * ll + parms * np.log(n)
    m = np.maximum(n, parms + 2)
    aicc = -2.0 * ll + 2.0 * parms * m / (m - parms - 1)
    return aic, bic, aicc


def pool_cells(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    cell: Iterable[Hashable] | npt.NDArray[Any],
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    max_iter: int = DEFAULT_MAX_ITER,
) -> dict[Hashable, PoolResult]:
    """Pool the effect sizes of every map cell: ``{cell label: PoolResult}``.

    Each result equals ``pool(yi[cell == c], vi[cell == c], method=..., test=...,
    level=...)`` (weights in the cell's input order).  Effect sizes are taken as
    independent; when a study contributes several, use
    :func:`evidence.stats.clustered.pool_cells_clustered` instead.

    Raises StatsError for unusable input (naming the effect size by its index in the
    input) and ConvergenceError naming the cell whose iterative estimator failed.
    """
    check_options(method, test, level)
    y_in, v_in = check_inputs(yi, vi)
    n = y_in.shape[0]
    codes, labels = factorize(cell, "cell")
    if codes.shape[0] != n:
        raise StatsError(f"cell has {codes.shape[0]} labels for {n} effect sizes")
    order = np.argsort(codes, kind="stable")  # stable: input order within a cell
    counts = np.bincount(codes, minlength=len(labels)).astype(np.intp)
    data = CellData(y_in[order], v_in[order], Segments.of(counts), counts.astype(np.float64))
    k = data.k
    n_cells = k.shape[0]
    multi = np.flatnonzero(counts > 1)
    single = counts == 1
    fixed = method in FIXED_METHODS

    # ---- tau² per cell (cells with one effect size keep tau² = 0)
    tau2 = np.zeros(n_cells)
    tau2_se = np.full(n_cells, np.nan)
    iterations = np.zeros(n_cells, dtype=np.intp)
    if not fixed and multi.shape[0]:
        sub = data if multi.shape[0] == n_cells else data.subset(multi)
        sub_labels = labels if multi.shape[0] == n_cells else [labels[i] for i in multi.tolist()]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            if method in ("PM", "EB", "ML", "REML"):
                tau2[multi], tau2_se[multi], iterations[multi] = iterative_tau2(
                    sub, method, max_iter=max_iter, labels=sub_labels
                )
            else:
                tau2[multi], tau2_se[multi] = closed_form_tau2(sub, method)

    # ---- pooled estimate and test
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        ll_ml, ll_reml, w, sw = cell_log_likelihoods(data, tau2)
        estimate = data.seg.sum(w * data.y) / sw
        r = data.y - data.seg.spread(estimate)
        rss = data.seg.sum(w * r * r)

        knha = test in ("knha", "adhoc")
        s2w = np.ones(n_cells)
        if knha:
            s2w = np.where(rss <= RSS_ZERO, 0.0, rss / (k - 1))
            if test == "adhoc":
                s2w = np.maximum(s2w, 1.0)
            s2w[single] = 1.0
        se = np.sqrt(s2w / sw)
        statistic = estimate / se
        uses_t = test in ("t", "knha", "adhoc")
        t_cells = ~single if uses_t else np.zeros(n_cells, dtype=bool)
        df = np.where(t_cells, k - 1, np.inf)
        alpha = 1.0 - level
        crit = np.where(t_cells, -special.stdtrit(df, alpha / 2.0), -special.ndtri(alpha / 2.0))
        p_value = np.where(
            t_cells,
            2.0 * special.stdtr(df, -np.abs(statistic)),
            2.0 * special.ndtr(-np.abs(statistic)),
        )

        # ---- heterogeneity (w = 1/v)
        q, _, tr_p, _ = q_and_traces(data)
        q = np.where(single, 0.0, q)
        q_p = np.where(single, 1.0, special.chdtrc(np.maximum(k - 1, 1.0), q))
        if fixed:
            i2 = np.where(q > 0.0, np.maximum(0.0, 100.0 * (q - (k - 1)) / q), 0.0)
            h2 = q / (k - 1)
        else:
            vt = (k - 1) / tr_p
            i2 = 100.0 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1.0
        i2 = np.where(single, 0.0, i2)
        h2 = np.where(single, 1.0, h2)

        half = crit * np.sqrt(tau2 + se * se)
        if fixed:
            pi_low = pi_high = np.full(n_cells, np.nan)
        else:
            pi_low, pi_high = estimate - half, estimate + half

        # ---- fit statistics
        parms = 1 if fixed else 2
        saturated = -0.5 * data.seg.sum(np.log(2.0 * np.pi * data.v))
        dev_ml = np.where(single, 0.0, -2.0 * (ll_ml - saturated))
        ml_ic = _information_criteria(ll_ml, parms, k)
        reml_ic = _information_criteria(ll_reml, parms, k - 1)

    # ---- weights in each cell's input order (read-only views of one array)
    weights = 100.0 * w / data.seg.spread(sw)
    weights.setflags(write=False)

    return _build_results(
        labels=labels,
        method=method,
        requested_test=test,
        level=level,
        counts=counts,
        single=single,
        fixed=fixed,
        columns={
            "estimate": estimate,
            "se": se,
            "statistic": statistic,
            "p_value": p_value,
            "ci_low": estimate - crit * se,
            "ci_high": estimate + crit * se,
            "tau2": tau2,
            "tau2_se": tau2_se,
            "i2": i2,
            "h2": h2,
            "q": q,
            "q_p": q_p,
            "pi_low": pi_low,
            "pi_high": pi_high,
            "s2w": s2w,
            "ll_ml": ll_ml,
            "dev_ml": dev_ml,
            "aic_ml": ml_ic[0],
            "bic_ml": ml_ic[1],
            "aicc_ml": ml_ic[2],
            "ll_reml": ll_reml,
            "aic_reml": reml_ic[0],
            "bic_reml": reml_ic[1],
            "aicc_reml": reml_ic[2],
        },
        iterations=iterations,
        weights=weights,
        starts=data.seg.starts,
        uses_t=uses_t,
    )


def _build_results(
    *,
    labels: list[Hashable],
    method: str,
    requested_test: str,
    level: float,
    counts: IntArray,
    single: BoolArray,
    fixed: bool,
    columns: dict[str, FloatArray],
    iterations: IntArray,
    weights: FloatArray,
    starts: IntArray,
    uses_t: bool,
) -> dict[Hashable, PoolResult]:
    """One PoolResult per cell: the only per-cell Python loop (object construction).

    Columns are turned into Python lists once and walked with zip, and each cell's
    weights are a slice (a read-only view) of one array: per-cell indexing would cost
    more than all the arithmetic above.
    """
    ends = (starts + counts).tolist()
    rows = zip(
        labels,
        counts.tolist(),
        single.tolist(),
        starts.tolist(),
        ends,
        iterations.tolist(),
        *(columns[name].tolist() for name in _COLUMNS),
        strict=True,
    )
    results: dict[Hashable, PoolResult] = {}
    for (
        label,
        k,
        one,
        start,
        end,
        n_iter,
        estimate,
        se,
        statistic,
        p_value,
        ci_low,
        ci_high,
        tau2,
        tau2_se,
        i2,
        h2,
        q,
        q_p,
        pi_low,
        pi_high,
        s2w,
        ll_ml,
        dev_ml,
        aic_ml,
        bic_ml,
        aicc_ml,
        ll_reml,
        aic_reml,
        bic_reml,
        aicc_reml,
    ) in rows:
        results[label] = PoolResult(
            method=method,
            test="z" if one else requested_test,
            level=level,
            k=k,
            estimate=estimate,
            se=se,
            statistic=statistic,
            df=float(k - 1) if (uses_t and not one) else None,
            p_value=p_value,
            ci_low=ci_low,
            ci_high=ci_high,
            tau2=tau2,
            tau2_se=None if (fixed or one) else tau2_se,
            i2=i2,
            h2=h2,
            q=q,
            q_df=k - 1,
            q_p=q_p,
            pi_low=pi_low,
            pi_high=pi_high,
            weights=weights[start:end],
            converged=True,
            iterations=n_iter,
            fit_ml=FitStats(ll=ll_ml, dev=dev_ml, aic=aic_ml, bic=bic_ml, aicc=aicc_ml),
            fit_reml=FitStats(
                ll=ll_reml, dev=-2.0 * ll_reml, aic=aic_reml, bic=bic_reml, aicc=aicc_reml
            ),
            s2w=s2w,
        )
    return results


# Order of the per-cell columns handed to _build_results.
_COLUMNS = (
    "estimate",
    "se",
    "statistic",
    "p_value",
    "ci_low",
    "ci_high",
    "tau2",
    "tau2_se",
    "i2",
    "h2",
    "q",
    "q_p",
    "pi_low",
    "pi_high",
    "s2w",
    "ll_ml",
    "dev_ml",
    "aic_ml",
    "bic_ml",
    "aicc_ml",
    "ll_reml",
    "aic_reml",
    "bic_reml",
    "aicc_reml",
)
