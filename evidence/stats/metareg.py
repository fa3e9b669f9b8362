"""Meta-regression and subgroup analysis of independent effect sizes.

``meta_regression`` is metafor's ``rma.uni(yi, vi, mods = ...)``: a mixed-effects
(or, with EE/FE, fixed-effect) weighted regression of the effect sizes on one or
several moderators (design.py builds the model matrix), tau² by DL, HE, ML or REML,
coefficient tests by z or Knapp-Hartung (``knha``: t on k - p df, variances scaled by
s² = RSS/(k - p), the omnibus test an F on (m, k - p) df), QE, I², R².
``meta_regression_cells`` fits the same model in every cell of a map at once; the fit
itself is always the batched one (a single fit is a map of one cell).

The batched fit generalises the two-coefficient regression of egger_cells.py to p
coefficients: with W = diag(w), M = (X'WX)⁻¹, b = M X'Wy, r = y - Xb and
P = W - WX M X'W, every quantity REML needs is a per-cell sum:

* y'Py = Σ w r², y'P²y = Σ w² r², y'P³y = Σ w³ r² - u'Mu with u = X'W²r;
* tr(P) = Σ w - tr(M X'W²X);
* tr(P²) = Σ w² - 2 tr(M X'W³X) + tr((M X'W²X)²);
* log|X'WX| from the p x p blocks.

The per-cell p x p matrices are stacked, so numpy inverts them all in one call, and the
REML and ML score equations are solved for all cells together by
cells_tau2.solve_roots (metafor's Fisher scoring start at the HE estimate, then
safeguarded Newton, and its ll0check).

``subgroup_analysis`` fits each level of a grouping separately (its own tau², with
``pool_cells``) and tests that the level estimates are equal with the fixed-effect Q
between them (metafor: the QM of ``rma(estimates, sei = se, mods = ~ level, method =
"FE")``). Not here: several effect sizes per study (metareg_clustered.py).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from .cells import pool_cells
from .cells_tau2 import ROOT_FOUND, CellData, Segments, solve_roots
from .design import Design, Moderators, build_design
from .grouping import factorize, is_missing
from .options import DEFAULT_MAX_ITER, FIXED_METHODS, LL_TOL, RSS_ZERO, check_inputs
from .results import BoolArray, ConvergenceError, FloatArray, PoolResult, StatsError

__all__ = [
    "REGRESSION_METHODS",
    "REGRESSION_TESTS",
    "MetaRegression",
    "SubgroupAnalysis",
    "meta_regression",
    "meta_regression_cells",
    "subgroup_analysis",
    "subgroup_analysis_cells",
]

REGRESSION_METHODS: tuple[str, ...] = ("EE", "FE", "DL", "HE", "ML", "REML")
REGRESSION_TESTS: tuple[str, ...] = ("z", "t", "knha")


@dataclass(frozen=True, kw_only=True)
class MetaRegression:
    """A fitted meta-regression, with the numbers metafor prints for it.

    Arrays are per coefficient (``coef_names``; the first is the intercept). ``df`` is
    None for the z test, else k - p. ``qm`` tests every coefficient but the intercept:
    a chi² on ``qm_df`` df (z) or an F on (``qm_df``, ``qm_df_denom``) df (knha, t).
    ``qe`` is the test of residual heterogeneity on ``qe_df`` = k - p df. ``i2`` and
    ``r2`` are percentages; ``r2`` is the share of the intercept-only model's tau²
    that the moderators account for (for EE/FE, the adjusted R² of the weighted
    regression), as metafor reports it.
    """

    method: str
    test: str
    level: float
    k: int
    coef_names: tuple[str, ...]
    b: FloatArray
    se: FloatArray
    statistic: FloatArray
    p_value: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    df: float | None
    qm: float
    qm_df: int
    qm_df_denom: float | None
    qm_p: float
    qe: float
    qe_df: int
    qe_p: float
    tau2: float
    i2: float
    r2: float
    s2w: float = 1.0
    vcov: FloatArray = field(repr=False)
    levels: dict[str, list[Any]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SubgroupAnalysis:
    """Each level pooled separately, and the test that the level estimates are equal.

    ``groups`` maps each level (in ``levels`` order, sorted) to its own pooled result;
    ``q_between`` is the fixed-effect Q of the level estimates (weights 1/se²), a chi²
    on ``df`` = levels - 1 with ``p_value``.
    """

    method: str
    levels: list[Hashable]
    groups: dict[Hashable, PoolResult]
    q_between: float
    df: int
    p_value: float


# --------------------------------------------------------------------------------------
# the batched weighted regression
# --------------------------------------------------------------------------------------


def _cell_sum(d: CellData, values: FloatArray) -> FloatArray:
    """Per-cell sums along the first axis (rows sorted by cell)."""
    return np.asarray(np.add.reduceat(values, d.seg.starts, axis=0))


def _cross(d: CellData, w: FloatArray) -> FloatArray:
    """X'diag(w)X per cell: (cells, p, p)."""
    x = _x(d)
    return _cell_sum(d, w[:, None, None] * x[:, :, None] * x[:, None, :])


def _x(d: CellData) -> FloatArray:
    assert d.x is not None and d.x.ndim == 2
    return d.x


@dataclass(frozen=True)
class _Fit:
    w: FloatArray
    sw: FloatArray
    m: FloatArray  # (X'WX)⁻¹ per cell
    b: FloatArray  # (cells, p)
    r: FloatArray  # residuals per row
    logdet: FloatArray  # log|X'WX| per cell


def _wls(d: CellData, w: FloatArray) -> _Fit:
    x = _x(d)
    xwx = _cross(d, w)
    sign, logdet = np.linalg.slogdet(xwx)
    m = np.asarray(np.linalg.inv(xwx), dtype=np.float64)
    xwy = _cell_sum(d, (w * d.y)[:, None] * x)
    b = np.einsum("cij,cj->ci", m, xwy)
    r = d.y - np.einsum("ni,ni->n", x, np.repeat(b, d.seg.counts, axis=0))
    return _Fit(w, d.seg.sum(w), m, b, r, np.where(sign > 0, logdet, np.nan))


def _weights(d: CellData, tau2: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (d.v + d.seg.spread(tau2)))


def _trace(a: FloatArray) -> FloatArray:
    return np.asarray(np.trace(a, axis1=1, axis2=2))


def _trace_p(d: CellData, f: _Fit) -> FloatArray:
    return np.asarray(f.sw - _trace(f.m @ _cross(d, f.w * f.w)))


def _p(d: CellData) -> int:
    return int(_x(d).shape[1])


def _likelihood_equation(restricted: bool, *, fisher: bool = False) -> Any:
    """Twice the (restricted) score in tau² and its Newton slope, for every cell: the
    p-coefficient form of egger_cells._likelihood_equation (true Newton where the
    curvature is negative, otherwise Fisher scoring; always Fisher scoring with
    ``fisher``)."""

    def equation(d: CellData, t: FloatArray) -> tuple[FloatArray, FloatArray]:
        f = _wls(d, _weights(d, t))
        w, r = f.w, f.r
        w2 = w * w
        w3 = w2 * w
        yppy, w3r2, sw2 = d.seg.sum(np.stack([w2 * r * r, w3 * r * r, w2]))
        u = _cell_sum(d, (w2 * r)[:, None] * _x(d))
        ypppy = w3r2 - np.einsum("ci,cij,cj->c", u, f.m, u)
        if restricted:
            ma2 = f.m @ _cross(d, w2)
            trace_p = f.sw - _trace(ma2)
            info = sw2 - 2.0 * _trace(f.m @ _cross(d, w3)) + _trace(ma2 @ ma2)
            g = yppy - trace_p
        else:
            info = sw2
            g = yppy - f.sw
        if fisher:
            return g, -info
        curvature = info - 2.0 * ypppy
        return g, np.where(curvature < 0.0, curvature, -info)

    return equation


def _log_likelihood(d: CellData, tau2: FloatArray, *, restricted: bool) -> FloatArray:
    """(Restricted) log-likelihood per cell, up to constants equal at every tau²."""
    f = _wls(d, _weights(d, tau2))
    sum_log, rss = d.seg.sum(np.stack([np.log(d.v + d.seg.spread(tau2)), f.w * f.r * f.r]))
    ll = -0.5 * sum_log - 0.5 * rss
    if restricted:
        ll = ll - 0.5 * f.logdet
    return np.asarray(ll)


def _hedges(d: CellData) -> FloatArray:
    """HE: (OLS residual SS - Σ(1 - h_i) v_i) / (k - p), >= 0 (h the OLS leverages)."""
    f = _wls(d, np.ones_like(d.y))
    x = _x(d)
    leverage = np.einsum("ni,nij,nj->n", x, np.repeat(f.m, d.seg.counts, axis=0), x)
    rss, slack = d.seg.sum(np.stack([f.r * f.r, (1.0 - leverage) * d.v]))
    return np.asarray(np.maximum(0.0, (rss - slack) / (d.k - _p(d))))


def _tau2(d: CellData, method: str, max_iter: int) -> tuple[FloatArray, BoolArray]:
    """tau² of the regression per cell, and which cells failed to converge."""
    n_cells = d.k.shape[0]
    failed = np.zeros(n_cells, dtype=bool)
    if method in FIXED_METHODS:
        return np.zeros(n_cells), failed
    if method == "HE":
        return _hedges(d), failed
    if method == "DL":
        f = _wls(d, 1.0 / d.v)
        rss = d.seg.sum(f.w * f.r * f.r)
        return np.maximum(0.0, (rss - (d.k - _p(d))) / _trace_p(d, f)), failed
    restricted = method == "REML"
    start = _hedges(d)
    root, _, status = solve_roots(d, start, _likelihood_equation(restricted), max_iter=max_iter)
    failed = status != ROOT_FOUND
    tau2 = np.where(failed, 0.0, root)
    # Where Newton went from a positive start to the boundary, the inner root that
    # metafor's Fisher scoring stops at, if any (see cells_tau2._fisher_retry); the
    # ll0check below chooses between the two.
    retry = np.flatnonzero(~failed & (tau2 == 0.0) & (start > 0.0))
    if retry.size:
        sub = d.subset(retry)
        inner, _, inner_status = solve_roots(
            sub, start[retry], _likelihood_equation(restricted, fisher=True), max_iter=max_iter
        )
        found = (inner_status == ROOT_FOUND) & (inner > 0.0)
        tau2[retry[found]] = inner[found]
    # metafor's ll0check: tau² = 0 when its log-likelihood is higher than the root's.
    at_zero = _log_likelihood(d, np.zeros(n_cells), restricted=restricted)
    at_root = _log_likelihood(d, tau2, restricted=restricted)
    return np.where((tau2 > 0.0) & (at_zero - at_root > LL_TOL), 0.0, tau2), failed


@dataclass(frozen=True)
class _Table:
    """Per-cell results of the batched fit (arrays over cells)."""

    tau2: FloatArray
    failed: BoolArray
    b: FloatArray
    vcov: FloatArray
    s2w: FloatArray
    qm: FloatArray
    qe: FloatArray
    i2: FloatArray
    r2: FloatArray


def _fit_table(d: CellData, method: str, test: str, max_iter: int) -> _Table:
    """Fit every cell of ``d`` (rows sorted by cell, ``d.x`` the model matrix)."""
    p = _p(d)
    k = d.k
    tau2, failed = _tau2(d, method, max_iter)
    f = _wls(d, _weights(d, tau2))
    s2w = np.ones_like(k)
    if test == "knha":
        rss = d.seg.sum(f.w * f.r * f.r)
        s2w = np.where(rss <= RSS_ZERO, 0.0, rss / (k - p))
    vcov = f.m * s2w[:, None, None]
    b_mod = f.b[:, 1:]
    qm = np.einsum("ci,cij,cj->c", b_mod, np.linalg.inv(vcov[:, 1:, 1:]), b_mod)
    # Residual heterogeneity and the I² yardstick use w = 1/v (the fixed-effect fit).
    fixed = _wls(d, 1.0 / d.v)
    qe = d.seg.sum(fixed.w * fixed.r * fixed.r)
    if method in FIXED_METHODS:
        with np.errstate(divide="ignore", invalid="ignore"):
            i2 = np.where(qe > 0.0, np.maximum(0.0, 100.0 * (qe - (k - p)) / qe), 0.0)
        r2 = _fixed_r2(d, qe, k, p)
    else:
        typical = (k - p) / _trace_p(d, fixed)
        i2 = 100.0 * tau2 / (typical + tau2)
        r2 = _random_r2(d, tau2, method, max_iter)
    return _Table(tau2, failed, f.b, vcov, s2w, qm, qe, i2, r2)


def _intercept_only(d: CellData) -> CellData:
    return CellData(d.y, d.v, d.seg, d.k, np.ones((d.y.shape[0], 1)))


def _random_r2(d: CellData, tau2: FloatArray, method: str, max_iter: int) -> FloatArray:
    """metafor's R²: 100 (tau²_0 - tau²) / tau²_0, >= 0, tau²_0 that of the intercept-only
    model by the same method (0 when tau²_0 is 0)."""
    tau2_0, _ = _tau2(_intercept_only(d), method, max_iter)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(tau2_0 > 0.0, (tau2_0 - tau2) / tau2_0, 0.0)
    return np.asarray(np.maximum(0.0, 100.0 * share))


def _fixed_r2(d: CellData, qe: FloatArray, k: FloatArray, p: int) -> FloatArray:
    """metafor's R² of a fixed-effect meta-regression: the adjusted R² of the weighted
    least-squares fit (weights 1/v), >= 0. Its total sum of squares is Cochran's Q."""
    base = _wls(_intercept_only(d), 1.0 / d.v)
    q0 = d.seg.sum(base.w * base.r * base.r)
    with np.errstate(divide="ignore", invalid="ignore"):
        adjusted = np.where(q0 > 0.0, 1.0 - (qe / (k - p)) / (q0 / (k - 1.0)), 0.0)
    return np.asarray(np.maximum(0.0, 100.0 * adjusted))


def _result(
    table: _Table, cell: int, *, design: Design, k: int, method: str, test: str, level: float
) -> MetaRegression:
    p = design.p
    b = table.b[cell].copy()
    vcov = table.vcov[cell].copy()
    se = np.sqrt(np.diag(vcov))
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = b / se
    alpha = 1.0 - level
    m = p - 1
    qm = float(table.qm[cell])
    if test == "z":
        df: float | None = None
        p_value = 2.0 * special.ndtr(-np.abs(statistic))
        crit = float(-special.ndtri(alpha / 2.0))
        qm_denom: float | None = None
        qm_p = float(special.chdtrc(m, qm))
    else:
        df = float(k - p)
        p_value = 2.0 * special.stdtr(df, -np.abs(statistic))
        crit = float(-special.stdtrit(df, alpha / 2.0))
        qm = qm / m
        qm_denom = df
        qm_p = float(special.fdtrc(m, df, qm))
    qe = float(table.qe[cell])
    return MetaRegression(
        method=method,
        test=test,
        level=level,
        k=k,
        coef_names=design.coef_names,
        b=b,
        se=se,
        statistic=statistic,
        p_value=np.asarray(p_value),
        ci_low=b - crit * se,
        ci_high=b + crit * se,
        df=df,
        qm=qm,
        qm_df=m,
        qm_df_denom=qm_denom,
        qm_p=qm_p,
        qe=qe,
        qe_df=k - p,
        qe_p=float(special.chdtrc(k - p, qe)),
        tau2=float(table.tau2[cell]),
        i2=float(table.i2[cell]),
        r2=float(table.r2[cell]),
        s2w=float(table.s2w[cell]),
        vcov=vcov,
        levels=design.levels,
    )


def _check_regression_options(method: str, test: str, level: float) -> None:
    if method not in REGRESSION_METHODS:
        raise StatsError(
            f"unknown method {method!r} for meta-regression; choose one of {REGRESSION_METHODS}"
        )
    if test not in REGRESSION_TESTS:
        raise StatsError(
            f"unknown test {test!r} for meta-regression; choose one of {REGRESSION_TESTS}"
        )
    if not 0.0 < level < 1.0:
        raise StatsError(f"level must be between 0 and 1 (got {level!r})")


# --------------------------------------------------------------------------------------
# public: meta-regression
# --------------------------------------------------------------------------------------


def meta_regression(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    moderator: Moderators,
    *,
    categorical: bool | Collection[str] = False,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    max_iter: int = DEFAULT_MAX_ITER,
) -> MetaRegression:
    """Meta-regression of ``yi`` (sampling variances ``vi``) on ``moderator``.

    ``moderator`` is one moderator's values or a mapping ``{name: values}`` for several;
    ``categorical`` says which are categorical (True/False for all, or their names).
    Categorical moderators use treatment coding with the first level (sorted) as
    reference. Rows with a missing moderator value are left out (``k`` counts the rows
    used). ``method``: EE/FE, DL, HE, ML, REML; ``test``: "z", "t" or "knha"
    (Knapp-Hartung; "t" is the t/F test without the scaling).

    Raises StatsError for unusable input (naming the moderator or effect size), fewer
    effect sizes than coefficients + 1, and ConvergenceError if tau² does not converge.
    """
    _check_regression_options(method, test, level)
    y_all, v_all = check_inputs(yi, vi)
    design = build_design(moderator, y_all.shape[0], categorical=categorical)
    y, v = y_all[design.keep], v_all[design.keep]
    k = int(y.shape[0])
    if k <= design.p:
        raise StatsError(
            f"meta-regression needs more effect sizes with moderator values than "
            f"coefficients: k = {k}, coefficients = {design.p}"
        )
    data = CellData(y, v, Segments.of(np.array([k], dtype=np.intp)), np.array([float(k)]), design.x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        table = _fit_table(data, method, test, max_iter)
    if table.failed[0]:
        raise ConvergenceError(
            f"{method} estimator of tau² did not converge within {max_iter} iterations"
        )
    return _result(table, 0, design=design, k=k, method=method, test=test, level=level)


def meta_regression_cells(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    cell: Iterable[Hashable] | npt.NDArray[Any],
    moderator: Moderators,
    *,
    categorical: bool | Collection[str] = False,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    max_iter: int = DEFAULT_MAX_ITER,
    errors: dict[Hashable, str] | None = None,
) -> dict[Hashable, MetaRegression]:
    """The same meta-regression in every cell of a map at once: ``{cell: result}``.

    The model matrix is built once for all rows (so a categorical moderator has the
    same levels, and the same reference, in every cell). A cell whose own matrix is
    not of full rank (a level or value missing from it) or that has no more effect
    sizes than coefficients is left out, with its reason in ``errors`` when given.
    Each result equals ``meta_regression`` on that cell's rows when the cell holds
    every level.
    """
    _check_regression_options(method, test, level)
    y_all, v_all = check_inputs(yi, vi)
    n = y_all.shape[0]
    codes, labels = factorize(cell, "cell")
    if codes.shape[0] != n:
        raise StatsError(f"cell has {codes.shape[0]} labels for {n} effect sizes")
    design = build_design(moderator, n, categorical=categorical)
    codes = codes[design.keep]
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=len(labels)).astype(np.intp)
    present = np.flatnonzero(counts > 0)
    counts_present = counts[present]
    x = design.x[order]
    data = CellData(
        y_all[design.keep][order],
        v_all[design.keep][order],
        Segments.of(counts_present),
        counts_present.astype(np.float64),
        x,
    )
    problems: dict[int, str] = {}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        ok = _full_rank(data) & (data.k > design.p)
    for i in np.flatnonzero(~ok).tolist():
        problems[int(present[i])] = (
            "StatsError: the moderator does not vary enough in this cell "
            f"(k = {int(counts_present[i])}, coefficients = {design.p})"
        )
    results: dict[Hashable, MetaRegression] = {}
    fit_cells = np.flatnonzero(ok)
    if fit_cells.size:
        sub = data if fit_cells.size == data.k.size else data.subset(fit_cells)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            table = _fit_table(sub, method, test, max_iter)
        for j, i in enumerate(fit_cells.tolist()):
            if table.failed[j]:
                problems[int(present[i])] = (
                    f"ConvergenceError: {method} estimator of tau² did not converge"
                )
                continue
            results[labels[int(present[i])]] = _result(
                table, j, design=design, k=int(sub.k[j]), method=method, test=test, level=level
            )
    if errors is not None:
        for code in sorted(problems):
            errors[labels[code]] = problems[code]
    return {label: results[label] for label in labels if label in results}


def _full_rank(d: CellData) -> BoolArray:
    """Whether each cell's model matrix has full column rank (eigenvalues of X'X against
    numpy's matrix_rank tolerance)."""
    xtx = _cross(d, np.ones_like(d.y))
    values = np.linalg.eigvalsh(xtx)
    top = values[:, -1]
    tol = top * d.k * np.finfo(np.float64).eps
    return np.asarray(values[:, 0] > tol)


# --------------------------------------------------------------------------------------
# public: subgroup analysis
# --------------------------------------------------------------------------------------


def _group_codes(groups: Iterable[Hashable] | npt.NDArray[Any], n: int) -> list[Hashable | None]:
    values = (
        list(np.asarray(groups, dtype=object).ravel())
        if isinstance(groups, np.ndarray)
        else list(groups)
    )
    if len(values) != n:
        raise StatsError(f"groups has {len(values)} labels for {n} effect sizes")
    return [
        None if is_missing(value) or (isinstance(value, str) and not value.strip()) else value
        for value in values
    ]


def _q_between(estimates: FloatArray, se: FloatArray) -> float:
    w = 1.0 / (se * se)
    mean = float(np.dot(w, estimates)) / float(w.sum())
    return float(np.dot(w, (estimates - mean) ** 2))


def subgroup_analysis(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    groups: Iterable[Hashable] | npt.NDArray[Any],
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    max_iter: int = DEFAULT_MAX_ITER,
) -> SubgroupAnalysis:
    """Pool each level of ``groups`` separately and test that the levels agree.

    Rows whose group is missing (None, NaN, "") are left out. Each level is pooled as
    ``pool`` would pool it alone (its own tau²; a level of one effect size has tau² = 0
    and its own sampling variance). Raises StatsError with fewer than two levels.
    """
    y, v = check_inputs(yi, vi)
    return next(
        iter(
            subgroup_analysis_cells(
                y,
                v,
                np.zeros(y.shape[0], dtype=np.intp),
                groups,
                method=method,
                test=test,
                level=level,
                max_iter=max_iter,
            ).values()
        )
    )


def subgroup_analysis_cells(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    cell: Iterable[Hashable] | npt.NDArray[Any],
    groups: Iterable[Hashable] | npt.NDArray[Any],
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    max_iter: int = DEFAULT_MAX_ITER,
) -> dict[Hashable, SubgroupAnalysis]:
    """``subgroup_analysis`` in every cell at once: every (cell, level) pair is pooled in
    one ``pool_cells`` call. A cell with fewer than two levels raises StatsError when it
    is the only cell and is left out otherwise."""
    y_all, v_all = check_inputs(yi, vi)
    n = y_all.shape[0]
    cell_codes, cell_labels = factorize(cell, "cell")
    if cell_codes.shape[0] != n:
        raise StatsError(f"cell has {cell_codes.shape[0]} labels for {n} effect sizes")
    group_values = _group_codes(groups, n)
    keep = np.array([value is not None for value in group_values], dtype=bool)
    kept_groups = [value for value in group_values if value is not None]
    group_codes, group_labels = (
        factorize(kept_groups, "groups")
        if kept_groups
        else (
            np.zeros(0, dtype=np.intp),
            [],
        )
    )
    levels_sorted = _sorted(group_labels)
    rank = {label: i for i, label in enumerate(levels_sorted)}
    level_index = np.array([rank[group_labels[c]] for c in group_codes.tolist()], dtype=np.intp)
    n_levels = len(levels_sorted)
    pair = cell_codes[keep] * max(n_levels, 1) + level_index
    pooled = pool_cells(
        y_all[keep], v_all[keep], pair, method=method, test=test, level=level, max_iter=max_iter
    )
    by_cell: dict[int, list[tuple[int, PoolResult]]] = {}
    for code, result in pooled.items():
        c, lv = divmod(int(code), max(n_levels, 1))  # type: ignore[call-overload]
        by_cell.setdefault(c, []).append((lv, result))
    out: dict[Hashable, SubgroupAnalysis] = {}
    for c, label in enumerate(cell_labels):
        entries = sorted(by_cell.get(c, []), key=lambda item: item[0])
        if len(entries) < 2:
            if len(cell_labels) == 1:
                raise StatsError(
                    f"subgroup analysis needs at least two groups with data (found {len(entries)})"
                )
            continue
        estimates = np.array([res.estimate for _, res in entries])
        se = np.array([res.se for _, res in entries])
        q = _q_between(estimates, se)
        df = len(entries) - 1
        out[label] = SubgroupAnalysis(
            method=method,
            levels=[levels_sorted[lv] for lv, _ in entries],
            groups={levels_sorted[lv]: res for lv, res in entries},
            q_between=q,
            df=df,
            p_value=float(special.chdtrc(df, q)) if math.isfinite(q) else math.nan,
        )
    return out


def _sorted(values: list[Hashable]) -> list[Hashable]:
    try:
        return sorted(values)  # type: ignore[type-var]
    except TypeError:
        return sorted(values, key=str)
