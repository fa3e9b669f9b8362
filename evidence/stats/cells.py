"""Pool every cell of an evidence map in one vectorised pass.

``pool_cells`` gives, for each cell, exactly what :func:`evidence.stats.univariate.pool`
gives for that cell's effect sizes alone (to rounding error), but computes all cells
together: effect sizes are sorted by cell once, every per-cell sum is a segment sum
(``np.add.reduceat``) over that order, and per-cell values are broadcast back with
``np.repeat``.  The iterative estimators (REML, ML, PM, EB) run the safeguarded Newton
iteration of :func:`evidence.stats.univariate.find_root` on all cells at once, each cell
with its own bracket, step-halving and convergence flag; cells drop out of the working
set as they converge.  Only building the result objects at the end loops over cells.

The formulas and their sources are documented in :mod:`evidence.stats.univariate`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from .grouping import factorize
from .options import (
    DEFAULT_MAX_ITER,
    FIXED_METHODS,
    LL_TOL,
    RSS_ZERO,
    STEP_TOL,
    check_inputs,
    check_options,
)
from .results import ConvergenceError, FitStats, FloatArray, PoolResult, StatsError

__all__ = ["pool_cells"]

IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

_LOG_2PI = float(np.log(2.0 * np.pi))


# --------------------------------------------------------------------------------------
# grouping
# --------------------------------------------------------------------------------------


@dataclass
class _Segments:
    """Effect sizes sorted by cell: segment starts, sizes, and segment sums."""

    starts: IntArray
    counts: IntArray

    @classmethod
    def of(cls, counts: IntArray) -> _Segments:
        starts = np.zeros(counts.shape[0], dtype=np.intp)
        np.cumsum(counts[:-1], out=starts[1:])
        return cls(starts, counts)

    def sum(self, x: FloatArray) -> FloatArray:
        """Per-segment sums; for a 2-D array, of every row at once."""
        return np.add.reduceat(x, self.starts, axis=-1)

    def spread(self, per_cell: FloatArray) -> FloatArray:
        """Broadcast one value per cell to that cell's effect sizes."""
        return np.repeat(per_cell, self.counts)


@dataclass
class _Data:
    """Effect sizes sorted by cell, with their segments and per-cell counts."""

    y: FloatArray
    v: FloatArray
    seg: _Segments
    k: FloatArray  # float for arithmetic

    def subset(self, cells: IntArray) -> _Data:
        """The same data restricted to some cells (given in increasing order)."""
        chosen = np.zeros(self.k.shape[0], dtype=bool)
        chosen[cells] = True
        keep = np.repeat(chosen, self.seg.counts)
        counts = self.seg.counts[cells]
        return _Data(self.y[keep], self.v[keep], _Segments.of(counts), self.k[cells])


# --------------------------------------------------------------------------------------
# closed-form tau² estimators, all cells at once (k >= 2 cells; others overwritten later)
# --------------------------------------------------------------------------------------


def _q_and_traces(d: _Data) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Cochran's Q, sum(w), tr(P) and tr(PP) at w = 1/v."""
    w = 1.0 / d.v
    sums = d.seg.sum(np.stack([w, w * d.y, w * w, w * w * w]))
    sw, swy, sw2, sw3 = sums
    r = d.y - d.seg.spread(swy / sw)
    q = d.seg.sum(w * r * r)
    return q, sw, sw - sw2 / sw, sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2


def _hedges(d: _Data) -> tuple[FloatArray, FloatArray]:
    """Hedges (HE) estimator and SE (Hedges & Olkin 1985)."""
    k = d.k
    sy, sv, sv2 = d.seg.sum(np.stack([d.y, d.v, d.v * d.v]))
    r = d.y - d.seg.spread(sy / k)
    rss = d.seg.sum(r * r)
    tr_pv = sv * (1.0 - 1.0 / k)
    tr_pvpv = sv2 * (1.0 - 2.0 / k) + sv * sv / (k * k)
    tau2 = np.maximum(0.0, (rss - tr_pv) / (k - 1))
    se = np.sqrt(2.0 * tr_pvpv + 4.0 * tau2 * tr_pv + 2.0 * tau2 * tau2 * (k - 1)) / (k - 1)
    return tau2, se


def _closed_form(d: _Data, method: str) -> tuple[FloatArray, FloatArray]:
    """DL, HS, HSk, SJ (and HE): tau² and its SE per cell."""
    k = d.k
    if method == "HE":
        return _hedges(d)
    if method == "SJ":
        # Sidik & Jonkman 2005, one step from tau0 = mean((y - mean y)^2).
        sy = d.seg.sum(d.y)
        r0 = d.y - d.seg.spread(sy / k)
        tau0 = d.seg.sum(r0 * r0) / k
        v = d.v
        w = 1.0 / (v + d.seg.spread(tau0))
        w2 = w * w
        w3 = w2 * w
        sw, swy, sw2, sw3, sw2v, sw2v2, sw3v, sw3v2 = d.seg.sum(
            np.stack([w, w * d.y, w2, w3, w2 * v, w2 * v * v, w3 * v, w3 * v * v])
        )
        r = d.y - d.seg.spread(swy / sw)
        q = d.seg.sum(w * r * r)
        tau2 = np.maximum(0.0, tau0 * q / (k - 1))
        tr_pvpv = sw2v2 - 2.0 * sw3v2 / sw + (sw2v / sw) ** 2
        sum_pvp = sw2v - 2.0 * sw3v / sw + sw2 * sw2v / (sw * sw)
        tr_pp = sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2
        spread = 2.0 * tr_pvpv + 4.0 * tau2 * sum_pvp + 2.0 * tau2 * tau2 * tr_pp
        return tau2, tau0 / (k - 1) * np.sqrt(np.maximum(spread, 0.0))

    q, sw, tr_p, tr_pp = _q_and_traces(d)
    if method == "DL":
        # DerSimonian & Laird 1986.
        tau2 = np.maximum(0.0, (q - (k - 1)) / tr_p)
        se = np.sqrt(2.0 * (k - 1) + 4.0 * tau2 * tr_p + 2.0 * tau2 * tau2 * tr_pp) / tr_p
        return tau2, se
    # Hunter & Schmidt 2004 (HSk: Q scaled by k/(k-1)).
    factor = k / (k - 1) if method == "HSk" else np.ones_like(k)
    tau2 = np.maximum(0.0, (factor * q - k) / sw)
    spread = 2.0 * (k - 1) + 4.0 * tau2 * tr_p + 2.0 * tau2 * tau2 * tr_pp
    return tau2, factor * np.sqrt(spread) / sw


# --------------------------------------------------------------------------------------
# iterative estimators: vectorised safeguarded Newton
# --------------------------------------------------------------------------------------


def _equation(d: _Data, t: FloatArray, method: str) -> tuple[FloatArray, FloatArray]:
    """Estimating equation g(t) and Newton slope per cell (see univariate.find_root).

    PM/EB (Paule & Mandel 1982): g = Q(t) - (k-1), slope = -sum(w^2 r^2).
    ML / REML: twice the score; slope = twice the second derivative where negative,
    else minus twice the Fisher information (Viechtbauer 2005).
    """
    seg = d.seg
    w = 1.0 / (d.v + seg.spread(t))
    w2 = w * w
    first = seg.sum(np.stack([w, w * d.y, w2, w2 * w]))
    sw, swy, sw2, sw3 = first
    r = d.y - seg.spread(swy / sw)
    if method in ("PM", "EB"):
        wr2 = w * r * r
        q, slope_sum = seg.sum(np.stack([wr2, w * wr2]))
        return q - (d.k - 1), -slope_sum
    w2r = w2 * r
    yppy, w3r2, sw2r = seg.sum(np.stack([w2r * r, w2r * w * r, w2r]))
    ypppy = w3r2 - sw2r * sw2r / sw
    if method == "REML":
        info = sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2
        g = yppy - (sw - sw2 / sw)
    else:
        info = sw2
        g = yppy - sw
    curvature = info - 2.0 * ypppy
    return g, np.where(curvature < 0.0, curvature, -info)


def _halve_to_nonnegative(t: FloatArray, step: FloatArray) -> FloatArray:
    """t + step / 2^j for the smallest j >= 0 keeping the result >= 0 (step < 0)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        halvings = np.maximum(0.0, np.ceil(np.log2(-step / t)))
    halvings = np.where(t > 0.0, halvings, 0.0)
    moved = np.maximum(0.0, t + np.ldexp(step, -halvings.astype(np.int64)))
    return np.where(t > 0.0, moved, 0.0)


def _solve(
    d: _Data,
    start: FloatArray,
    method: str,
    *,
    max_iter: int,
    labels: Sequence[Hashable],
) -> tuple[FloatArray, IntArray]:
    """Roots of the estimating equation for every cell of ``d`` (all with k >= 2).

    The per-cell rules are those of univariate.find_root: Newton steps, halved to stay
    >= 0 until a positive g is seen, then kept inside the sign-change bracket by
    bisection.  Converged cells stop updating; once at most half of the working cells
    are still active, the working data are compacted to those cells.
    """
    n_cells = d.k.shape[0]
    root = np.zeros(n_cells)
    iterations = np.zeros(n_cells, dtype=np.intp)

    ids = np.arange(n_cells)  # cell index (in d) of each working cell
    work = d
    scale = d.seg.sum(d.v) / d.k  # mean sampling variance: the scale of tau²
    t = np.maximum(start, 0.0)
    lo = np.zeros(n_cells)
    hi = np.full(n_cells, np.inf)
    positive_seen = np.zeros(n_cells, dtype=bool)
    active = np.ones(n_cells, dtype=bool)

    for iteration in range(1, max_iter + 1):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            g, slope = _equation(work, t, method)
            broken = active & ~(np.isfinite(g) & np.isfinite(slope) & (slope < 0.0))
            if broken.any():
                label = labels[int(ids[np.flatnonzero(broken)[0]])]
                raise ConvergenceError(f"{method} estimator of tau² failed in cell {label!r}")
            exact = g == 0.0
            positive = g > 0.0
            lo = np.where(positive, t, lo)
            hi = np.where(positive | exact, hi, t)
            positive_seen |= positive
            new = t - g / slope
            outside = positive_seen & ~((lo < new) & (new < hi))
            bisected = np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * t + scale)
            new = np.where(outside, bisected, new)
            below = ~positive_seen & (new < 0.0)
            if below.any():
                new = np.where(below, _halve_to_nonnegative(t, new - t), new)
            converged = np.abs(new - t) <= STEP_TOL * (new + scale)
        boundary = converged & ~positive_seen & (new <= STEP_TOL * scale)
        finished = active & (exact | converged)
        if finished.any():
            value = np.where(exact, t, np.where(boundary, 0.0, new))
            root[ids[finished]] = value[finished]
            iterations[ids[finished]] = iteration
            active &= ~finished
            if not active.any():
                return root, iterations
        t = np.where(active, new, t)
        if active.sum() <= 0.5 * active.shape[0]:
            keep = np.flatnonzero(active)
            work = work.subset(keep)
            ids, t, lo, hi = ids[keep], t[keep], lo[keep], hi[keep]
            positive_seen, scale = positive_seen[keep], scale[keep]
            active = np.ones(keep.shape[0], dtype=bool)
    label = labels[int(ids[np.flatnonzero(active)[0]])]
    raise ConvergenceError(
        f"{method} estimator of tau² did not converge within {max_iter} iterations "
        f"in cell {label!r}"
    )


def _log_likelihoods(
    d: _Data, tau2: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(ll_ML, ll_REML, weights w, sum w) per cell at tau2 (beta profiled out)."""
    k = d.k
    vt = d.v + d.seg.spread(tau2)
    w = 1.0 / vt
    sw, swy, sum_log = d.seg.sum(np.stack([w, w * d.y, np.log(vt)]))
    r = d.y - d.seg.spread(swy / sw)
    rss = d.seg.sum(w * r * r)
    ll_ml = -0.5 * k * _LOG_2PI - 0.5 * sum_log - 0.5 * rss
    ll_reml = (
        -0.5 * (k - 1) * _LOG_2PI + 0.5 * np.log(k) - 0.5 * sum_log - 0.5 * np.log(sw) - 0.5 * rss
    )
    return ll_ml, ll_reml, w, sw


def _iterative(
    d: _Data, method: str, *, max_iter: int, labels: Sequence[Hashable]
) -> tuple[FloatArray, FloatArray, IntArray]:
    """PM/EB, ML or REML: tau², SE and iterations for every cell of d (k >= 2)."""
    n_cells = d.k.shape[0]
    tau2 = np.zeros(n_cells)
    iterations = np.zeros(n_cells, dtype=np.intp)
    if method in ("PM", "EB"):
        q = _q_and_traces(d)[0]
        todo = np.flatnonzero(q > d.k - 1)
        start = np.zeros(todo.shape[0])
    else:
        todo = np.arange(n_cells)
        start = _hedges(d)[0]
    if todo.shape[0]:
        sub = d if todo.shape[0] == n_cells else d.subset(todo)
        sub_labels = [labels[i] for i in todo.tolist()] if todo.shape[0] != n_cells else labels
        tau2[todo], iterations[todo] = _solve(
            sub, start, method, max_iter=max_iter, labels=sub_labels
        )

    if method in ("ML", "REML"):
        # metafor's ll0check: prefer tau² = 0 when its log-likelihood is higher.
        index = 1 if method == "REML" else 0
        ll_zero = _log_likelihoods(d, np.zeros(n_cells))[index]
        ll_root = _log_likelihoods(d, tau2)[index]
        tau2 = np.where((tau2 > 0.0) & (ll_zero - ll_root > LL_TOL), 0.0, tau2)

    w = 1.0 / (d.v + d.seg.spread(tau2))
    w2 = w * w
    sw, sw2, sw3 = d.seg.sum(np.stack([w, w2, w2 * w]))
    if method in ("PM", "EB"):
        se = np.sqrt(2.0 * d.k * d.k / (d.k - 1)) / sw
    elif method == "ML":
        se = np.sqrt(2.0 / sw2)
    else:
        se = np.sqrt(2.0 / (sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2))
    return tau2, se, iterations


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
    data = _Data(y_in[order], v_in[order], _Segments.of(counts), counts.astype(np.float64))
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
                tau2[multi], tau2_se[multi], iterations[multi] = _iterative(
                    sub, method, max_iter=max_iter, labels=sub_labels
                )
            else:
                tau2[multi], tau2_se[multi] = _closed_form(sub, method)

    # ---- pooled estimate and test
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        ll_ml, ll_reml, w, sw = _log_likelihoods(data, tau2)
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
        q, _, tr_p, _ = _q_and_traces(data)
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
