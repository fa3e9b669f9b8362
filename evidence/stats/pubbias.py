"""Small-study effects and sensitivity: Egger's regression test, Begg's rank test,
trim-and-fill and leave-one-out, as metafor 3.8-1's ``regtest``, ``ranktest``,
``trimfill`` and ``leave1out`` compute them for an intercept-only ``rma.uni`` fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from .options import (
    DEFAULT_MAX_ITER,
    FIXED_METHODS,
    LL_TOL,
    RSS_ZERO,
    check_inputs,
    check_options,
)
from .results import ConvergenceError, FloatArray, PoolResult, StatsError
from .tau2 import find_root
from .univariate import critical_value, pool, two_sided_p

__all__ = [
    "EggerTest",
    "LeaveOneOut",
    "RankTest",
    "TrimAndFill",
    "egger_test",
    "leave_one_out",
    "rank_test",
    "trim_and_fill",
]


# --------------------------------------------------------------------------------------
# meta-regression with a few moderators (what regtest and trimfill fit internally)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Regression:
    beta: FloatArray
    se: FloatArray
    statistic: FloatArray
    p_value: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    tau2: float
    df: float | None


def _projection(X: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray]:
    """P = W - W X (X'WX)^-1 X'W and (X'WX)^-1 for weights w."""
    xtw = X.T * w
    inverse = np.linalg.inv(xtw @ X).astype(np.float64, copy=False)
    return np.diag(w) - xtw.T @ inverse @ xtw, inverse


def _regression_likelihood(
    y: FloatArray, v: FloatArray, X: FloatArray, tau2: float, *, restricted: bool
) -> float:
    """ML or REML log-likelihood up to constants (enough to compare two tau² values)."""
    w = 1.0 / (v + tau2)
    P, _ = _projection(X, w)
    ll = -0.5 * float(np.log(v + tau2).sum()) - 0.5 * float(y @ P @ y)
    if restricted:
        ll -= 0.5 * float(np.linalg.slogdet((X.T * w) @ X)[1])
    return ll


def _regression_tau2(
    y: FloatArray, v: FloatArray, X: FloatArray, method: str, max_iter: int
) -> float:
    """tau² of the mixed-effects meta-regression y ~ X, as rma.uni(mods=...) estimates it.

    Same estimators as univariate.py (same sources), with the intercept-only sums
    replaced by the projection matrix P of the weighted regression on X.
    """
    k, p = int(X.shape[0]), int(X.shape[1])
    if method in FIXED_METHODS:
        return 0.0
    ols_p = np.eye(k) - X @ np.linalg.inv(X.T @ X) @ X.T
    if method in ("HE", "ML", "REML"):
        hedges = max(0.0, (float(y @ ols_p @ y) - float(np.diag(ols_p) @ v)) / (k - p))
        if method == "HE":
            return hedges
    if method in ("DL", "HS", "HSk"):
        w = 1.0 / v
        P, _ = _projection(X, w)
        rss = float(y @ P @ y)
        if method == "DL":
            return max(0.0, (rss - (k - p)) / float(np.trace(P)))
        factor = k / (k - p) if method == "HSk" else 1.0
        return max(0.0, (factor * rss - k) / float(w.sum()))
    if method == "SJ":
        tau0 = float(np.var(y))  # metafor: var(yi) (k-1)/k, ignoring the moderators
        P, _ = _projection(X, 1.0 / (v + tau0))
        return max(0.0, tau0 * float(y @ P @ y) / (k - p))

    scale = float(v.mean())
    if method in ("PM", "EB"):
        if float(y @ _projection(X, 1.0 / v)[0] @ y) <= k - p:
            return 0.0

        def pm_equation(t: float) -> tuple[float, float]:
            P, _ = _projection(X, 1.0 / (v + t))
            py = P @ y
            return float(y @ py) - (k - p), -float(py @ py)

        return find_root(pm_equation, 0.0, scale=scale, max_iter=max_iter, name=method)[0]

    restricted = method == "REML"

    def score(t: float) -> tuple[float, float]:
        w = 1.0 / (v + t)
        P, _ = _projection(X, w)
        py = P @ y
        ppy = P @ py
        info = float(np.sum(P * P)) if restricted else float(w @ w)
        g = float(py @ py) - (float(np.trace(P)) if restricted else float(w.sum()))
        curvature = info - 2.0 * float(py @ ppy)
        return g, curvature if curvature < 0.0 else -info

    tau2 = find_root(score, hedges, scale=scale, max_iter=max_iter, name=method)[0]
    at_zero = _regression_likelihood(y, v, X, 0.0, restricted=restricted)
    if (
        tau2 > 0.0
        and at_zero - _regression_likelihood(y, v, X, tau2, restricted=restricted) > LL_TOL
    ):
        tau2 = 0.0
    return tau2


def _fit_regression(
    y: FloatArray,
    v: FloatArray,
    X: FloatArray,
    *,
    method: str,
    test: str,
    level: float,
    max_iter: int,
) -> _Regression:
    """Mixed-effects meta-regression (metafor rma.uni with mods), Wald/t/Knapp-Hartung tests."""
    k, p = int(X.shape[0]), int(X.shape[1])
    if np.linalg.matrix_rank(X) < p:
        raise StatsError("the model matrix is not of full rank (are all sampling variances equal?)")
    needed = p if method in FIXED_METHODS else p + 1
    if k < needed:
        raise StatsError(f"{needed} parameters to estimate from only {k} effect sizes")
    tau2 = _regression_tau2(y, v, X, method, max_iter)
    w = 1.0 / (v + tau2)
    _, inverse = _projection(X, w)
    beta = inverse @ (X.T * w) @ y
    residual = y - X @ beta
    rss = float(w @ (residual * residual))
    s2w = 1.0
    if test in ("knha", "adhoc"):
        s2w = 0.0 if rss <= RSS_ZERO else rss / (k - p)
        if test == "adhoc":
            s2w = max(s2w, 1.0)
    se = np.sqrt(s2w * np.diag(inverse))
    df = float(k - p) if test in ("t", "knha", "adhoc") else None
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = beta / se
    p_value = np.array([two_sided_p(float(z), df) for z in statistic])
    crit = critical_value(level, df)
    return _Regression(beta, se, statistic, p_value, beta - crit * se, beta + crit * se, tau2, df)


# --------------------------------------------------------------------------------------
# Egger's regression test
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EggerTest:
    """Egger's regression test for funnel-plot asymmetry (metafor ``regtest``).

    ``statistic``/``p_value`` test the coefficient of the predictor (z, or t with ``df``).
    ``limit_estimate`` and its CI are the intercept: the effect expected for a study of
    infinite precision (the "limit estimate" for predictor sei or vi).
    ``coefficients``/``coefficient_se`` are (intercept, slope); ``tau2`` the residual
    heterogeneity of the meta-regression (None for model "lm").
    """

    model: str
    predictor: str
    method: str | None
    test: str
    k: int
    statistic: float
    df: float | None
    p_value: float
    limit_estimate: float
    limit_ci_low: float
    limit_ci_high: float
    coefficients: tuple[float, float]
    coefficient_se: tuple[float, float]
    tau2: float | None


def egger_test(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    *,
    model: Literal["rma", "lm"] = "rma",
    predictor: Literal["sei", "vi"] = "sei",
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    max_iter: int = DEFAULT_MAX_ITER,
) -> EggerTest:
    """Regression test for funnel-plot asymmetry (Egger et al. 1997; Sterne & Egger 2005).

    ``model="rma"`` (metafor's default): the meta-regression yi ~ 1 + sei fitted with
    ``method`` and ``test`` (the settings of the pooled model being checked).
    ``model="lm"``: Egger's original weighted least squares, weights 1/vi, residual
    variance estimated, t test with k-2 df.  ``predictor``: "sei" (standard error,
    Egger's test) or "vi" (sampling variance).
    """
    check_options(method, test, level)
    if model not in ("rma", "lm"):
        raise StatsError(f"unknown model {model!r}; choose 'rma' or 'lm'")
    if predictor not in ("sei", "vi"):
        raise StatsError(f"unknown predictor {predictor!r}; choose 'sei' or 'vi'")
    y, v = check_inputs(yi, vi)
    k = y.shape[0]
    if k < 3:
        raise StatsError(f"Egger's regression test needs at least 3 effect sizes (k = {k})")
    X = np.column_stack([np.ones(k), np.sqrt(v) if predictor == "sei" else v])

    if model == "rma":
        fit = _fit_regression(y, v, X, method=method, test=test, level=level, max_iter=max_iter)
        tau2: float | None = fit.tau2
        reported_method: str | None = method
        reported_test = test
    else:
        # Weighted least squares: the residual variance is estimated, t with k-2 df.
        fit = _fit_regression(y, v, X, method="EE", test="knha", level=level, max_iter=max_iter)
        tau2, reported_method, reported_test = None, None, "t"
    return EggerTest(
        model=model,
        predictor=predictor,
        method=reported_method,
        test=reported_test,
        k=k,
        statistic=float(fit.statistic[1]),
        df=fit.df,
        p_value=float(fit.p_value[1]),
        limit_estimate=float(fit.beta[0]),
        limit_ci_low=float(fit.ci_low[0]),
        limit_ci_high=float(fit.ci_high[0]),
        coefficients=(float(fit.beta[0]), float(fit.beta[1])),
        coefficient_se=(float(fit.se[0]), float(fit.se[1])),
        tau2=tau2,
    )


# --------------------------------------------------------------------------------------
# Begg & Mazumdar rank correlation test
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RankTest:
    """Begg & Mazumdar's rank correlation test (metafor ``ranktest``).

    ``tau`` is Kendall's tau (tau-b) between the standardised deviates and vi;
    ``exact`` says whether ``p_value`` is the exact permutation p-value (no ties) or
    the normal approximation with tie correction.
    """

    k: int
    tau: float
    p_value: float
    exact: bool


# R computes the exact null distribution with factorials in double precision, which is
# finite only up to 170!; beyond that metafor falls back to the normal approximation.
_EXACT_KENDALL_MAX_N = 170


def _kendall_null_cdf(n: int, concordant: int) -> float:
    """P(C <= concordant) for the number of concordant pairs C of n untied pairs under
    independence (the Mahonian distribution), by convolving uniform distributions."""
    probabilities = np.ones(1)
    for m in range(2, n + 1):
        # Adding the m-th element adds 0..m-1 concordant pairs, uniformly.
        probabilities = np.convolve(probabilities, np.full(m, 1.0 / m))
    return float(probabilities[: concordant + 1].sum())


def rank_test(yi: npt.ArrayLike, vi: npt.ArrayLike) -> RankTest:
    """Rank correlation test for funnel-plot asymmetry (Begg & Mazumdar 1994).

    Kendall's tau between (yi - b_EE)/sqrt(vi - 1/sum(1/vi)) and vi.  As R's
    ``cor.test(..., method="kendall", exact=TRUE)``: the exact p-value when there are no
    ties, otherwise the normal approximation with tie-corrected variance.
    """
    y, v = check_inputs(yi, vi)
    k = y.shape[0]
    if k < 3:
        raise StatsError(f"the rank correlation test needs at least 3 effect sizes (k = {k})")
    w = 1.0 / v
    theta = float(w @ y) / float(w.sum())
    y_star = (y - theta) / np.sqrt(v - 1.0 / float(w.sum()))
    if np.unique(y_star).shape[0] == 1 or np.unique(v).shape[0] == 1:
        raise StatsError(
            "the rank correlation is undefined: all standardised estimates or all vi are equal"
        )
    tau = float(stats.kendalltau(y_star, v).statistic)

    n_pairs = k * (k - 1) // 2
    ties = np.unique(y_star).shape[0] < k or np.unique(v).shape[0] < k
    if not ties and k <= _EXACT_KENDALL_MAX_N:
        concordant = round((tau + 1.0) * n_pairs / 2.0)
        # The null distribution is symmetric: the smaller tail, doubled.
        tail = _kendall_null_cdf(k, min(concordant, n_pairs - concordant))
        return RankTest(k=k, tau=tau, p_value=min(1.0, 2.0 * tail), exact=True)

    # Normal approximation for Kendall's S with tie corrections (Kendall 1970; as R).
    x_ties = np.unique(y_star, return_counts=True)[1]
    y_ties = np.unique(v, return_counts=True)[1]
    t1 = float(np.sum(x_ties * (x_ties - 1))) / 2.0
    t2 = float(np.sum(y_ties * (y_ties - 1))) / 2.0
    s = tau * math.sqrt((n_pairs - t1) * (n_pairs - t2))
    var_s = (
        (
            k * (k - 1) * (2 * k + 5)
            - float(np.sum(x_ties * (x_ties - 1) * (2 * x_ties + 5)))
            - float(np.sum(y_ties * (y_ties - 1) * (2 * y_ties + 5)))
        )
        / 18.0
        + float(np.sum(x_ties * (x_ties - 1)))
        * float(np.sum(y_ties * (y_ties - 1)))
        / (2.0 * k * (k - 1))
        + float(np.sum(x_ties * (x_ties - 1) * (x_ties - 2)))
        * float(np.sum(y_ties * (y_ties - 1) * (y_ties - 2)))
        / (9.0 * k * (k - 1) * (k - 2))
    )
    z = s / math.sqrt(var_s)
    return RankTest(k=k, tau=tau, p_value=float(2.0 * special.ndtr(-abs(z))), exact=False)


# --------------------------------------------------------------------------------------
# trim and fill
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TrimAndFill:
    """Duval & Tweedie's trim-and-fill (metafor ``trimfill``).

    ``k0`` studies are estimated missing on ``side``; ``yi``/``vi`` are the original
    effect sizes followed by the filled (mirrored) ones, ``filled`` flags the latter,
    and ``pooled`` is the model refitted to the filled data (z test).  ``k0_p`` is the
    p-value of the R0 test that k0 = 0 (None for L0).
    """

    estimator: str
    side: str
    k0: int
    k0_se: float
    k0_p: float | None
    yi: FloatArray
    vi: FloatArray
    filled: npt.NDArray[np.bool_]
    pooled: PoolResult
    iterations: int


def trim_and_fill(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    *,
    estimator: Literal["L0", "R0"] = "L0",
    method: str = "REML",
    side: Literal["left", "right"] | None = None,
    level: float = 0.95,
    max_iter: int = 100,
) -> TrimAndFill:
    """Trim-and-fill (Duval & Tweedie 2000a, 2000b) following metafor's algorithm.

    The side with missing studies is, unless given, the one opposite the sign of the
    slope in the meta-regression of yi on sqrt(vi) (fitted with ``method``).  The data
    are flipped so that missing studies are on the left, then iteratively: pool the
    k - k0 smallest values, rank |yi - estimate| (ties by order), and estimate k0 by
    L0 = (4 S_r - k(k+1)) / (2k - 1) (S_r: sum of positive signed ranks) or
    R0 = (length of the rightmost run of positive ranks) - 1, rounded, until k0 repeats.
    The k0 most extreme values are then mirrored about the last estimate.
    """
    check_options(method, "z", level)
    if estimator not in ("L0", "R0"):
        raise StatsError(f"unknown estimator {estimator!r}; choose 'L0' or 'R0'")
    if side not in (None, "left", "right"):
        raise StatsError(f"side must be 'left', 'right' or None (got {side!r})")
    y, v = check_inputs(yi, vi)
    k = y.shape[0]
    if k == 1:
        raise StatsError("trim-and-fill needs at least 2 effect sizes (k = 1)")
    if side is None:
        X = np.column_stack([np.ones(k), np.sqrt(v)])
        slope = _fit_regression(
            y, v, X, method=method, test="z", level=level, max_iter=DEFAULT_MAX_ITER
        )
        side = "right" if slope.beta[1] < 0 else "left"

    # Work on data flipped so that the missing studies are on the left, sorted ascending.
    flipped = -y if side == "right" else y
    order = np.argsort(flipped, kind="stable")
    ys, vs = flipped[order], v[order]

    k0, previous, iterations = 0, -1, 0
    k0_se = math.nan
    estimate = math.nan
    while k0 != previous:
        previous = k0
        iterations += 1
        if iterations > max_iter:
            raise ConvergenceError(f"trim-and-fill did not converge within {max_iter} iterations")
        estimate = pool(ys[: k - k0], vs[: k - k0], method=method).estimate
        centred = ys - estimate
        ranks = np.empty(k)
        ranks[np.argsort(np.abs(centred), kind="stable")] = np.arange(1, k + 1)
        signed = np.sign(centred) * ranks
        if estimator == "R0":
            negative = signed[signed < 0]
            if negative.size == 0:
                raise StatsError("trim-and-fill (R0): no estimate lies below the pooled estimate")
            raw = (k - float(np.max(-negative))) - 1.0
            k0_se = math.sqrt(2.0 * max(0.0, raw) + 2.0)
        else:
            s_r = float(signed[signed > 0].sum())
            raw = (4.0 * s_r - k * (k + 1)) / (2 * k - 1)
            var_s_r = (
                k * (k + 1) * (2 * k + 1)
                + 10 * raw**3
                + 27 * raw**2
                + 17 * raw
                - 18 * k * raw**2
                - 18 * k * raw
                + 6 * k**2 * raw
            ) / 24.0
            # The variance formula can go negative far from its derivation's
            # assumptions; R's sqrt() then gives NaN, and metafor reports that.
            k0_se = 4.0 * math.sqrt(var_s_r) / (2 * k - 1) if var_s_r >= 0 else math.nan
        k0 = max(0, round(raw))  # R's round(): half to even, as Python's
        if k0 >= k:
            raise StatsError(
                f"trim-and-fill estimated {k0} missing studies out of {k}: cannot trim"
            )

    mirrored = 2.0 * estimate - ys[k - k0 :]  # flipped scale
    fill_values = -mirrored if side == "right" else mirrored
    y_all = np.concatenate([y, fill_values])
    v_all = np.concatenate([v, vs[k - k0 :]])
    filled = np.concatenate([np.zeros(k, dtype=bool), np.ones(k0, dtype=bool)])
    pooled = pool(y_all, v_all, method=method, test="z", level=level)
    return TrimAndFill(
        estimator=estimator,
        side=side,
        k0=k0,
        k0_se=k0_se,
        k0_p=0.5 ** (k0 + 1) if estimator == "R0" else None,
        yi=y_all,
        vi=v_all,
        filled=filled,
        pooled=pooled,
        iterations=iterations,
    )


# --------------------------------------------------------------------------------------
# leave one out
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LeaveOneOut:
    """The model refitted k times, each time without one effect size (metafor
    ``leave1out``).  Element i of every array is the fit without effect size i; a fit
    that fails (an iterative estimator not converging) is NaN there, as metafor's NA."""

    method: str
    test: str
    estimate: FloatArray
    se: FloatArray
    statistic: FloatArray
    p_value: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    q: FloatArray
    q_p: FloatArray
    tau2: FloatArray
    i2: FloatArray
    h2: FloatArray


def leave_one_out(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
) -> LeaveOneOut:
    """Influence of each effect size: pool() without it, for every effect size."""
    check_options(method, test, level)
    y, v = check_inputs(yi, vi)
    k = y.shape[0]
    if k == 1:
        raise StatsError("leave-one-out needs at least 2 effect sizes (k = 1)")
    names = (
        "estimate",
        "se",
        "statistic",
        "p_value",
        "ci_low",
        "ci_high",
        "q",
        "q_p",
        "tau2",
        "i2",
        "h2",
    )
    columns = {name: np.full(k, np.nan) for name in names}
    keep = np.ones(k, dtype=bool)
    for i in range(k):
        keep[i] = False
        try:
            fit = pool(y[keep], v[keep], method=method, test=test, level=level)
        except ConvergenceError:
            fit = None
        keep[i] = True
        if fit is not None:
            for name in names:
                columns[name][i] = getattr(fit, name)
    return LeaveOneOut(method=method, test=test, **columns)
