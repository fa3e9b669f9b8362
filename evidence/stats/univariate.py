"""Univariate (intercept-only) meta-analysis: metafor's ``rma.uni`` without moderators.

``pool`` fits one set of independent effect sizes: the tau² estimate (from tau2.py),
the pooled mean and its test (z, t, Knapp-Hartung), heterogeneity statistics, the
prediction interval and metafor's fit statistics. Everything is written in closed form
for the intercept-only model, so nothing here builds a k x k matrix.  The numbers are
those of R metafor 3.8-1 (``rma.uni``, ``predict``, ``fitstats``).

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

Not here: the tau² estimators (tau2.py), input checks and the method and test names
(options.py), many cells at once (cells.py) and several effect sizes per study
(clustered.py). ``METHODS``, ``TESTS``, ``check_inputs``, ``check_options``, ``tau2_ci``
and ``Tau2Interval`` are re-exported from their modules (options.py, confint.py), so
they can still be imported from here.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import special

from .confint import Tau2Interval, tau2_ci
from .options import (
    DEFAULT_MAX_ITER,
    FIXED_METHODS,
    METHODS,
    RSS_ZERO,
    TESTS,
    check_inputs,
    check_options,
)
from .results import FitStats, FloatArray, PoolResult
from .tau2 import estimate_tau2, log_likelihoods, q_stat, typical_variance

__all__ = [
    "METHODS",
    "TESTS",
    "Tau2Interval",
    "check_inputs",
    "check_options",
    "pool",
    "tau2_ci",
]


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


def _log_or_minus_inf(x: float) -> float:
    return math.log(x) if x > 0 else -math.inf


def information_criteria(ll: float, parms: int, n: int) -> tuple[float, float, float]:
    """AIC, BIC and AICc as metafor's fitstats (n = k for ML, k - p for REML)."""
    aic = -2.0 * ll + 2.0 * parms
    bic = -2.0 * ll + parms * _log_or_minus_inf(n)
    m = max(n, parms + 2)
    aicc = -2.0 * ll + 2.0 * parms * m / (m - parms - 1)
    return aic, bic, aicc


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
        q = q_stat(y, v, 0.0)
        q_p = float(special.chdtrc(k - 1, q))
        if fixed:
            i2 = max(0.0, 100.0 * (q - (k - 1)) / q) if q > 0 else 0.0
            h2 = q / (k - 1)
        else:
            # Higgins & Thompson 2002 with metafor's "typical" variance vt = (k-1)/tr(P).
            vt = typical_variance(v)
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
