"""Egger's regression test for every cell of a map at once: the vectorised twin of
:func:`evidence.stats.pubbias.egger_test`.

``egger_tests`` gives, for each cell, what ``egger_test`` gives for that cell's effect
sizes alone (to rounding error): metafor's ``regtest``, by default the mixed-effects
meta-regression yi ~ 1 + sei with REML tau² and a z test of the slope. The scalar
function fits the regression with k x k projection matrices; here the model has two
coefficients (intercept and predictor), so everything it needs is a per-cell sum.

With weights w, weighted means x̄ = Σwx/Σw, ȳ = Σwy/Σw and x̃ = x - x̄, the weighted
least-squares fit is b1 = Σwx̃y/Sxx (Sxx = Σwx̃²), b0 = ȳ - b1 x̄, with
Var(b1) = 1/Sxx and Var(b0) = 1/Σw + x̄²/Sxx (the diagonal of (X'WX)⁻¹). In that
centred basis X(X'WX)⁻¹X' = 11'/Σw + x̃x̃'/Sxx, so for P = W - WX(X'WX)⁻¹X'W and the
residuals r = y - Xb:

* y'Py = Σwr², Py = Wr, y'P²y = Σw²r²;
* tr(P) = Σw - Σw²/Σw - Σw²x̃²/Sxx;
* tr(P²) = Σw² - 2 (Σw³/Σw + Σw³x̃²/Sxx)
  + (Σw²/Σw)² + 2 (Σw²x̃)²/(Σw Sxx) + (Σw²x̃²/Sxx)²;
* y'P³y = (Wr)'P(Wr) = Σw³r² - (Σw²r)²/Σw - (Σw²x̃r)²/Sxx;
* log|X'WX| = log Σw + log Sxx.

Each is a segment sum over the effect sizes sorted by cell (cells_tau2.Segments), so
memory and time are O(k) per cell. The tau² estimators are those of
pubbias._regression_tau2 written in these sums (HE with w = 1 is ordinary least
squares); PM, EB, ML and REML iterate for all cells together with
cells_tau2.solve_roots, the vectorised find_root.

A cell whose test cannot be computed (bad input, fewer than 3 effect sizes, equal
sampling variances so that the predictor is constant, no convergence) is left out of
the result, with the reason egger_test would raise for it in ``errors``; it never
stops the other cells. Not here: the scalar test, the other small-study methods
(pubbias.py).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import special

from .cells_tau2 import ROOT_FOUND, CellData, CellEquation, Segments, solve_roots
from .grouping import factorize
from .options import DEFAULT_MAX_ITER, FIXED_METHODS, LL_TOL, RSS_ZERO, check_options
from .pubbias import EggerTest
from .results import BoolArray, ConvergenceError, FloatArray, IntArray, StatsError

__all__ = ["egger_tests"]

_EPS = float(np.finfo(np.float64).eps)
_P = 2  # coefficients of the regression: intercept and predictor


# --------------------------------------------------------------------------------------
# weighted least squares on (1, x), per cell
# --------------------------------------------------------------------------------------


@dataclass
class _Fit:
    """Weighted least squares of y on (1, x) in every cell, at per-row weights w."""

    w: FloatArray  # per row
    sw: FloatArray  # Σw
    mean_x: FloatArray  # weighted mean of x
    mean_y: FloatArray
    sxx: FloatArray  # Σw x̃²
    slope: FloatArray
    xt: FloatArray  # x̃ = x - weighted mean, per row
    r: FloatArray  # residual, per row


def _wls(d: CellData, w: FloatArray) -> _Fit:
    assert d.x is not None
    seg = d.seg
    sw, swx, swy = seg.sum(np.stack([w, w * d.x, w * d.y]))
    mean_x, mean_y = swx / sw, swy / sw
    xt = d.x - seg.spread(mean_x)
    yt = d.y - seg.spread(mean_y)
    wxt = w * xt
    sxx, sxy = seg.sum(np.stack([wxt * xt, wxt * yt]))
    slope = sxy / sxx
    r = yt - seg.spread(slope) * xt
    return _Fit(w, sw, mean_x, mean_y, sxx, slope, xt, r)


def _weights(d: CellData, tau2: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (d.v + d.seg.spread(tau2)))


def _rss(d: CellData, f: _Fit) -> FloatArray:
    """y'Py = Σ w r²."""
    return np.asarray(d.seg.sum(f.w * f.r * f.r))


def _trace_p(d: CellData, f: _Fit) -> FloatArray:
    w2 = f.w * f.w
    sw2, sw2x2 = d.seg.sum(np.stack([w2, w2 * f.xt * f.xt]))
    return np.asarray(f.sw - sw2 / f.sw - sw2x2 / f.sxx)


def _log_likelihood(d: CellData, tau2: FloatArray, *, restricted: bool) -> FloatArray:
    """pubbias._regression_likelihood per cell (up to the same constants)."""
    f = _wls(d, _weights(d, tau2))
    sum_log, rss = d.seg.sum(np.stack([np.log(d.v + d.seg.spread(tau2)), f.w * f.r * f.r]))
    ll = -0.5 * sum_log - 0.5 * rss
    if restricted:
        ll -= 0.5 * (np.log(f.sw) + np.log(f.sxx))
    return np.asarray(ll)


# --------------------------------------------------------------------------------------
# tau² of the meta-regression, every cell at once
# --------------------------------------------------------------------------------------


def _pm_equation(d: CellData, t: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Paule-Mandel: g = y'Py - (k - p), slope -y'P²y."""
    f = _wls(d, _weights(d, t))
    wr2 = f.w * f.r * f.r
    rss, slope = d.seg.sum(np.stack([wr2, f.w * wr2]))
    return rss - (d.k - _P), -slope


def _likelihood_equation(restricted: bool) -> CellEquation:
    """ML / REML: twice the score, g = y'P²y - tr(P) (REML) or - Σw (ML), and the
    Newton slope of pubbias._regression_tau2 (twice the second derivative where it is
    negative, else minus twice the Fisher information tr(P²) or Σw²)."""

    def equation(d: CellData, t: FloatArray) -> tuple[FloatArray, FloatArray]:
        f = _wls(d, _weights(d, t))
        w, xt, r = f.w, f.xt, f.r
        w2 = w * w
        w3 = w2 * w
        w2r = w2 * r
        w2x = w2 * xt
        sums = d.seg.sum(
            np.stack([w2r * r, w3 * r * r, w2r, w2r * xt, w2, w3, w2x, w2x * xt, w3 * xt * xt])
        )
        yppy, w3r2, sw2r, sw2xr, sw2, sw3, sw2x, sw2x2, sw3x2 = sums
        sw, sxx = f.sw, f.sxx
        ypppy = w3r2 - sw2r * sw2r / sw - sw2xr * sw2xr / sxx
        if restricted:
            trace_p = sw - sw2 / sw - sw2x2 / sxx
            info = (
                sw2
                - 2.0 * (sw3 / sw + sw3x2 / sxx)
                + (sw2 / sw) ** 2
                + 2.0 * sw2x * sw2x / (sw * sxx)
                + (sw2x2 / sxx) ** 2
            )
            g = yppy - trace_p
        else:
            info = sw2
            g = yppy - sw
        curvature = info - 2.0 * ypppy
        return g, np.where(curvature < 0.0, curvature, -info)

    return equation


def _hedges(d: CellData) -> FloatArray:
    """HE: (residual SS of ordinary least squares - Σ(1 - h_i) v_i) / (k - p), >= 0,
    with the OLS leverages h_i = 1/k + x̃_i²/Σx̃²."""
    f = _wls(d, np.ones_like(d.y))
    rss, sv, sx2v = d.seg.sum(np.stack([f.r * f.r, d.v, f.xt * f.xt * d.v]))
    leverage_v = sv / d.k + sx2v / f.sxx
    return np.asarray(np.maximum(0.0, (rss - (sv - leverage_v)) / (d.k - _P)))


def _regression_tau2(
    d: CellData, method: str, max_iter: int
) -> tuple[FloatArray, BoolArray]:
    """tau² per cell as pubbias._regression_tau2, and which cells failed to converge."""
    n_cells = d.k.shape[0]
    failed = np.zeros(n_cells, dtype=bool)
    k = d.k
    if method in FIXED_METHODS:
        return np.zeros(n_cells), failed
    if method in ("HE", "ML", "REML"):
        hedges = _hedges(d)
        if method == "HE":
            return hedges, failed
    if method in ("DL", "HS", "HSk"):
        f = _wls(d, 1.0 / d.v)
        rss = _rss(d, f)
        if method == "DL":
            return np.maximum(0.0, (rss - (k - _P)) / _trace_p(d, f)), failed
        factor = k / (k - _P) if method == "HSk" else 1.0
        return np.maximum(0.0, (factor * rss - k) / f.sw), failed
    if method == "SJ":
        sy = d.seg.sum(d.y)
        centred = d.y - d.seg.spread(sy / k)
        tau0 = d.seg.sum(centred * centred) / k  # var(yi) (k-1)/k, ignoring the moderator
        rss = _rss(d, _wls(d, _weights(d, tau0)))
        return np.maximum(0.0, tau0 * rss / (k - _P)), failed

    tau2 = np.zeros(n_cells)
    if method in ("PM", "EB"):
        todo = np.flatnonzero(_rss(d, _wls(d, 1.0 / d.v)) > k - _P)
        start = np.zeros(todo.shape[0])
        equation: CellEquation = _pm_equation
    else:
        todo = np.arange(n_cells)
        start = hedges
        equation = _likelihood_equation(method == "REML")
    if todo.shape[0]:
        sub = d if todo.shape[0] == n_cells else d.subset(todo)
        root, _, status = solve_roots(sub, start, equation, max_iter=max_iter)
        tau2[todo] = root
        failed[todo] = status != ROOT_FOUND
    if method in ("ML", "REML"):
        # metafor's ll0check: tau² = 0 when its log-likelihood is higher than the root's.
        restricted = method == "REML"
        at_zero = _log_likelihood(d, np.zeros(n_cells), restricted=restricted)
        at_root = _log_likelihood(d, np.where(failed, 0.0, tau2), restricted=restricted)
        tau2 = np.where((tau2 > 0.0) & (at_zero - at_root > LL_TOL), 0.0, tau2)
    return tau2, failed


# --------------------------------------------------------------------------------------
# which cells can be tested
# --------------------------------------------------------------------------------------


def _input_problems(
    y: FloatArray, v: FloatArray, row_cell: IntArray, starts: IntArray
) -> dict[int, StatsError]:
    """check_inputs' refusal for each cell with a bad value (positions within the cell):
    its first non-finite yi, else its first vi that is not finite and > 0."""
    problems: dict[int, StatsError] = {}
    bad_v = np.flatnonzero(~(np.isfinite(v) & (v > 0)))
    bad_y = np.flatnonzero(~np.isfinite(y))
    for bad, values, name, complaint in (
        (bad_v, v, "vi", ": sampling variances must be finite and > 0"),
        (bad_y, y, "yi", " is not a finite number"),  # overrides: yi are checked first
    ):
        first = bad[np.unique(row_cell[bad], return_index=True)[1]]
        for row in first.tolist():
            cell = int(row_cell[row])
            where = row - int(starts[cell])
            problems[cell] = StatsError(f"{name}[{where}] = {float(values[row])!r}{complaint}")
    return problems


def _rank_deficient(d: CellData) -> BoolArray:
    """np.linalg.matrix_rank([1, x]) < 2 per cell, from the singular values of the k x 2
    matrix (σ² the eigenvalues of X'X, whose determinant is k Σ(x - mean)²), with
    numpy's tolerance σ_max k eps; a constant x is caught exactly."""
    assert d.x is not None
    seg, k, x = d.seg, d.k, d.x
    lowest = np.minimum.reduceat(x, seg.starts)
    highest = np.maximum.reduceat(x, seg.starts)
    sx, sxx_raw = seg.sum(np.stack([x, x * x]))
    centred = x - seg.spread(sx / k)
    det = k * seg.sum(centred * centred)
    trace = k + sxx_raw
    top = 0.5 * (trace + np.sqrt(np.maximum(trace * trace - 4.0 * det, 0.0)))
    low = det / top
    return np.asarray((lowest == highest) | (np.sqrt(low) <= np.sqrt(top) * k * _EPS))


# --------------------------------------------------------------------------------------
# egger_tests
# --------------------------------------------------------------------------------------


def egger_tests(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    cell: Iterable[Hashable] | npt.NDArray[Any],
    *,
    model: Literal["rma", "lm"] = "rma",
    predictor: Literal["sei", "vi"] = "sei",
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    max_iter: int = DEFAULT_MAX_ITER,
    errors: dict[Hashable, str] | None = None,
) -> dict[Hashable, EggerTest]:
    """Egger's regression test in every cell: ``{cell label: EggerTest}``.

    Each result equals ``egger_test(yi[cell == c], vi[cell == c], model=...,
    predictor=..., method=..., test=..., level=..., max_iter=...)``; see that function
    for the model. Cells come in the order of ``factorize`` (sorted labels for a numeric
    array, first appearance otherwise).

    Options that no cell can use (unknown model, predictor, method or test, a level
    outside (0, 1)) and inputs of mismatched lengths raise StatsError. A cell whose
    test cannot be computed is left out of the result, and when an ``errors`` dict is
    passed the reason egger_test would raise for that cell ("StatsError: ..." or
    "ConvergenceError: ...") is stored under its label.
    """
    check_options(method, test, level)
    if model not in ("rma", "lm"):
        raise StatsError(f"unknown model {model!r}; choose 'rma' or 'lm'")
    if predictor not in ("sei", "vi"):
        raise StatsError(f"unknown predictor {predictor!r}; choose 'sei' or 'vi'")
    try:
        y_in = np.asarray(yi, dtype=np.float64)
        v_in = np.asarray(vi, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"yi and vi must be numeric: {exc}") from exc
    if y_in.ndim != 1 or v_in.ndim != 1:
        raise StatsError(
            f"yi and vi must be one-dimensional (got shapes {y_in.shape} and {v_in.shape})"
        )
    if y_in.shape[0] != v_in.shape[0]:
        raise StatsError(
            f"yi and vi differ in length ({y_in.shape[0]} effect sizes, "
            f"{v_in.shape[0]} variances)"
        )
    codes, labels = factorize(cell, "cell")
    if codes.shape[0] != y_in.shape[0]:
        raise StatsError(f"cell has {codes.shape[0]} labels for {y_in.shape[0]} effect sizes")
    if not labels:
        return {}

    # Sort by cell once (stable: input order within a cell); cells are segments.
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=len(labels)).astype(np.intp)
    y, v = y_in[order], v_in[order]
    seg = Segments.of(counts)
    problems = _input_problems(y, v, np.repeat(np.arange(len(labels)), counts), seg.starts)
    for small in np.flatnonzero(counts < 3).tolist():
        problems.setdefault(
            small,
            StatsError(
                f"Egger's regression test needs at least 3 effect sizes (k = {counts[small]})"
            ),
        )
    usable = np.ones(len(labels), dtype=bool)
    usable[list(problems)] = False
    cells = np.flatnonzero(usable)
    if cells.size:
        d = CellData(y, v, seg, counts.astype(np.float64)).subset(cells)
        d.x = np.sqrt(d.v) if predictor == "sei" else d.v
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            deficient = _rank_deficient(d)
        for cell_index in cells[deficient].tolist():
            problems[cell_index] = StatsError(
                "the model matrix is not of full rank (are all sampling variances equal?)"
            )
        if deficient.any():
            cells = cells[~deficient]
            d = d.subset(np.flatnonzero(~deficient))
    # k >= 3 = p + 1 here, so the scalar's count of parameters never refuses a cell.

    results: dict[Hashable, EggerTest] = {}
    if cells.size:
        fit_method = method if model == "rma" else "EE"
        fit_test = test if model == "rma" else "knha"
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            tau2, failed = _regression_tau2(d, fit_method, max_iter)
            columns = _tests(d, np.where(failed, 0.0, tau2), fit_test, level)
        for cell_index in cells[failed].tolist():
            problems[cell_index] = ConvergenceError(
                f"{fit_method} estimator of tau² did not converge within {max_iter} iterations"
            )
        reported_method = method if model == "rma" else None
        reported_test = test if model == "rma" else "t"
        rows = zip(
            cells.tolist(),
            failed.tolist(),
            d.k.tolist(),
            tau2.tolist(),
            *(columns[name].tolist() for name in _COLUMNS),
            strict=True,
        )
        for cell_index, fail, k, t2, stat, df, p, b0, lo, hi, b1, se0, se1 in rows:
            if fail:
                continue
            results[labels[cell_index]] = EggerTest(
                model=model,
                predictor=predictor,
                method=reported_method,
                test=reported_test,
                k=int(k),
                statistic=stat,
                df=None if np.isnan(df) else df,
                p_value=p,
                limit_estimate=b0,
                limit_ci_low=lo,
                limit_ci_high=hi,
                coefficients=(b0, b1),
                coefficient_se=(se0, se1),
                tau2=t2 if model == "rma" else None,
            )
    if errors is not None:
        for cell_index in sorted(problems):
            problem = problems[cell_index]
            errors[labels[cell_index]] = f"{type(problem).__name__}: {problem}"
    # Cells in label order, as pool_cells returns them.
    return {label: results[label] for label in labels if label in results}


# Order of the per-cell columns of _tests.
_COLUMNS = ("statistic", "df", "p_value", "b0", "ci_low", "ci_high", "b1", "se0", "se1")


def _tests(d: CellData, tau2: FloatArray, test: str, level: float) -> dict[str, FloatArray]:
    """The fit at tau² and the tests of its coefficients, as pubbias._fit_regression
    (df NaN for the z test)."""
    f = _wls(d, _weights(d, tau2))
    b1 = f.slope
    b0 = f.mean_y - b1 * f.mean_x
    var0 = 1.0 / f.sw + f.mean_x * f.mean_x / f.sxx
    var1 = 1.0 / f.sxx
    s2w = np.ones_like(d.k)
    if test in ("knha", "adhoc"):
        rss = _rss(d, f)
        s2w = np.where(rss <= RSS_ZERO, 0.0, rss / (d.k - _P))
        if test == "adhoc":
            s2w = np.maximum(s2w, 1.0)
    se0, se1 = np.sqrt(s2w * var0), np.sqrt(s2w * var1)
    statistic = b1 / se1
    alpha = 1.0 - level
    if test in ("t", "knha", "adhoc"):
        df = d.k - _P
        p_value = 2.0 * special.stdtr(df, -np.abs(statistic))
        crit = -special.stdtrit(df, alpha / 2.0)
    else:
        df = np.full_like(d.k, np.nan)
        p_value = 2.0 * special.ndtr(-np.abs(statistic))
        crit = np.full_like(d.k, -special.ndtri(alpha / 2.0))
    return {
        "statistic": statistic,
        "df": df,
        "p_value": p_value,
        "b0": b0,
        "ci_low": b0 - crit * se0,
        "ci_high": b0 + crit * se0,
        "b1": b1,
        "se0": se0,
        "se1": se1,
    }
