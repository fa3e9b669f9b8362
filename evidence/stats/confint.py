"""Confidence intervals for tau² (and tau, I², H²): metafor's ``confint(rma(...))``.

``tau2_ci`` gives the Q-profile interval (Viechtbauer 2007) for every random-effects
method, or the profile-likelihood interval (Hardy & Thompson 1996) for ML and REML
fits, over metafor's search range [0, max(100, 10 tau²)]. The point estimates beside
the limits are those ``pool`` reports for the same data and method.

Not here: the tau² estimators and the generalised Q and log-likelihood the intervals
invert (tau2.py). ``tau2_ci`` is re-exported by univariate.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy.typing as npt
from scipy import optimize, special

from .options import FIXED_METHODS, RSS_ZERO, check_inputs, check_options
from .results import FloatArray, StatsError
from .tau2 import estimate_tau2, log_likelihoods, q_stat, typical_variance

__all__ = ["Tau2Interval", "tau2_ci"]


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
    q_min = q_stat(y, v, 0.0)
    q_max = q_stat(y, v, tau2_max)
    scale = float(v.mean())
    lb_sign = ub_sign = ""
    ci_null = False

    def q_minus(target: float) -> Callable[[float], float]:
        return lambda t: q_stat(y, v, t) - target

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

    # The point estimate pool() reports (its I² and H² below use the same formulas).
    tau2_hat = estimate_tau2(y, v, method)[0]
    tau2_max = max(100.0, 10.0 * tau2_hat)
    ci_null = False
    if kind == "QP":
        low, high, lb_sign, ub_sign, ci_null = _q_profile(y, v, level, tau2_max)
    else:
        low, high, lb_sign, ub_sign = _profile_likelihood(
            y, v, tau2_hat, level, restricted=method == "REML", tau2_max=tau2_max
        )

    vt = typical_variance(v)

    def i2_of(t: float) -> float:
        return 100.0 * t / (vt + t)

    def h2_of(t: float) -> float:
        return t / vt + 1.0

    return Tau2Interval(
        method=method,
        kind=kind,
        level=level,
        tau2=tau2_hat,
        tau2_low=low,
        tau2_high=high,
        tau=math.sqrt(tau2_hat),
        tau_low=math.sqrt(low),
        tau_high=math.sqrt(high),
        i2=i2_of(tau2_hat),
        i2_low=i2_of(low),
        i2_high=i2_of(high),
        h2=h2_of(tau2_hat),
        h2_low=h2_of(low),
        h2_high=h2_of(high),
        lb_sign=lb_sign,
        ub_sign=ub_sign,
        ci_null=ci_null,
    )
