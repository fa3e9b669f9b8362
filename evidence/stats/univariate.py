"""Univariate (intercept-only) meta-analysis: metafor's ``rma.uni`` without moderators.

Every quantity is written in closed form for the intercept-only model, where the
weighted projection ``P = W - W 1 1' W / sum(w)`` reduces to sums of powers of the
weights, so nothing here builds a k x k matrix.  The numbers are those of R metafor
3.8-1 (``rma.uni``, ``predict``, ``fitstats``, ``confint``); each estimator cites the
paper its formula comes from.

Conventions (all as metafor reports them):

* ``i2`` and ``weights`` are percentages;
* ``df`` is None for the z test;
* EE/FE models have no random effect, so ``tau2_se`` is None and there is no
  prediction interval: ``pi_low``/``pi_high`` are NaN (metafor prints nothing);
* with k = 1 every method fixes tau² at 0, Q at 0, and the test falls back to z;
* iterative estimators (REML, ML, PM, EB) are solved to machine precision by a
  safeguarded Newton iteration; if it cannot converge within ``max_iter`` steps a
  :class:`ConvergenceError` is raised (a result is never returned unconverged, so
  ``PoolResult.converged`` is always True here).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from .results import ConvergenceError, FitStats, FloatArray, PoolResult, StatsError

__all__ = [
    "METHODS",
    "TESTS",
    "Tau2Interval",
    "check_inputs",
    "check_options",
    "pool",
    "tau2_ci",
]

METHODS: tuple[str, ...] = ("EE", "FE", "DL", "REML", "PM", "ML", "HE", "SJ", "HS", "HSk", "EB")
TESTS: tuple[str, ...] = ("z", "t", "knha", "adhoc")

# Methods without a between-study variance (FE is metafor's older name for EE).
FIXED_METHODS = frozenset({"EE", "FE"})

# metafor zeroes the Knapp-Hartung factor when the weighted RSS is at or below machine
# epsilon (all yi equal), rather than printing a meaningless tiny scale factor.
RSS_ZERO = float(np.finfo(np.float64).eps)

# Stopping rule of the root finders: a step smaller than this fraction of
# (tau² + a typical sampling variance).  Newton converges quadratically near the root,
# so the answer is then exact to rounding error.
STEP_TOL = 1e-13

DEFAULT_MAX_ITER = 1000

# metafor's "ll0check": tau2 = 0 replaces a root whose log-likelihood is lower by more
# than this (its control tol; 1e-12 in the reference fits).
LL_TOL = 1e-12


# --------------------------------------------------------------------------------------
# input checking
# --------------------------------------------------------------------------------------


def check_inputs(yi: npt.ArrayLike, vi: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Return yi, vi as 1-D float arrays, or raise StatsError saying what is wrong.

    Sampling variances must be strictly positive: metafor cannot compute Q, I² or H²
    (and refuses DL, PM, HS) with vi <= 0, so a zero variance is treated as bad input.
    """
    try:
        y = np.asarray(yi, dtype=np.float64)
        v = np.asarray(vi, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"yi and vi must be numeric: {exc}") from exc
    if y.ndim != 1 or v.ndim != 1:
        raise StatsError(f"yi and vi must be one-dimensional (got shapes {y.shape} and {v.shape})")
    if y.shape[0] != v.shape[0]:
        raise StatsError(
            f"yi and vi differ in length ({y.shape[0]} effect sizes, {v.shape[0]} variances)"
        )
    if y.shape[0] == 0:
        raise StatsError("no effect sizes to pool (k = 0)")
    bad_y = np.flatnonzero(~np.isfinite(y))
    if bad_y.size:
        i = int(bad_y[0])
        raise StatsError(f"yi[{i}] = {float(y[i])!r} is not a finite number")
    bad_v = np.flatnonzero(~(np.isfinite(v) & (v > 0)))
    if bad_v.size:
        i = int(bad_v[0])
        raise StatsError(f"vi[{i}] = {float(v[i])!r}: sampling variances must be finite and > 0")
    return y, v


def check_options(method: str, test: str, level: float) -> None:
    """Raise StatsError for an unknown method or test, or a level outside (0, 1)."""
    if method not in METHODS:
        raise StatsError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if test not in TESTS:
        raise StatsError(f"unknown test {test!r}; choose one of {', '.join(TESTS)}")
    if not (isinstance(level, (int, float)) and 0.0 < float(level) < 1.0):
        raise StatsError(f"level must be a probability strictly between 0 and 1 (got {level!r})")


# --------------------------------------------------------------------------------------
# sums that the intercept-only projection matrix reduces to
# --------------------------------------------------------------------------------------


def _trace_p(w: FloatArray) -> float:
    """tr(P) for P = W - w w'/sum(w)."""
    sw = float(w.sum())
    return sw - float(np.dot(w, w)) / sw


def _trace_pp(w: FloatArray) -> float:
    """tr(PP) = sum(w^2) - 2 sum(w^3)/sum(w) + (sum(w^2)/sum(w))^2."""
    sw = float(w.sum())
    sw2 = float(np.dot(w, w))
    sw3 = float(np.dot(w * w, w))
    return sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2


def _weighted_mean(y: FloatArray, w: FloatArray) -> float:
    return float(np.dot(w, y)) / float(w.sum())


def _q_stat(y: FloatArray, v: FloatArray, tau2: float) -> float:
    """Generalised Cochran Q: sum w (y - b)^2 with w = 1/(v + tau2) (Q for tau2 = 0)."""
    w = 1.0 / (v + tau2)
    r = y - _weighted_mean(y, w)
    return float(np.dot(w, r * r))


# --------------------------------------------------------------------------------------
# a safeguarded Newton root finder for decreasing estimating equations
# --------------------------------------------------------------------------------------

EstimatingEquation = Callable[[float], tuple[float, float]]


def find_root(
    equation: EstimatingEquation,
    start: float,
    *,
    scale: float,
    max_iter: int,
    name: str,
) -> tuple[float, int]:
    """Root of a decreasing-through-zero estimating equation g(tau2) on tau2 >= 0.

    ``equation(t)`` returns ``(g(t), slope)`` with a negative ``slope`` for the Newton
    step (the exact derivative, or minus the Fisher information where the curvature has
    the wrong sign).  The iteration follows metafor's Fisher scoring from ``start``:

    * a step that would make tau2 negative is halved until it does not (metafor's
      step-halving), so a path that only ever sees g < 0 ends at the boundary 0;
    * once points with g > 0 and g < 0 are both known, the iterate is kept between
      them and a Newton step leaving that bracket is replaced by bisection, so the
      iteration always converges, to a point where g changes sign from + to -.

    Returns the root (exactly 0.0 at the boundary) and the number of iterations.
    """
    lo, hi = 0.0, math.inf
    positive_seen = False  # is g(lo) > 0 known?
    t = max(start, 0.0)
    for iteration in range(1, max_iter + 1):
        g, slope = equation(t)
        if not (math.isfinite(g) and math.isfinite(slope) and slope < 0.0):
            break
        if g == 0.0:
            return t, iteration
        if g > 0.0:
            lo, positive_seen = t, True
        else:
            hi = t
        new = t - g / slope
        if positive_seen and not (lo < new < hi):
            new = 0.5 * (lo + hi) if math.isfinite(hi) else 2.0 * t + scale
        elif new < 0.0:
            new = _halve_to_nonnegative(t, new - t)
        if abs(new - t) <= STEP_TOL * (new + scale):
            if not positive_seen and new <= STEP_TOL * scale:
                return 0.0, iteration  # walked down to the boundary
            return new, iteration
        t = new
    raise ConvergenceError(
        f"{name} estimator of tau² did not converge within {max_iter} iterations"
    )


def _halve_to_nonnegative(t: float, step: float) -> float:
    """t + step / 2^j for the smallest j >= 0 that keeps the result >= 0 (step < 0)."""
    if t <= 0.0:
        return 0.0
    halvings = max(0, math.ceil(math.log2(-step / t)))
    return max(0.0, t + math.ldexp(step, -halvings))


# --------------------------------------------------------------------------------------
# tau² estimators
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tau2Fit:
    tau2: float
    se: float | None
    iterations: int = 0


def _hedges(y: FloatArray, v: FloatArray) -> _Tau2Fit:
    """Hedges (HE) estimator, Hedges & Olkin 1985: unweighted method of moments.

    SE from the variance of a quadratic form in normal variables (metafor's notes).
    """
    k = y.shape[0]
    r = y - float(y.mean())
    rss = float(np.dot(r, r))
    sv = float(v.sum())
    tr_pv = sv * (1.0 - 1.0 / k)
    tr_pvpv = float(np.dot(v, v)) * (1.0 - 2.0 / k) + sv * sv / (k * k)
    tau2 = max(0.0, (rss - tr_pv) / (k - 1))
    se = math.sqrt(2.0 * tr_pvpv + 4.0 * tau2 * tr_pv + 2.0 * tau2 * tau2 * (k - 1)) / (k - 1)
    return _Tau2Fit(tau2, se)


def _dersimonian_laird(y: FloatArray, v: FloatArray) -> _Tau2Fit:
    """DerSimonian & Laird 1986: (Q - (k-1)) / tr(P) with w = 1/v, truncated at 0."""
    k = y.shape[0]
    w = 1.0 / v
    q = _q_stat(y, v, 0.0)
    tr_p = _trace_p(w)
    tau2 = max(0.0, (q - (k - 1)) / tr_p)
    se = math.sqrt(2.0 * (k - 1) + 4.0 * tau2 * tr_p + 2.0 * tau2 * tau2 * _trace_pp(w)) / tr_p
    return _Tau2Fit(tau2, se)


def _hunter_schmidt(y: FloatArray, v: FloatArray, *, k_corrected: bool) -> _Tau2Fit:
    """Hunter & Schmidt 2004: (Q - k) / sum(w); HSk scales Q by k/(k-1) (Brannick et al. 2019)."""
    k = y.shape[0]
    w = 1.0 / v
    sw = float(w.sum())
    q = _q_stat(y, v, 0.0)
    factor = k / (k - 1) if k_corrected else 1.0
    tau2 = max(0.0, (factor * q - k) / sw)
    spread = 2.0 * (k - 1) + 4.0 * tau2 * _trace_p(w) + 2.0 * tau2 * tau2 * _trace_pp(w)
    return _Tau2Fit(tau2, factor * math.sqrt(spread) / sw)


def _sidik_jonkman(y: FloatArray, v: FloatArray) -> _Tau2Fit:
    """Sidik & Jonkman 2005: one step from tau0 = mean((y - mean y)^2).

    tau2 = tau0 * Q(tau0) / (k-1), where Q(tau0) uses weights 1/(v + tau0); the SE is
    metafor's quadratic-form expression with P evaluated at tau0.
    """
    k = y.shape[0]
    r0 = y - float(y.mean())
    tau0 = float(np.dot(r0, r0)) / k
    w = 1.0 / (v + tau0)
    sw = float(w.sum())
    q = _q_stat(y, v, tau0)
    tau2 = max(0.0, tau0 * q / (k - 1))
    w2 = w * w
    sw2 = float(w2.sum())
    sw2v = float(np.dot(w2, v))
    # tr(PVPV) and sum(PV * P) for the intercept-only P at weights w.
    tr_pvpv = float(np.dot(w2, v * v)) - 2.0 * float(np.dot(w2 * w, v * v)) / sw + (sw2v / sw) ** 2
    sum_pvp = sw2v - 2.0 * float(np.dot(w2 * w, v)) / sw + sw2 * sw2v / (sw * sw)
    spread = 2.0 * tr_pvpv + 4.0 * tau2 * sum_pvp + 2.0 * tau2 * tau2 * _trace_pp(w)
    return _Tau2Fit(tau2, tau0 / (k - 1) * math.sqrt(max(spread, 0.0)))


def _paule_mandel(y: FloatArray, v: FloatArray, *, max_iter: int, name: str) -> _Tau2Fit:
    """Paule & Mandel 1982: the tau2 at which the generalised Q equals its df, k-1.

    Morris's (1983) empirical Bayes estimator (EB) solves the same equation in the
    intercept-only model, so both methods share this code.  Q(tau2) is decreasing and
    convex, so Newton from tau2 = 0 climbs monotonically to the root.  SE as metafor:
    sqrt(2 k^2 / (k-1)) / sum(w).
    """
    k = y.shape[0]
    target = float(k - 1)
    tau2, iterations = 0.0, 0
    if _q_stat(y, v, 0.0) > target:

        def equation(t: float) -> tuple[float, float]:
            w = 1.0 / (v + t)
            r = y - _weighted_mean(y, w)
            wr2 = w * r * r
            return float(wr2.sum()) - target, -float(np.dot(w, wr2))

        tau2, iterations = find_root(
            equation, 0.0, scale=float(v.mean()), max_iter=max_iter, name=name
        )
    sw = float((1.0 / (v + tau2)).sum())
    return _Tau2Fit(tau2, math.sqrt(2.0 * k * k / (k - 1)) / sw, iterations)


def _likelihood_equation(y: FloatArray, v: FloatArray, *, restricted: bool) -> EstimatingEquation:
    """Score of the (restricted) log-likelihood in tau2, with a Newton slope.

    ML (Hardy & Thompson 1996):   g = sum(w^2 r^2) - sum(w)
    REML (Viechtbauer 2005):      g = sum(w^2 r^2) - tr(P)
    Each is twice the score.  The slope is twice the second derivative when that is
    negative (true Newton, quadratic convergence), and otherwise minus twice the Fisher
    information (sum(w^2) for ML, tr(PP) for REML): metafor's Fisher scoring step.
    """

    def equation(t: float) -> tuple[float, float]:
        w = 1.0 / (v + t)
        sw = float(w.sum())
        r = y - float(np.dot(w, y)) / sw
        w2 = w * w
        sw2 = float(w2.sum())
        w2r = w2 * r
        yppy = float(np.dot(w2r, r))
        # r' W P W r: the cubic term of the second derivative.
        ypppy = float(np.dot(w2r * w, r)) - float(w2r.sum()) ** 2 / sw
        if restricted:
            info = sw2 - 2.0 * float(np.dot(w2, w)) / sw + (sw2 / sw) ** 2
            g = yppy - (sw - sw2 / sw)
        else:
            info = sw2
            g = yppy - sw
        curvature = info - 2.0 * ypppy
        return g, curvature if curvature < 0.0 else -info

    return equation


def _maximum_likelihood(
    y: FloatArray, v: FloatArray, *, restricted: bool, max_iter: int, name: str
) -> _Tau2Fit:
    """ML / REML estimate by scoring from the Hedges estimate, as metafor does.

    Afterwards metafor's boundary check: if the log-likelihood at tau2 = 0 is higher
    than at the root found, the estimate is 0 (the iteration found a lesser local
    maximum).  SE from the Fisher information: sqrt(2/sum(w^2)) for ML, sqrt(2/tr(PP))
    for REML.
    """
    equation = _likelihood_equation(y, v, restricted=restricted)
    start = _hedges(y, v).tau2
    tau2, iterations = find_root(
        equation, start, scale=float(v.mean()), max_iter=max_iter, name=name
    )
    index = 1 if restricted else 0
    if tau2 > 0.0 and (
        log_likelihoods(y, v, 0.0)[index] - log_likelihoods(y, v, tau2)[index] > LL_TOL
    ):
        tau2 = 0.0
    w = 1.0 / (v + tau2)
    info = _trace_pp(w) if restricted else float(np.dot(w, w))
    return _Tau2Fit(tau2, math.sqrt(2.0 / info), iterations)


def estimate_tau2(
    y: FloatArray, v: FloatArray, method: str, *, max_iter: int = DEFAULT_MAX_ITER
) -> tuple[float, float | None, int]:
    """tau² by ``method`` for checked inputs with k >= 2: (tau2, its SE or None, iterations)."""
    if method in FIXED_METHODS:
        return 0.0, None, 0
    if method == "DL":
        fit = _dersimonian_laird(y, v)
    elif method == "HE":
        fit = _hedges(y, v)
    elif method in ("HS", "HSk"):
        fit = _hunter_schmidt(y, v, k_corrected=method == "HSk")
    elif method == "SJ":
        fit = _sidik_jonkman(y, v)
    elif method in ("PM", "EB"):
        fit = _paule_mandel(y, v, max_iter=max_iter, name=method)
    elif method in ("ML", "REML"):
        fit = _maximum_likelihood(y, v, restricted=method == "REML", max_iter=max_iter, name=method)
    else:  # pragma: no cover - check_options rejects anything else
        raise StatsError(f"unknown method {method!r}")
    return fit.tau2, fit.se, fit.iterations


# --------------------------------------------------------------------------------------
# distributions (scipy.special: no per-call overhead of scipy.stats objects)
# --------------------------------------------------------------------------------------


def critical_value(level: float, df: float | None) -> float:
    """Two-sided critical value: normal when df is None, else Student t with df."""
    alpha = 1.0 - level
    if df is None:
        return float(-special.ndtri(alpha / 2.0))
    return float(-special.stdtrit(df, alpha / 2.0))


def two_sided_p(stat: float, df: float | None) -> float:
    if math.isnan(stat):
        return math.nan
    if df is None:
        return float(2.0 * special.ndtr(-abs(stat)))
    return float(2.0 * special.stdtr(df, -abs(stat)))


def _ratio(num: float, den: float) -> float:
    """num/den with IEEE semantics (x/0 = +-inf, 0/0 = nan) instead of an exception."""
    if den != 0.0:
        return num / den
    if num == 0.0 or math.isnan(num):
        return math.nan
    return math.copysign(math.inf, num)


# --------------------------------------------------------------------------------------
# fit statistics
# --------------------------------------------------------------------------------------

_LOG_2PI = math.log(2.0 * math.pi)


def _log_or_minus_inf(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def information_criteria(ll: float, parms: int, n: int) -> tuple[float, float, float]:
    """AIC, BIC and AICc as metafor's fitstats (n = k for ML, k - p for REML)."""
    aic = -2.0 * ll + 2.0 * parms
    bic = -2.0 * ll + parms * _log_or_minus_inf(n)
    m = max(n, parms + 2)
    aicc = -2.0 * ll + 2.0 * parms * m / (m - parms - 1)
    return aic, bic, aicc


def log_likelihoods(y: FloatArray, v: FloatArray, tau2: float) -> tuple[float, float, float]:
    """(ll_ML, ll_REML, RSS) of the random-effects model at tau2, beta profiled out.

    REML includes metafor's 1/2 log|X'X| = 1/2 log(k) term (Harville 1977 form).
    """
    k = y.shape[0]
    w = 1.0 / (v + tau2)
    sw = float(w.sum())
    r = y - float(np.dot(w, y)) / sw
    rss = float(np.dot(w, r * r))
    sum_log = float(np.log(v + tau2).sum())
    ll_ml = -0.5 * k * _LOG_2PI - 0.5 * sum_log - 0.5 * rss
    ll_reml = (
        -0.5 * (k - 1) * _LOG_2PI
        + 0.5 * math.log(k)
        - 0.5 * sum_log
        - 0.5 * math.log(sw)
        - 0.5 * rss
    )
    return ll_ml, ll_reml, rss


def _fit_stats(y: FloatArray, v: FloatArray, tau2: float, parms: int) -> tuple[FitStats, FitStats]:
    k = y.shape[0]
    ll_ml, ll_reml, _ = log_likelihoods(y, v, tau2)
    # ML deviance is relative to the saturated model (each yi its own mean); REML's
    # saturated log-likelihood is taken as 0, as in metafor.
    if k > 1:
        saturated = -0.5 * float(np.log(2.0 * math.pi * v).sum())
        dev_ml = -2.0 * (ll_ml - saturated)
    else:
        dev_ml = 0.0
    aic, bic, aicc = information_criteria(ll_ml, parms, k)
    fit_ml = FitStats(ll=ll_ml, dev=dev_ml, aic=aic, bic=bic, aicc=aicc)
    aic, bic, aicc = information_criteria(ll_reml, parms, k - 1)
    fit_reml = FitStats(ll=ll_reml, dev=-2.0 * ll_reml, aic=aic, bic=bic, aicc=aicc)
    return fit_ml, fit_reml


# --------------------------------------------------------------------------------------
# pool
# --------------------------------------------------------------------------------------


def pool(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    max_iter: int = DEFAULT_MAX_ITER,
) -> PoolResult:
    """Pool effect sizes ``yi`` with sampling variances ``vi`` (metafor ``rma.uni``).

    ``method``: EE (= FE), DL, REML, PM, ML, HE, SJ, HS, HSk, EB.
    ``test``: "z"; "t" (Student t, k-1 df); "knha" (Hartung-Knapp-Sidik-Jonkman, Knapp &
    Hartung 2003: variance scaled by s² = sum w (y-b)^2/(k-1)); "adhoc" (knha with s²
    floored at 1).  With k = 1 the test is switched to "z", as metafor does, and the
    result's ``test`` says so.

    Raises StatsError for unusable input and ConvergenceError if an iterative tau²
    estimator does not converge within ``max_iter`` iterations.
    """
    check_options(method, test, level)
    y, v = check_inputs(yi, vi)
    k = y.shape[0]
    if k == 1:
        tau2, tau2_se, iterations = 0.0, None, 0
        test = "z"
    else:
        tau2, tau2_se, iterations = estimate_tau2(y, v, method, max_iter=max_iter)
    return summarise(
        y, v, tau2, tau2_se, method=method, test=test, level=level, iterations=iterations
    )


def summarise(
    y: FloatArray,
    v: FloatArray,
    tau2: float,
    tau2_se: float | None,
    *,
    method: str,
    test: str,
    level: float,
    iterations: int = 0,
) -> PoolResult:
    """Everything rma.uni and predict() report, given the tau² estimate."""
    k = y.shape[0]
    fixed = method in FIXED_METHODS
    w = 1.0 / (v + tau2)
    sw = float(w.sum())
    estimate = float(np.dot(w, y)) / sw
    r = y - estimate
    rss = float(np.dot(w, r * r))

    # Knapp & Hartung 2003 scaling factor; metafor zeroes it when the RSS vanishes.
    s2w = 1.0
    if test in ("knha", "adhoc") and k > 1:
        s2w = 0.0 if rss <= RSS_ZERO else rss / (k - 1)
        if test == "adhoc":
            s2w = max(s2w, 1.0)
    se = math.sqrt(s2w / sw)
    df: float | None = float(k - 1) if test in ("t", "knha", "adhoc") else None
    statistic = _ratio(estimate, se)
    p_value = two_sided_p(statistic, df)
    crit = critical_value(level, df)

    # Heterogeneity: Cochran's Q always uses w = 1/v.
    if k > 1:
        w_fe = 1.0 / v
        q = _q_stat(y, v, 0.0)
        q_p = float(special.chdtrc(k - 1, q))
        if fixed:
            i2 = max(0.0, 100.0 * (q - (k - 1)) / q) if q > 0 else 0.0
            h2 = q / (k - 1)
        else:
            # Higgins & Thompson 2002 with metafor's "typical" variance vt = (k-1)/tr(P).
            vt = (k - 1) / _trace_p(w_fe)
            i2 = 100.0 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1.0
    else:
        q, q_p, i2, h2 = 0.0, 1.0, 0.0, 1.0

    if fixed:
        pi_low = pi_high = math.nan
    else:
        half = crit * math.sqrt(tau2 + se * se)
        pi_low, pi_high = estimate - half, estimate + half

    parms = 1 if fixed else 2
    fit_ml, fit_reml = _fit_stats(y, v, tau2, parms)

    return PoolResult(
        method=method,
        test=test,
        level=level,
        k=k,
        estimate=estimate,
        se=se,
        statistic=statistic,
        df=df,
        p_value=p_value,
        ci_low=estimate - crit * se,
        ci_high=estimate + crit * se,
        tau2=tau2,
        tau2_se=None if (fixed or k == 1) else tau2_se,
        i2=i2,
        h2=h2,
        q=q,
        q_df=k - 1,
        q_p=q_p,
        pi_low=pi_low,
        pi_high=pi_high,
        weights=100.0 * w / sw,
        converged=True,
        iterations=iterations,
        fit_ml=fit_ml,
        fit_reml=fit_reml,
        s2w=s2w,
    )


# --------------------------------------------------------------------------------------
# confidence intervals for tau² (and tau, I², H²)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Tau2Interval:
    """Estimates and confidence limits of tau², tau, I² (%) and H², as metafor's confint().

    ``kind`` is "QP" (Q-profile) or "PL" (profile likelihood).  ``lb_sign``/``ub_sign``
    are "<" or ">" when a limit lies beyond the searched range [0, tau2_max] and the
    range end is reported instead (metafor prints e.g. ">100"); ``ci_null`` is True when
    the Q-profile interval is empty (both limits below 0), reported as [0, 0].
    """

    method: str
    kind: str
    level: float
    tau2: float
    tau2_low: float
    tau2_high: float
    tau: float
    tau_low: float
    tau_high: float
    i2: float
    i2_low: float
    i2_high: float
    h2: float
    h2_low: float
    h2_high: float
    lb_sign: str = ""
    ub_sign: str = ""
    ci_null: bool = False


def _bracketed_root(f: Callable[[float], float], lo: float, hi: float, scale: float) -> float:
    root = optimize.brentq(f, lo, hi, xtol=1e-15 * scale, rtol=4.0 * RSS_ZERO, maxiter=1000)
    return float(root)


def _q_profile(
    y: FloatArray, v: FloatArray, level: float, tau2_max: float
) -> tuple[float, float, str, str, bool]:
    """Q-profile limits (Viechtbauer 2007): where the generalised Q(tau2) crosses the
    chi²(k-1) quantiles.  Q is decreasing in tau2, so each limit is a bracketed root."""
    k = y.shape[0]
    alpha = 1.0 - level
    crit_upper = float(special.chdtri(k - 1, alpha / 2.0))  # exceeded with prob alpha/2
    crit_lower = float(special.chdtri(k - 1, 1.0 - alpha / 2.0))
    q_min = _q_stat(y, v, 0.0)
    q_max = _q_stat(y, v, tau2_max)
    scale = float(v.mean())
    lb_sign = ub_sign = ""
    ci_null = False

    def q_minus(target: float) -> Callable[[float], float]:
        return lambda t: _q_stat(y, v, t) - target

    if q_min < crit_lower:
        # Even tau2 = 0 fits too well: both limits lie below the searched range.
        low = high = 0.0
        lb_sign = ub_sign = "<"
        ci_null = True
    elif q_max > crit_lower:
        high = tau2_max
        ub_sign = ">"
    else:
        high = _bracketed_root(q_minus(crit_lower), 0.0, tau2_max, scale)

    if q_max > crit_upper:
        low = high = tau2_max
        lb_sign = ub_sign = ">"
    elif q_min < crit_upper:
        low = 0.0
    else:
        low = _bracketed_root(q_minus(crit_upper), 0.0, tau2_max, scale)
    return low, high, lb_sign, ub_sign, ci_null


def _profile_likelihood(
    y: FloatArray,
    v: FloatArray,
    tau2_hat: float,
    level: float,
    *,
    restricted: bool,
    tau2_max: float,
) -> tuple[float, float, str, str]:
    """Profile-likelihood limits (Hardy & Thompson 1996): where twice the drop in the
    (restricted) log-likelihood from its maximum equals the chi²(1) quantile."""
    objective = float(special.chdtri(1, 1.0 - level))
    index = 1 if restricted else 0
    ll_hat = log_likelihoods(y, v, tau2_hat)[index]
    scale = float(v.mean())

    def excess(t: float) -> float:
        return 2.0 * (ll_hat - log_likelihoods(y, v, t)[index]) - objective

    lb_sign = ub_sign = ""
    low = 0.0 if excess(0.0) < 0 else _bracketed_root(excess, 0.0, tau2_hat, scale)
    if excess(tau2_max) < 0:
        high, ub_sign = tau2_max, ">"
    else:
        high = _bracketed_root(excess, tau2_hat, tau2_max, scale)
    return low, high, lb_sign, ub_sign


def tau2_ci(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    *,
    method: str = "REML",
    level: float = 0.95,
    kind: Literal["QP", "PL"] = "QP",
) -> Tau2Interval:
    """Confidence interval for tau² (and tau, I², H²) as metafor's ``confint(rma(...))``.

    ``kind="QP"``: Q-profile (Viechtbauer 2007), for every random-effects method; the
    interval does not depend on the estimator, only the point estimates do.
    ``kind="PL"``: profile likelihood, for ML and REML fits only.
    The search range is [0, max(100, 10 tau2)], metafor's default.
    """
    check_options(method, "z", level)
    if kind not in ("QP", "PL"):
        raise StatsError(f"unknown interval kind {kind!r}; choose 'QP' or 'PL'")
    y, v = check_inputs(yi, vi)
    k = y.shape[0]
    if k == 1:
        raise StatsError(
            "cannot compute a confidence interval for tau² from a single effect size (k = 1)"
        )
    if method in FIXED_METHODS:
        raise StatsError(f"method {method} has no between-study variance, so no interval for tau²")
    if kind == "PL" and method not in ("ML", "REML"):
        raise StatsError(
            "profile-likelihood intervals need a likelihood fit: use method 'ML' or 'REML'"
        )

    fit = pool(y, v, method=method, level=level)
    tau2_max = max(100.0, 10.0 * fit.tau2)
    ci_null = False
    if kind == "QP":
        low, high, lb_sign, ub_sign, ci_null = _q_profile(y, v, level, tau2_max)
    else:
        low, high, lb_sign, ub_sign = _profile_likelihood(
            y, v, fit.tau2, level, restricted=method == "REML", tau2_max=tau2_max
        )

    vt: float = (k - 1) / _trace_p(1.0 / v)

    def i2_of(t: float) -> float:
        return 100.0 * t / (vt + t)

    def h2_of(t: float) -> float:
        return t / vt + 1.0

    return Tau2Interval(
        method=method,
        kind=kind,
        level=level,
        tau2=fit.tau2,
        tau2_low=low,
        tau2_high=high,
        tau=math.sqrt(fit.tau2),
        tau_low=math.sqrt(low),
        tau_high=math.sqrt(high),
        i2=fit.i2,
        i2_low=i2_of(low),
        i2_high=i2_of(high),
        h2=fit.h2,
        h2_low=h2_of(low),
        h2_high=h2_of(high),
        lb_sign=lb_sign,
        ub_sign=ub_sign,
        ci_null=ci_null,
    )
