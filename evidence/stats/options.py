"""Options, tolerances and input checks shared by the univariate engines.

``pool`` (univariate.py), ``pool_cells`` (cells.py), ``tau2_ci`` (confint.py) and the
small-study tests (pubbias.py) accept the same tau² methods and tests, check their
input the same way and stop their iterations by the same rules. Those definitions live
here, below all of them, so that none has to import another for them.

Nothing here computes an estimate; the multilevel engine (clustered.py) has options of
its own.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .results import FloatArray, StatsError

__all__ = [
    "DEFAULT_MAX_ITER",
    "FIXED_METHODS",
    "LL_TOL",
    "METHODS",
    "RSS_ZERO",
    "STEP_TOL",
    "TESTS",
    "check_inputs",
    "check_options",
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
