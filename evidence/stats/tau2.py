"""Estimators of the between-study variance tau² for one set of effect sizes.

For the intercept-only model the weighted projection ``P = W - W 1 1' W / sum(w)``
reduces to sums of powers of the weights, so every estimator here is a closed form in
those sums and nothing builds a k x k matrix. The estimates and their standard errors
are those of R metafor 3.8-1 (``rma.uni``); each estimator cites the paper its formula
comes from:

* closed forms: HE (Hedges), DL (DerSimonian-Laird), HS and HSk (Hunter-Schmidt),
  SJ (Sidik-Jonkman);
* roots of estimating equations: PM and EB (Paule-Mandel, Morris), ML and REML, found
  by :func:`find_root`, a safeguarded Newton iteration that runs to machine precision
  or raises :class:`ConvergenceError`;
* EE and FE have no between-study variance (tau² = 0, no SE).

Also here, because the estimators need them: Cochran's generalised Q and the
(restricted) log-likelihood in tau² with the mean profiled out.

Not here: the pooled estimate, its test and fit statistics (univariate.py),
confidence intervals for tau² (confint.py), and the same estimators for many cells at
once (cells_tau2.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .options import DEFAULT_MAX_ITER, FIXED_METHODS, LL_TOL, STEP_TOL
from .results import ConvergenceError, FloatArray, StatsError

__all__ = [
    "EstimatingEquation",
    "estimate_tau2",
    "find_root",
    "log_likelihoods",
    "q_stat",
    "trace_p",
    "trace_pp",
    "typical_variance",
    "weighted_mean",
]

_LOG_2PI = math.log(2.0 * math.pi)


# --------------------------------------------------------------------------------------
# sums that the intercept-only projection matrix reduces to
# --------------------------------------------------------------------------------------


def trace_p(w: FloatArray) -> float:
    """tr(P) for P = W - w w'/sum(w)."""
    sw = float(w.sum())
    return sw - float(np.dot(w, w)) / sw


def trace_pp(w: FloatArray) -> float:
    """tr(PP) = sum(w^2) - 2 sum(w^3)/sum(w) + (sum(w^2)/sum(w))^2."""
    sw = float(w.sum())
    sw2 = float(np.dot(w, w))
    sw3 = float(np.dot(w * w, w))
    return sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2


def weighted_mean(y: FloatArray, w: FloatArray) -> float:
    return float(np.dot(w, y)) / float(w.sum())


def q_stat(y: FloatArray, v: FloatArray, tau2: float) -> float:
    """Generalised Cochran Q: sum w (y - b)^2 with w = 1/(v + tau2) (Q for tau2 = 0)."""
    w = 1.0 / (v + tau2)
    r = y - weighted_mean(y, w)
    return float(np.dot(w, r * r))


def typical_variance(v: FloatArray) -> float:
    """metafor's "typical" sampling variance (k-1)/tr(P) at w = 1/v (Higgins & Thompson
    2002), the yardstick of I² and H²."""
    k: int = v.shape[0]
    return (k - 1) / trace_p(1.0 / v)


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
    q = q_stat(y, v, 0.0)
    tr_p = trace_p(w)
    tau2 = max(0.0, (q - (k - 1)) / tr_p)
    se = math.sqrt(2.0 * (k - 1) + 4.0 * tau2 * tr_p + 2.0 * tau2 * tau2 * trace_pp(w)) / tr_p
    return _Tau2Fit(tau2, se)


def _hunter_schmidt(y: FloatArray, v: FloatArray, *, k_corrected: bool) -> _Tau2Fit:
    """Hunter & Schmidt 2004: (Q - k) / sum(w); HSk scales Q by k/(k-1) (Brannick et al. 2019)."""
    k = y.shape[0]
    w = 1.0 / v
    sw = float(w.sum())
    q = q_stat(y, v, 0.0)
    factor = k / (k - 1) if k_corrected else 1.0
    tau2 = max(0.0, (factor * q - k) / sw)
    spread = 2.0 * (k - 1) + 4.0 * tau2 * trace_p(w) + 2.0 * tau2 * tau2 * trace_pp(w)
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
    q = q_stat(y, v, tau0)
    tau2 = max(0.0, tau0 * q / (k - 1))
    w2 = w * w
    sw2 = float(w2.sum())
    sw2v = float(np.dot(w2, v))
    # tr(PVPV) and sum(PV * P) for the intercept-only P at weights w.
    tr_pvpv = float(np.dot(w2, v * v)) - 2.0 * float(np.dot(w2 * w, v * v)) / sw + (sw2v / sw) ** 2
    sum_pvp = sw2v - 2.0 * float(np.dot(w2 * w, v)) / sw + sw2 * sw2v / (sw * sw)
    spread = 2.0 * tr_pvpv + 4.0 * tau2 * sum_pvp + 2.0 * tau2 * tau2 * trace_pp(w)
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
    if q_stat(y, v, 0.0) > target:

        def equation(t: float) -> tuple[float, float]:
            w = 1.0 / (v + t)
            r = y - weighted_mean(y, w)
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


def _fisher_root(
    y: FloatArray, v: FloatArray, start: float, *, restricted: bool, max_iter: int, name: str
) -> float:
    """The root Fisher scoring reaches from ``start`` (0 if it reaches none)."""
    newton = _likelihood_equation(y, v, restricted=restricted)

    def fisher(t: float) -> tuple[float, float]:
        g, _ = newton(t)
        w = 1.0 / (v + t)
        return g, -(trace_pp(w) if restricted else float(np.dot(w, w)))

    try:
        return find_root(fisher, start, scale=float(v.mean()), max_iter=max_iter, name=name)[0]
    except ConvergenceError:
        return 0.0


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
    if tau2 == 0.0 and start > 0.0:
        # Newton may jump over an inner local maximum that metafor's Fisher scoring stops
        # at (see cells_tau2._fisher_retry); the ll0check below picks between the two.
        tau2 = _fisher_root(y, v, start, restricted=restricted, max_iter=max_iter, name=name)
    index = 1 if restricted else 0
    if tau2 > 0.0 and (
        log_likelihoods(y, v, 0.0)[index] - log_likelihoods(y, v, tau2)[index] > LL_TOL
    ):
        tau2 = 0.0
    w = 1.0 / (v + tau2)
    info = trace_pp(w) if restricted else float(np.dot(w, w))
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
# the (restricted) log-likelihood in tau²
# --------------------------------------------------------------------------------------


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
