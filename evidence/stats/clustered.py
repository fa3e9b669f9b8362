"""Pooling when studies contribute several effect sizes (dependent effects).

A map cell often holds several effect sizes from one study (outcomes, time points,
comparisons). Treating them as independent overstates precision, so each study is
a *cluster* and one of these working models is fitted (intercept only):

========  ==========================================================================
model     what it fits
========  ==========================================================================
``3L``    three-level random-effects model (Konstantopoulos 2011): effect sizes
          within studies, studies within the cell; V = diag(vi). metafor
          ``rma.mv(yi, vi, random = ~1 | cluster/es)``.
``CE``    correlated-effects working model: V imputed with a common correlation
          ``rho`` (clubSandwich ``impute_covariance_matrix``), one between-cluster
          variance. ``rma.mv(yi, V, random = ~1 | cluster)``.
``CHE``   correlated-and-hierarchical-effects working model (Pustejovsky & Tipton
          2022): imputed V plus between- and within-cluster variances.
          ``rma.mv(yi, V, random = ~1 | cluster/es)``. The portal's default.
``CORR``  robumeta ``robu(modelweights = "CORR", rho)``: approximately
          inverse-variance weights for correlated effects, method-of-moments tau²
          (Hedges, Tipton & Johnson 2010).
``HIER``  robumeta ``robu(modelweights = "HIER")``: hierarchical effects weights with
          method-of-moments tau² and omega² (Hedges, Tipton & Johnson 2010).
========  ==========================================================================

The 3L, CE and CHE variance components are REML estimates. Inference is either
model based (``vcov="model"``: z, or t on k - 1 df, as metafor) or cluster-robust
(``vcov="CR2"``): the bias-reduced linearisation sandwich of Bell & McCaffrey
(2002) with the working-model Satterthwaite degrees of freedom (Tipton 2015;
Pustejovsky & Tipton 2018), which is what clubSandwich ``coef_test(vcov = "CR2")``
and robumeta ``small = TRUE`` compute. With ``small=False`` the robust variance is
the CR1 sandwich scaled by J / (J - 1) with t on J - 1 df (metafor
``robust(adjust = TRUE)``, robumeta ``small = FALSE``).

Everything is computed per cluster: the marginal covariance is block diagonal, so
clusters of equal size are stacked into 3-D arrays and handled by batched numpy
linear algebra, and sums over clusters go through ``np.bincount``. No k x k matrix
is ever formed, and many map cells are fitted at once (:func:`pool_cells_clustered`).

Numerical notes. The REML maximisation profiles out the mean and runs Newton steps
with the observed information when it is positive definite and Fisher scoring
otherwise, with step halving and an active set for components at zero, until the
steps are below 1e-10 relative. Effect sizes are centred per cell before fitting;
the model is location invariant, and centring keeps the expanded quadratic forms
free of cancellation.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

from evidence.stats.grouping import factorize
from evidence.stats.results import (
    ClusteredResult,
    ConvergenceError,
    FitStats,
    PoolResult,
    StatsError,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

Model = Literal["CHE", "CE", "3L", "CORR", "HIER"]
Vcov = Literal["CR2", "model"]

MODELS: tuple[str, ...] = ("CHE", "CE", "3L", "CORR", "HIER")
VCOVS: tuple[str, ...] = ("CR2", "model")
_REML_MODELS = ("CHE", "CE", "3L")
_ROBU_MODELS = ("CORR", "HIER")
# Models whose sampling covariance is imputed with a common within-study correlation.
_IMPUTED = ("CHE", "CE", "CORR")

_LOG_2PI = math.log(2.0 * math.pi)
_MAX_ITER = 100
_MAX_HALVING = 40
_MAX_DOUBLING = 6
# Stop when a Newton/Fisher step changes no component by more than this, relative to
# the component (plus a tiny absolute floor in units of the cell's mean vi).
_STEP_TOL = 1e-10
_STEP_FLOOR = 1e-14
# Eigenvalues below this fraction of the largest are treated as zero in inverse square
# roots (clubSandwich uses a pseudo-inverse power as well, with an absolute 1e-12).
_EIG_TOL = 1e-12


# --------------------------------------------------------------------------------------
# Imputed covariance matrix
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockDiagonal:
    """A block-diagonal covariance matrix, one dense block per cluster.

    ``index[j]`` holds the input positions of cluster ``labels[j]``'s rows (in input
    order); ``blocks[j]`` is the covariance among those rows. ``dense()`` expands it
    to the full matrix in the input order (for checks on small inputs only).
    """

    labels: list[Hashable]
    index: list[IntArray]
    blocks: list[FloatArray]
    size: int

    def dense(self) -> FloatArray:
        full = np.zeros((self.size, self.size))
        for rows, block in zip(self.index, self.blocks, strict=True):
            full[np.ix_(rows, rows)] = block
        return full


def impute_covariance(
    vi: npt.ArrayLike, cluster: Iterable[Hashable] | npt.ArrayLike, rho: float
) -> BlockDiagonal:
    """Sampling covariance with a common within-cluster correlation.

    Same as clubSandwich ``impute_covariance_matrix(vi, cluster, r = rho)``:
    V_ii = vi and V_ij = rho * sqrt(vi * vj) for i != j in the same cluster, zero
    across clusters (the "correlated effects" working model of Hedges, Tipton &
    Johnson 2010; Pustejovsky & Tipton 2022).
    """
    v = _as_float_vector(vi, "vi")
    if not np.all(np.isfinite(v)) or np.any(v <= 0.0):
        raise StatsError("vi must be finite and > 0")
    rho = _check_rho(rho, upper_inclusive=True)
    codes, labels = _codes(cluster, v.size, "cluster")
    index: list[IntArray] = []
    blocks: list[FloatArray] = []
    for code in range(len(labels)):
        rows = np.flatnonzero(codes == code)
        sd = np.sqrt(v[rows])
        block = rho * np.outer(sd, sd)
        np.fill_diagonal(block, v[rows])
        index.append(rows)
        blocks.append(block)
    return BlockDiagonal(labels=labels, index=index, blocks=blocks, size=v.size)


# --------------------------------------------------------------------------------------
# Public pooling functions
# --------------------------------------------------------------------------------------


def pool_clustered(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    cluster: Iterable[Hashable] | npt.ArrayLike,
    *,
    model: Model | str = "CHE",
    rho: float = 0.8,
    vcov: Vcov | str = "CR2",
    small: bool = True,
    level: float = 0.95,
    method: str = "REML",
    test: str = "z",
    singletons: Literal["univariate", "raise"] = "univariate",
) -> ClusteredResult:
    """Pool effect sizes of which several may come from the same study (cluster).

    Parameters
    ----------
    yi, vi, cluster
        Effect sizes, their sampling variances (> 0) and the study each belongs to.
    model
        "CHE" (default), "CE", "3L", "CORR" or "HIER"; see the module docstring.
    rho
        Assumed correlation between effect sizes of one study, used by CE, CHE
        (0 <= rho < 1) and CORR (0 <= rho <= 1); ignored by 3L and HIER.
    vcov
        "CR2" (cluster-robust; the only choice for CORR and HIER) or "model".
    small
        With ``vcov="CR2"``: True gives CR2 with Satterthwaite df; False gives
        CR1 (sandwich x J/(J-1)) with t on J - 1 df. Ignored with ``vcov="model"``.
    level
        Confidence level of the CI and prediction interval.
    method, test
        The map's univariate settings. ``test`` ("z" or "t") picks the model-based
        test of 3L/CE/CHE with ``vcov="model"`` (t uses k - 1 df, metafor
        ``test = "t"``). Both are passed to ``evidence.stats.univariate.pool`` when
        every cluster holds a single effect size (see ``singletons``).
    singletons
        When every cluster is a singleton the data are an ordinary univariate
        meta-analysis (and 3L/CHE/HIER cannot separate their two variance
        components). "univariate" (default) pools them with the univariate engine
        and returns it as a ClusteredResult with ``model="univariate"``;
        "raise" raises StatsError instead.

    Returns
    -------
    ClusteredResult
        See :func:`pool_cells_clustered` for what each field holds per model.

    Raises
    ------
    StatsError
        Mismatched lengths, NaN/inf, vi <= 0, unknown options, a single cluster
        (between-cluster variance and CR2 undefined) or all singletons with
        ``singletons="raise"``.
    ConvergenceError
        REML did not converge.
    """
    y = _as_float_vector(yi, "yi")
    cells = np.zeros(y.size, dtype=np.intp)
    out = _pool_cells(
        y,
        vi,
        cells,
        cluster,
        options=_Options.build(model, rho, vcov, small, level, method, test, singletons),
        errors=None,
        single=True,
    )
    return next(iter(out.values()))


def pool_cells_clustered(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    cell: Iterable[Hashable] | npt.ArrayLike,
    cluster: Iterable[Hashable] | npt.ArrayLike,
    *,
    model: Model | str = "CHE",
    rho: float = 0.8,
    vcov: Vcov | str = "CR2",
    small: bool = True,
    level: float = 0.95,
    method: str = "REML",
    test: str = "z",
    singletons: Literal["univariate", "raise"] = "univariate",
    errors: dict[Hashable, str] | None = None,
) -> dict[Hashable, ClusteredResult]:
    """Pool every cell of a map at once; each cell gives what ``pool_clustered`` gives.

    ``cell`` labels the map cell of each effect size and ``cluster`` its study; a
    study appearing in two cells is a separate cluster in each. All cells are fitted
    together: clusters of equal size are stacked across cells, REML iterates for all
    cells simultaneously with a per-cell convergence mask, and per-cell sums use
    ``np.bincount``. The other keywords are as in :func:`pool_clustered`; ``method``
    and ``test`` come from the map's univariate settings and are used only for
    all-singleton cells (and ``test`` for the model-based test).

    Input that no cell can use (mismatched lengths, NaN, vi <= 0, unknown options)
    raises StatsError. A single cell that cannot be pooled does not stop the map: it
    is left out of the result, and when an ``errors`` dict is passed its reason
    ("StatsError: ..." or "ConvergenceError: ...") is stored there under the cell's
    label. Such cells are those with a single cluster of several effect sizes
    (between-cluster variance and CR2 undefined), REML without convergence,
    all-singleton cells with ``singletons="raise"`` and univariate fallbacks that
    fail.

    Fields of each ClusteredResult:

    * ``estimate``, ``se``, ``statistic``, ``p_value``, ``ci_low``, ``ci_high``: the
      pooled mean and its test; ``df`` is None for z, k - 1 for model-based t, the
      Satterthwaite df for CR2 and J - 1 for CR1. ``test`` is "z" or "t"; ``vcov`` is
      "model", "CR2" or "CR1".
    * ``tau2``: between-cluster variance; ``omega2``: within-cluster variance (3L,
      CHE, HIER; None for CE and CORR, which have none). ``tau2_se`` is None.
    * ``pi_low``, ``pi_high``: estimate +- crit * sqrt(se² + tau2 + omega2), crit the
      quantile of the test's own distribution (z, t on k - 1, Satterthwaite or J - 1
      df), as metafor's ``predict`` does for rma.mv.
    * ``q``, ``q_df``, ``q_p``: metafor's QE test of residual heterogeneity under the
      sampling covariance V (diag(vi) for 3L and HIER, imputed with rho otherwise;
      NaN when rho = 1 makes V singular), df k - 1.
    * ``i2``: CORR reports robumeta's I.2; the other models the total I² of
      Nakagawa & Santos (2012) as given on the metafor website,
      100 * s / (s + (k - 1) / tr(P)), s the sum of the variance components,
      P = V⁻¹ - V⁻¹11'V⁻¹ / 1'V⁻¹1. ``h2`` is NaN (not defined for these models).
    * ``weights``: percentage weights in the input order of the cell: the diagonal
      of the inverse marginal covariance (metafor ``weights()``) for 3L/CE/CHE,
      robumeta's ``r.weights`` for CORR/HIER.
    * ``method``: "REML" (3L/CE/CHE) or "MoM" (robumeta's moment estimators);
      ``converged``/``iterations`` describe REML; ``fit_reml``/``fit_ml`` are
      metafor's fit statistics (None for CORR/HIER); ``n_clusters`` is J; ``rho``
      the correlation used (None for 3L and HIER).
    """
    y = _as_float_vector(yi, "yi")
    return _pool_cells(
        y,
        vi,
        cell,
        cluster,
        options=_Options.build(model, rho, vcov, small, level, method, test, singletons),
        errors=errors,
        single=False,
    )


# --------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Options:
    model: str
    rho: float | None
    vcov: str
    small: bool
    level: float
    method: str
    test: str
    singletons: str

    @staticmethod
    def build(
        model: str,
        rho: float,
        vcov: str,
        small: bool,
        level: float,
        method: str,
        test: str,
        singletons: str,
    ) -> _Options:
        if model not in MODELS:
            raise StatsError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
        if vcov not in VCOVS:
            raise StatsError(f"unknown vcov {vcov!r}; choose one of {', '.join(VCOVS)}")
        if model in _ROBU_MODELS and vcov != "CR2":
            raise StatsError(
                f"model {model} (robumeta weights) has only robust inference; use vcov='CR2'"
            )
        if model in _REML_MODELS and vcov == "model" and test not in ("z", "t"):
            raise StatsError(
                f"test {test!r} is not available for a multilevel model; use 'z' or 't'"
            )
        try:
            level_ok = 0.0 < float(level) < 1.0
        except (TypeError, ValueError):
            level_ok = False
        if not level_ok:
            raise StatsError(f"level must be between 0 and 1, got {level!r}")
        if singletons not in ("univariate", "raise"):
            raise StatsError("singletons must be 'univariate' or 'raise'")
        used_rho: float | None = None
        if model in _IMPUTED:
            # V must stay positive definite for CE/CHE; robumeta accepts rho = 1.
            used_rho = _check_rho(rho, upper_inclusive=model == "CORR")
        return _Options(
            model=model,
            rho=used_rho,
            vcov=vcov,
            small=bool(small),
            level=float(level),
            method=method,
            test=test,
            singletons=singletons,
        )


def _check_rho(rho: float, *, upper_inclusive: bool) -> float:
    value = float(rho)
    upper_ok = value <= 1.0 if upper_inclusive else value < 1.0
    if not (math.isfinite(value) and value >= 0.0 and upper_ok):
        bound = "0 <= rho <= 1" if upper_inclusive else "0 <= rho < 1"
        raise StatsError(f"rho must satisfy {bound}, got {rho!r}")
    return value


def _as_float_vector(x: npt.ArrayLike, name: str) -> FloatArray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"{name} must be numbers") from exc
    if arr.ndim != 1:
        raise StatsError(f"{name} must be one-dimensional")
    return arr


def _codes(
    labels: Iterable[Hashable] | npt.ArrayLike, n: int, name: str
) -> tuple[IntArray, list[Hashable]]:
    """Integer codes of cell or cluster labels, one label per effect size required."""
    codes, uniques = factorize(labels, name)
    if codes.size != n:
        raise StatsError(f"{name} has {codes.size} entries, yi has {n}")
    return codes, uniques


# --------------------------------------------------------------------------------------
# Layout: effect sizes sorted by cell and cluster, clusters grouped by size
# --------------------------------------------------------------------------------------


def _group_sum(index: IntArray, values: FloatArray, n: int) -> FloatArray:
    """Sums of values by group index (0..n-1)."""
    return np.asarray(np.bincount(index, weights=values, minlength=n), dtype=np.float64)


@dataclass(frozen=True)
class _Group:
    """All clusters of one size n: their indices and the (m, n) rows they occupy."""

    clusters: IntArray
    rows: IntArray


@dataclass(frozen=True)
class _Layout:
    y: FloatArray  # centred per cell (see the module notes)
    v: FloatArray
    centre: FloatArray  # per cell, added back to the estimate
    position: IntArray  # input position of each sorted row
    row_cell: IntArray
    row_cluster: IntArray
    cluster_cell: IntArray
    cluster_size: IntArray
    n_cells: int
    groups: tuple[_Group, ...]

    @property
    def n_rows(self) -> int:
        return int(self.y.size)

    def cell_sum(self, per_cluster: FloatArray) -> FloatArray:
        return _group_sum(self.cluster_cell, per_cluster, self.n_cells)

    def cell_sum_rows(self, per_row: FloatArray) -> FloatArray:
        return _group_sum(self.row_cell, per_row, self.n_cells)

    def cluster_sum(self, per_row: FloatArray) -> FloatArray:
        return _group_sum(self.row_cluster, per_row, self.cluster_size.size)

    def k(self) -> FloatArray:
        return np.bincount(self.row_cell, minlength=self.n_cells).astype(np.float64)

    def n_clusters(self) -> FloatArray:
        return np.bincount(self.cluster_cell, minlength=self.n_cells).astype(np.float64)


def _layout(y: FloatArray, v: FloatArray, cells: IntArray, clusters: IntArray) -> _Layout:
    """Sort rows by (cell, cluster, input position) and index the cluster blocks."""
    n = y.size
    order = np.lexsort((np.arange(n), clusters, cells)).astype(np.intp)
    cell_sorted = cells[order]
    cluster_sorted = clusters[order]
    starts_mask = np.ones(n, dtype=bool)
    starts_mask[1:] = (cell_sorted[1:] != cell_sorted[:-1]) | (
        cluster_sorted[1:] != cluster_sorted[:-1]
    )
    starts = np.flatnonzero(starts_mask)
    row_cluster = (np.cumsum(starts_mask) - 1).astype(np.intp)
    sizes = np.diff(np.append(starts, n)).astype(np.intp)
    n_cells = int(cell_sorted[-1]) + 1
    groups = []
    for size in np.unique(sizes):
        members = np.flatnonzero(sizes == size)
        rows = starts[members][:, None] + np.arange(size)[None, :]
        groups.append(_Group(clusters=members.astype(np.intp), rows=rows.astype(np.intp)))
    y_sorted = y[order]
    k = np.bincount(cell_sorted, minlength=n_cells)
    centre = np.bincount(cell_sorted, weights=y_sorted, minlength=n_cells) / k
    return _Layout(
        y=y_sorted - centre[cell_sorted],
        v=v[order],
        centre=centre,
        position=order,
        row_cell=cell_sorted.astype(np.intp),
        row_cluster=row_cluster,
        cluster_cell=cell_sorted[starts].astype(np.intp),
        cluster_size=sizes,
        n_cells=n_cells,
        groups=tuple(groups),
    )


def _sampling_blocks(layout: _Layout, model: str, rho: float | None) -> list[FloatArray]:
    """Per size group, the (m, n, n) sampling covariance blocks V_j."""
    blocks = []
    for group in layout.groups:
        v = layout.v[group.rows]
        size = v.shape[1]
        if model in _IMPUTED and rho:
            sd = np.sqrt(v)
            block = rho * sd[:, :, None] * sd[:, None, :]
        else:
            block = np.zeros((v.shape[0], size, size))
        diag = np.arange(size)
        block[:, diag, diag] = v
        blocks.append(block)
    return blocks


# --------------------------------------------------------------------------------------
# Batched linear algebra helpers
# --------------------------------------------------------------------------------------


def _sym_power(matrices: FloatArray, power: float) -> FloatArray:
    """Symmetric matrix power of a stack, eigenvalues ~0 mapped to 0 for power < 0."""
    values, vectors = np.linalg.eigh(matrices)
    top = np.max(np.abs(values), axis=-1, keepdims=True)
    keep = values > _EIG_TOL * top
    safe = np.where(keep, values, 1.0)
    scaled = np.where(keep, safe**power, 0.0)
    return np.asarray((vectors * scaled[:, None, :]) @ np.swapaxes(vectors, -1, -2))


def _quad(u: FloatArray, matrices: FloatArray, w: FloatArray) -> FloatArray:
    """u_j' A_j w_j for each cluster j of a stack."""
    return np.asarray(np.einsum("mi,mij,mj->m", u, matrices, w))


def _matvec(matrices: FloatArray, x: FloatArray) -> FloatArray:
    return np.asarray(np.einsum("mij,mj->mi", matrices, x))


# --------------------------------------------------------------------------------------
# REML for the multilevel models (3L, CE, CHE)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Moments:
    """Per-cluster quadratic forms of W_j = M_j⁻¹ (M_j the marginal covariance block).

    w_j = W_j 1 and Wy_j = W_j y_j. Everything REML needs is a cell sum of these, so
    one pass over the size groups serves the likelihood, score and information.
    """

    logdet: FloatArray  # log|M_j|
    a: FloatArray  # 1'W1
    c: FloatArray  # 1'Wy
    yWy: FloatArray
    trW: FloatArray
    trWW: FloatArray
    ww: FloatArray  # 1'WW1
    wy: FloatArray  # 1'WWy
    yy: FloatArray  # y'WWy
    wWw: FloatArray  # 1'WWW1
    wWWy: FloatArray  # 1'WWWy
    yWWWy: FloatArray
    w_rows: FloatArray  # W_j 1, per row
    diag_rows: FloatArray  # diag(W_j), per row


_MOMENT_NAMES = (
    "logdet", "a", "c", "yWy", "trW", "trWW", "ww", "wy", "yy", "wWw", "wWWy", "yWWWy"
)  # fmt: skip


def _marginal_block(
    layout: _Layout, sampling: FloatArray, clusters: IntArray, tau2: FloatArray, omega2: FloatArray
) -> FloatArray:
    """M_j = V_j + tau2 J + omega2 I for a stack of clusters (tau2, omega2 per cell)."""
    cell = layout.cluster_cell[clusters]
    size = sampling.shape[1]
    marg = sampling + tau2[cell][:, None, None]
    diag = np.arange(size)
    marg[:, diag, diag] += omega2[cell][:, None]
    return marg


def _marginal(
    layout: _Layout, sampling: Sequence[FloatArray], tau2: FloatArray, omega2: FloatArray
) -> list[FloatArray]:
    return [
        _marginal_block(layout, block, group.clusters, tau2, omega2)
        for group, block in zip(layout.groups, sampling, strict=True)
    ]


def _inverse_and_logdet(marg: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Inverses and log-determinants of a stack of covariance blocks."""
    if marg.shape[1] == 1:
        # Singleton clusters are scalars; LAPACK calls would only add overhead.
        if np.any(marg <= 0.0):
            raise StatsError("the marginal covariance is not positive definite")
        return 1.0 / marg, np.log(marg[:, 0, 0])
    try:
        chol = np.linalg.cholesky(marg)
    except np.linalg.LinAlgError as exc:
        raise StatsError("the marginal covariance is not positive definite") from exc
    logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    return np.asarray(np.linalg.inv(marg)), logdet


def _moments(
    layout: _Layout,
    sampling: Sequence[FloatArray],
    tau2: FloatArray,
    omega2: FloatArray,
    *,
    update: BoolArray | None = None,
    previous: _Moments | None = None,
) -> _Moments:
    """Moments at (tau2, omega2); with ``update`` (per cluster) and ``previous`` only
    the flagged clusters are recomputed, so cells that have converged cost nothing."""
    if previous is None or update is None:
        n_cl = layout.cluster_size.size
        acc = {name: np.empty(n_cl) for name in _MOMENT_NAMES}
        w_rows = np.empty(layout.n_rows)
        diag_rows = np.empty(layout.n_rows)
        update = None
    else:
        acc = {name: getattr(previous, name).copy() for name in _MOMENT_NAMES}
        w_rows = previous.w_rows.copy()
        diag_rows = previous.diag_rows.copy()
    for group, block in zip(layout.groups, sampling, strict=True):
        ids, rows = group.clusters, group.rows
        if update is not None:
            chosen = update[ids]
            if not chosen.any():
                continue
            ids, rows, block = ids[chosen], rows[chosen], block[chosen]
        inv, logdet = _inverse_and_logdet(_marginal_block(layout, block, ids, tau2, omega2))
        y = layout.y[rows]
        w = inv.sum(axis=2)
        wy_vec = _matvec(inv, y)
        ww_vec = _matvec(inv, w)
        wwy_vec = _matvec(inv, wy_vec)
        acc["logdet"][ids] = logdet
        acc["a"][ids] = w.sum(axis=1)
        acc["c"][ids] = (w * y).sum(axis=1)
        acc["yWy"][ids] = (y * wy_vec).sum(axis=1)
        acc["trW"][ids] = np.trace(inv, axis1=1, axis2=2)
        acc["trWW"][ids] = (inv * inv).sum(axis=(1, 2))
        acc["ww"][ids] = (w * w).sum(axis=1)
        acc["wy"][ids] = (w * wy_vec).sum(axis=1)
        acc["yy"][ids] = (wy_vec * wy_vec).sum(axis=1)
        acc["wWw"][ids] = (w * ww_vec).sum(axis=1)
        acc["wWWy"][ids] = (ww_vec * wy_vec).sum(axis=1)
        acc["yWWWy"][ids] = (wy_vec * wwy_vec).sum(axis=1)
        w_rows[rows] = w
        diag_rows[rows] = np.diagonal(inv, axis1=1, axis2=2)
    return _Moments(**acc, w_rows=w_rows, diag_rows=diag_rows)


@dataclass(frozen=True)
class _RemlState:
    """Per-cell restricted log-likelihood, GLS mean and derivatives at (tau2, omega2)."""

    ll: FloatArray
    ll_ml: FloatArray
    b: FloatArray
    sum_w: FloatArray  # S = 1'M⁻¹1, so Var(b) = 1/S
    rss: FloatArray
    logdet: FloatArray
    score: FloatArray  # (C, 2)
    fisher: FloatArray  # (C, 2, 2)
    observed: FloatArray  # (C, 2, 2)
    trace_p: FloatArray  # tr(P) = tr(W) - 1'WW1/S
    moments: _Moments


def _reml_state(layout: _Layout, m: _Moments) -> _RemlState:
    """REML quantities from the per-cluster moments.

    With P = W - W11'W/S and r = Py, the derivatives wrt theta = (tau2, omega2),
    dM/dtau2 = J (block of ones), dM/domega2 = I, are (Harville 1977):
      score_a    = -tr(P dM_a)/2 + r' dM_a r / 2
      fisher_ab  = tr(P dM_a P dM_b) / 2
      observed_ab = (dM_a r)' P (dM_b r) - fisher_ab
    Each trace and form splits into per-cluster pieces because W is block diagonal and
    the rank-one correction of P only couples clusters through S.
    """
    cs = layout.cell_sum
    k = layout.k()
    S = cs(m.a)
    b = cs(m.c) / S
    bj = b[layout.cluster_cell]
    ones_r = m.c - bj * m.a  # 1'r_j
    rr = m.yy - 2.0 * bj * m.wy + bj**2 * m.ww  # r_j'r_j
    rss_j = m.yWy - 2.0 * bj * m.c + bj**2 * m.a
    rWr = m.yWWWy - 2.0 * bj * m.wWWy + bj**2 * m.wWw
    wr = m.wy - bj * m.ww  # (W1)'r_j

    logdet = cs(m.logdet)
    rss = cs(rss_j)
    # metafor's REML log-likelihood includes +log|X'X|/2 = log(k)/2 for an intercept.
    ll = -0.5 * ((k - 1.0) * _LOG_2PI - np.log(k) + logdet + np.log(S) + rss)
    ll_ml = -0.5 * (k * _LOG_2PI + logdet + rss)

    sum_a2 = cs(m.a**2)
    sum_ww = cs(m.ww)
    trace_p = cs(m.trW) - sum_ww / S
    score = np.empty((layout.n_cells, 2))
    score[:, 0] = 0.5 * (cs(ones_r**2) - (S - sum_a2 / S))
    score[:, 1] = 0.5 * (cs(rr) - trace_p)

    fisher = np.empty((layout.n_cells, 2, 2))
    fisher[:, 0, 0] = 0.5 * (sum_a2 - 2.0 * cs(m.a**3) / S + sum_a2**2 / S**2)
    fisher[:, 1, 1] = 0.5 * (cs(m.trWW) - 2.0 * cs(m.wWw) / S + sum_ww**2 / S**2)
    fisher[:, 0, 1] = 0.5 * (sum_ww - 2.0 * cs(m.a * m.ww) / S + sum_a2 * sum_ww / S**2)
    fisher[:, 1, 0] = fisher[:, 0, 1]

    ra = cs(ones_r * m.a)
    sum_wr = cs(wr)
    quad = np.empty((layout.n_cells, 2, 2))
    quad[:, 0, 0] = cs(ones_r**2 * m.a) - ra**2 / S
    quad[:, 1, 1] = cs(rWr) - sum_wr**2 / S
    quad[:, 0, 1] = cs(ones_r * wr) - ra * sum_wr / S
    quad[:, 1, 0] = quad[:, 0, 1]
    return _RemlState(
        ll=ll,
        ll_ml=ll_ml,
        b=b,
        sum_w=S,
        rss=rss,
        logdet=logdet,
        score=score,
        fisher=fisher,
        observed=quad - fisher,
        trace_p=trace_p,
        moments=m,
    )


def _is_pd2(h: FloatArray) -> BoolArray:
    """Positive definiteness of a stack of symmetric 2 x 2 matrices."""
    det = h[:, 0, 0] * h[:, 1, 1] - h[:, 0, 1] * h[:, 1, 0]
    return np.asarray(
        (h[:, 0, 0] > 0.0) & (h[:, 1, 1] > 0.0) & (det > 1e-13 * h[:, 0, 0] * h[:, 1, 1])
    )


def _ascent_step(
    state: _RemlState, theta: FloatArray, free: BoolArray
) -> tuple[FloatArray, BoolArray]:
    """Newton step (observed information) where it is positive definite, else Fisher.

    A component at zero whose score points below zero is held there (active set),
    which is how the REML maximum on the boundary is found. Also returns which cells
    took a Newton step.
    """
    held = ~free[None, :] | ((theta <= 0.0) & (state.score <= 0.0))
    grad = np.where(held, 0.0, state.score)

    def hold(info: FloatArray) -> FloatArray:
        out = info.copy()
        for a in range(2):
            rows = held[:, a]
            out[rows, a, :] = 0.0
            out[rows, :, a] = 0.0
            out[rows, a, a] = 1.0
        return out

    observed = hold(state.observed)
    fisher = hold(state.fisher)
    newton = _is_pd2(observed)
    info = np.where(newton[:, None, None], observed, fisher)
    bad = ~_is_pd2(info)
    if bad.any():
        # Unidentified direction (flat likelihood): scaled gradient ascent instead.
        diag = np.abs(np.diagonal(info[bad], axis1=1, axis2=2))
        diag = np.maximum(diag, 1e-12 * np.maximum(diag.max(axis=1, keepdims=True), 1.0))
        info[bad] = 0.0
        info[bad, 0, 0] = diag[:, 0]
        info[bad, 1, 1] = diag[:, 1]
    return np.asarray(np.linalg.solve(info, grad[:, :, None])[:, :, 0]), newton


def _pick_moments(use_b: BoolArray, a: _Moments, b: _Moments, layout: _Layout) -> _Moments:
    """Per-cell choice between two sets of moments (cells where use_b take b)."""
    on_cluster = use_b[layout.cluster_cell]
    on_row = use_b[layout.row_cell]
    picked = {
        name: np.where(on_cluster, getattr(b, name), getattr(a, name)) for name in _MOMENT_NAMES
    }
    return _Moments(
        **picked,
        w_rows=np.where(on_row, b.w_rows, a.w_rows),
        diag_rows=np.where(on_row, b.diag_rows, a.diag_rows),
    )


@dataclass(frozen=True)
class _RemlFit:
    tau2: FloatArray
    omega2: FloatArray
    iterations: IntArray
    converged: BoolArray
    state: _RemlState
    marginal: list[FloatArray]


def _fit_reml(layout: _Layout, sampling: Sequence[FloatArray], free_omega: bool) -> _RemlFit:
    """Maximise the restricted likelihood over (tau2, omega2) >= 0 for every cell."""
    free = np.array([True, free_omega])
    k = layout.k()
    mean_v = layout.cell_sum_rows(layout.v) / k
    # Start above the moment estimates (Hedges, Tipton & Johnson's hierarchical ones,
    # cheap and usually near REML): in the variance scale the restricted likelihood
    # is close to quadratic above its maximum but steep below it, so Newton steps
    # from above take far fewer iterations. The floor, half the excess of the
    # observed variance over the mean vi, keeps both components inside the space.
    start = _robu_hier(layout)
    spread = layout.cell_sum_rows(layout.y**2) / np.maximum(k - 1.0, 1.0)
    floor = 0.5 * np.maximum(spread - mean_v, 0.1 * mean_v)
    theta = np.zeros((layout.n_cells, 2))
    with np.errstate(invalid="ignore"):
        if free_omega:
            theta[:, 0] = np.fmax(3.0 * start.tau2, floor)
            theta[:, 1] = np.fmax(3.0 * start.omega2, floor)
        else:
            theta[:, 0] = np.fmax(3.0 * (start.tau2 + start.omega2), floor)

    def evaluate(th: FloatArray, cells: BoolArray, previous: _RemlState) -> _RemlState:
        moments = _moments(
            layout,
            sampling,
            th[:, 0],
            th[:, 1],
            update=cells[layout.cluster_cell],
            previous=previous.moments,
        )
        return _reml_state(layout, moments)

    state = _reml_state(layout, _moments(layout, sampling, theta[:, 0], theta[:, 1]))
    converged = np.zeros(layout.n_cells, dtype=bool)
    iterations = np.zeros(layout.n_cells, dtype=np.intp)
    for _ in range(_MAX_ITER):
        active = ~converged
        if not active.any():
            break
        step, newton = _ascent_step(state, theta, free)
        step[~active] = 0.0
        full = np.maximum(theta + step, 0.0) - theta
        tol = _STEP_TOL * theta + _STEP_FLOOR * mean_v[:, None]
        final = active & np.all(np.abs(full) <= tol, axis=1)

        scale = np.ones(layout.n_cells)
        trial = theta + full
        new = evaluate(trial, active, state)
        for _ in range(_MAX_HALVING):
            # Accept any step that does not lower the likelihood beyond rounding.
            worse = active & (new.ll < state.ll - 1e-12 * (1.0 + np.abs(state.ll)))
            if not worse.any():
                break
            scale[worse] /= 2.0
            trial[worse] = np.maximum(theta[worse] + scale[worse, None] * step[worse], 0.0)
            new = evaluate(trial, worse, new)
        # Fisher steps are short where the likelihood is a flat, curved ridge (the
        # observed information is indefinite there): keep doubling a full step while
        # the likelihood still rises, instead of creeping along the ridge.
        grow = active & ~final & ~newton & (scale == 1.0)
        for _ in range(_MAX_DOUBLING):
            if not grow.any():
                break
            scale[grow] *= 2.0
            farther = trial.copy()
            farther[grow] = np.maximum(theta[grow] + scale[grow, None] * step[grow], 0.0)
            candidate = evaluate(farther, grow, new)
            grow &= candidate.ll > new.ll
            trial = np.where(grow[:, None], farther, trial)
            new = _reml_state(layout, _pick_moments(grow, new.moments, candidate.moments, layout))
        theta = np.where(active[:, None], trial, theta)
        state = new
        iterations[active] += 1
        converged |= final
    return _RemlFit(
        tau2=theta[:, 0],
        omega2=theta[:, 1],
        iterations=iterations,
        converged=converged,
        state=state,
        marginal=_marginal(layout, sampling, theta[:, 0], theta[:, 1]),
    )


# --------------------------------------------------------------------------------------
# Cluster-robust variance (CR2 with Satterthwaite df, CR1)
# --------------------------------------------------------------------------------------


def _cr2(
    layout: _Layout, phi: Sequence[FloatArray], resid: FloatArray, sum_w: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """CR2 variance of the weighted mean and its Satterthwaite df, per cell.

    Working model: Var(y_j) = Phi_j with weights W_j = Phi_j⁻¹ (clubSandwich's
    "inverse variance" case; robumeta's small-sample weights are the same with
    Phi_j = diag(1/r.weights)). Bell & McCaffrey (2002) adjustment, in the form of
    Pustejovsky & Tipton (2018, eq. 8):
      A_j = Phi_j^½ B_j^-½ Phi_j^½,  B_j = Phi_j^½ (Phi_j - 11'/S) Phi_j^½
    (any square root of Phi_j gives the same A_j). With u_j = A_j W_j 1 / S,
      V_CR2 = sum_j (u_j' e_j)².
    Satterthwaite df (Tipton 2015; Pustejovsky & Tipton 2018): V_CR2 = sum_j (g_j'y)²
    with g_j = (I - H)_j' u_j. Under the working model g_i' Phi g_j reduces to
    Omega_ij = [i = j] q_j - t_i t_j / S with q_j = u_j' Phi_j u_j and t_j = 1'u_j, so
      df = tr(Omega)² / tr(Omega²)
    needs only per-cluster sums (no J x J matrix).
    """
    n_cl = layout.cluster_size.size
    ue = np.empty(n_cl)
    q = np.empty(n_cl)
    t = np.empty(n_cl)
    for group, block in zip(layout.groups, phi, strict=True):
        s_cl = sum_w[layout.cluster_cell[group.clusters]]
        values, vectors = np.linalg.eigh(block)
        vt = np.swapaxes(vectors, 1, 2)
        root = (vectors * np.sqrt(values)[:, None, :]) @ vt
        w = ((vectors / values[:, None, :]) @ vt).sum(axis=2)
        root_one = root.sum(axis=2)
        b_mat = block @ block - root_one[:, :, None] * root_one[:, None, :] / s_cl[:, None, None]
        b_mat = 0.5 * (b_mat + np.swapaxes(b_mat, 1, 2))
        adjust = root @ _sym_power(b_mat, -0.5) @ root
        u = _matvec(adjust, w) / s_cl[:, None]
        ue[group.clusters] = (u * resid[group.rows]).sum(axis=1)
        q[group.clusters] = _quad(u, block, u)
        t[group.clusters] = u.sum(axis=1)
    cs = layout.cell_sum
    variance = cs(ue**2)
    t2 = t**2
    expected = cs(q) - cs(t2) / sum_w
    spread = cs(q**2) - 2.0 * cs(q * t2) / sum_w + cs(t2) ** 2 / sum_w**2
    with np.errstate(divide="ignore", invalid="ignore"):
        df = expected**2 / spread
    return variance, df


def _cr1(
    layout: _Layout, w_rows: FloatArray, resid: FloatArray, sum_w: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """CR1 sandwich (CR0 x J/(J-1)) with J - 1 df: metafor robust(adjust=TRUE)."""
    score = layout.cluster_sum(w_rows * resid) / sum_w[layout.cluster_cell]
    n_cl = layout.n_clusters()
    return layout.cell_sum(score**2) * n_cl / (n_cl - 1.0), n_cl - 1.0


# --------------------------------------------------------------------------------------
# robumeta weights (CORR, HIER)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RobuFit:
    tau2: FloatArray
    omega2: FloatArray  # NaN for CORR
    i2: FloatArray  # NaN for HIER
    weights: FloatArray  # per row, robumeta's r.weights


def _robu_corr(layout: _Layout, rho: float) -> _RobuFit:
    """Correlated-effects weights and tau² of robumeta (Hedges, Tipton & Johnson 2010).

    First-stage weights 1/(k_j vbar_j) give Qe; tau² = term1 + rho * term2 with
    term1 = (Qe - J + tr_A) / denom, term2 = tr_B / denom, where (intercept only)
    denom = S - sum_j (k_j w_j)² / S, tr_A = sum w² v / S and
    tr_B = sum_j w_j² k_j (k_j - 1) vbar_j / S. I² = (Qe - df) / Qe with
    df = J - tr_A - rho tr_B, as robumeta prints it.
    """
    k_j = layout.cluster_size.astype(np.float64)
    vbar_j = layout.cluster_sum(layout.v) / k_j
    w_j = 1.0 / (k_j * vbar_j)
    w = w_j[layout.row_cluster]
    cs, rs = layout.cell_sum, layout.cell_sum_rows
    S = rs(w)
    b = rs(w * layout.y) / S
    e = layout.y - b[layout.row_cell]
    qe = rs(w * e**2)
    denom = S - cs((k_j * w_j) ** 2) / S
    tr_a = rs(w**2 * layout.v) / S
    # The correlated-effects model gives the effects of a study the common variance
    # vbar_j, so their covariances are rho * vbar_j: 1'W(vbar J - V)W1 = w²k(k-1)vbar.
    tr_b = cs(w_j**2 * k_j * (k_j - 1.0) * vbar_j) / S
    n_cl = layout.n_clusters()
    tau2 = np.maximum((qe - n_cl + tr_a) / denom + rho * tr_b / denom, 0.0)
    df_i2 = n_cl - tr_a - rho * tr_b
    with np.errstate(divide="ignore", invalid="ignore"):
        i2 = np.where(qe > 0.0, np.maximum((qe - df_i2) / qe * 100.0, 0.0), 0.0)
    r_weights = 1.0 / (k_j * (vbar_j + tau2[layout.cluster_cell]))
    return _RobuFit(
        tau2=tau2,
        omega2=np.full(layout.n_cells, np.nan),
        i2=i2,
        weights=r_weights[layout.row_cluster],
    )


def _robu_hier(layout: _Layout) -> _RobuFit:
    """Hierarchical-effects weights of robumeta (Hedges, Tipton & Johnson 2010).

    With w = 1/v, Qe = sum w e² and Qa = sum_j (sum_i e_ij)² (e the fixed-effect
    residuals), the moment equations E[Qe] = A2 tau² + B2 omega² + C2 and
    E[Qa] = A1 tau² + B1 omega² + C1 give (intercept only)
      omega² = ((Qa - C1) A2 - (Qe - C2) A1) / (B1 A2 - B2 A1),
      tau²   = (Qe - C2) / A2 - omega² B2 / A2,
    each truncated at zero (tau² computed with the truncated omega²).
    """
    k_j = layout.cluster_size.astype(np.float64)
    w = 1.0 / layout.v
    cs, rs = layout.cell_sum, layout.cell_sum_rows
    S = rs(w)
    b = rs(w * layout.y) / S
    e = layout.y - b[layout.row_cell]
    qe = rs(w * e**2)
    qa = cs(layout.cluster_sum(e) ** 2)
    sw_j = layout.cluster_sum(w)
    sum_k2 = cs(k_j**2)
    sum_w2 = rs(w**2)
    k = layout.k()
    a1 = sum_k2 - 2.0 * cs(k_j**2 * sw_j) / S + sum_k2 * cs(sw_j**2) / S**2
    b1 = k - 2.0 * cs(k_j * sw_j) / S + sum_k2 * sum_w2 / S**2
    c1 = rs(layout.v) - sum_k2 / S
    a2 = S - cs(sw_j**2) / S
    b2 = S - sum_w2 / S
    c2 = k - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        omega2 = np.maximum(((qa - c1) * a2 - (qe - c2) * a1) / (b1 * a2 - b2 * a1), 0.0)
        tau2 = np.maximum((qe - c2) / a2 - omega2 * b2 / a2, 0.0)
    r_weights = 1.0 / (layout.v + (tau2 + omega2)[layout.row_cell])
    return _RobuFit(tau2=tau2, omega2=omega2, i2=np.full(layout.n_cells, np.nan), weights=r_weights)


def _diagonal_blocks(layout: _Layout, variances: FloatArray) -> list[FloatArray]:
    blocks = []
    for group in layout.groups:
        size = group.rows.shape[1]
        block = np.zeros((group.rows.shape[0], size, size))
        diag = np.arange(size)
        block[:, diag, diag] = variances[group.rows]
        blocks.append(block)
    return blocks


# --------------------------------------------------------------------------------------
# Assembling the per-cell results
# --------------------------------------------------------------------------------------


@dataclass
class _CellTable:
    """Per-cell arrays for the fitted cells (index = cell code of the fitted layout)."""

    method: str
    test: str
    vcov: str
    estimate: FloatArray
    se: FloatArray
    df: FloatArray  # NaN means a z test
    tau2: FloatArray
    omega2: FloatArray | None
    i2: FloatArray
    q: FloatArray
    q_p: FloatArray
    weights_pct: FloatArray  # per sorted row
    converged: BoolArray
    iterations: IntArray
    fit_ml: list[FitStats] | None
    fit_reml: list[FitStats] | None


def _heterogeneity(
    layout: _Layout, sampling: Sequence[FloatArray] | None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """QE, its p-value, tr(P) and log|V| under the sampling covariance alone."""
    nan = np.full(layout.n_cells, np.nan)
    if sampling is None:
        return nan, nan, nan, nan
    zero = np.zeros(layout.n_cells)
    state = _reml_state(layout, _moments(layout, sampling, zero, zero))
    q_df = layout.k() - 1.0
    q_p = np.where(q_df > 0, stats.chi2.sf(state.rss, np.maximum(q_df, 1.0)), 1.0)
    return state.rss, q_p, state.trace_p, state.logdet


def _fit_stats(ll: float, dev: float, parms: int, n: float) -> FitStats:
    """metafor's information criteria; n is k for ML and k - p for REML."""
    denom = max(n, parms + 2.0)
    return FitStats(
        ll=ll,
        dev=dev,
        aic=-2.0 * ll + 2.0 * parms,
        bic=-2.0 * ll + parms * math.log(n),
        aicc=-2.0 * ll + 2.0 * parms * denom / (denom - parms - 1.0),
    )


def _fit_cells(layout: _Layout, opts: _Options) -> tuple[_CellTable, dict[int, StatsError]]:
    """Fit every cell of the layout; returns the table and the errors of failed cells."""
    failures: dict[int, StatsError] = {}
    k = layout.k()
    imputed_ok = opts.model in _IMPUTED and (opts.rho or 0.0) < 1.0
    sampling_v = _sampling_blocks(layout, opts.model, opts.rho)
    q, q_p, trace_p, logdet_v = _heterogeneity(
        layout, sampling_v if (imputed_ok or opts.model not in _IMPUTED) else None
    )
    fit_ml: list[FitStats] | None = None
    fit_reml: list[FitStats] | None = None

    if opts.model in _REML_MODELS:
        fit = _fit_reml(layout, sampling_v, free_omega=opts.model != "CE")
        for stuck in np.flatnonzero(~fit.converged).tolist():
            failures[stuck] = ConvergenceError(
                f"REML did not converge in {_MAX_ITER} iterations "
                f"(tau2={fit.tau2[stuck]:.6g}, omega2={fit.omega2[stuck]:.6g})"
            )
        state = fit.state
        tau2 = fit.tau2
        omega2: FloatArray | None = None if opts.model == "CE" else fit.omega2
        estimate = state.b
        sum_w = state.sum_w
        resid = layout.y - estimate[layout.row_cell]
        row_weights = state.moments.diag_rows
        w_rows = state.moments.w_rows
        phi = fit.marginal
        total = tau2 + (omega2 if omega2 is not None else 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            i2 = 100.0 * total / (total + (k - 1.0) / trace_p)
        converged = fit.converged
        iterations = fit.iterations
        parms = 1 + (1 if opts.model == "CE" else 2)
        fit_ml, fit_reml = [], []
        for cell in range(layout.n_cells):
            ll_ml = float(state.ll_ml[cell])
            ll_qe = -0.5 * (k[cell] * _LOG_2PI + logdet_v[cell])
            fit_ml.append(_fit_stats(ll_ml, -2.0 * (ll_ml - ll_qe), parms, float(k[cell])))
            ll_reml = float(state.ll[cell])
            fit_reml.append(_fit_stats(ll_reml, -2.0 * ll_reml, parms, float(k[cell] - 1)))
        method = "REML"
    else:
        robu = _robu_corr(layout, opts.rho or 0.0) if opts.model == "CORR" else _robu_hier(layout)
        tau2 = robu.tau2
        omega2 = robu.omega2 if opts.model == "HIER" else None
        bad = ~np.isfinite(tau2) | ~np.isfinite(robu.omega2 if opts.model == "HIER" else tau2)
        for undefined in np.flatnonzero(bad).tolist():
            failures[undefined] = StatsError(
                "the moment estimators of the variance components are undefined"
            )
        # Such cells are dropped; finite stand-in weights keep NaN out of the batched
        # linear algebra shared with the other cells.
        row_weights = np.where(bad[layout.row_cell], 1.0 / layout.v, robu.weights)
        w_rows = row_weights
        sum_w = layout.cell_sum_rows(row_weights)
        estimate = layout.cell_sum_rows(row_weights * layout.y) / sum_w
        resid = layout.y - estimate[layout.row_cell]
        phi = _diagonal_blocks(layout, 1.0 / row_weights)
        if opts.model == "CORR":
            i2 = robu.i2
        else:
            total = tau2 + robu.omega2
            with np.errstate(divide="ignore", invalid="ignore"):
                i2 = 100.0 * total / (total + (k - 1.0) / trace_p)
        converged = np.ones(layout.n_cells, dtype=bool)
        iterations = np.zeros(layout.n_cells, dtype=np.intp)
        method = "MoM"

    if opts.vcov == "model":
        se = 1.0 / np.sqrt(sum_w)
        df = np.full(layout.n_cells, np.nan) if opts.test == "z" else k - 1.0
        test, vcov = opts.test, "model"
    elif opts.small:
        variance, df = _cr2(layout, phi, resid, sum_w)
        se = np.sqrt(variance)
        test, vcov = "t", "CR2"
    else:
        variance, df = _cr1(layout, w_rows, resid, sum_w)
        se = np.sqrt(variance)
        test, vcov = "t", "CR1"

    weights_pct = 100.0 * row_weights / layout.cell_sum_rows(row_weights)[layout.row_cell]
    table = _CellTable(
        method=method,
        test=test,
        vcov=vcov,
        estimate=estimate + layout.centre,
        se=se,
        df=df,
        tau2=tau2,
        omega2=omega2,
        i2=i2,
        q=q,
        q_p=q_p,
        weights_pct=weights_pct,
        converged=converged,
        iterations=iterations,
        fit_ml=fit_ml,
        fit_reml=fit_reml,
    )
    return table, failures


def _inference(
    estimate: FloatArray, se: FloatArray, df: FloatArray, spread: FloatArray, level: float
) -> dict[str, FloatArray]:
    """Test statistic, p-value, CI and prediction interval, per cell.

    NaN df means the standard normal; otherwise Student t on df. The prediction
    interval uses the same quantile with sqrt(se² + tau2 + omega2) (metafor
    predict.rma for rma.mv; Higgins, Thompson & Spiegelhalter 2009 otherwise).
    """
    upper = 0.5 + level / 2.0
    z = np.isnan(df)
    df_safe = np.where(z, 1.0, df)
    crit = np.where(z, stats.norm.ppf(upper), stats.t.ppf(upper, df_safe))
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = estimate / se
    tail = np.where(z, stats.norm.sf(np.abs(statistic)), stats.t.sf(np.abs(statistic), df_safe))
    half_pi = crit * np.sqrt(se**2 + spread)
    return {
        "statistic": statistic,
        "p_value": 2.0 * tail,
        "ci_low": estimate - crit * se,
        "ci_high": estimate + crit * se,
        "pi_low": estimate - half_pi,
        "pi_high": estimate + half_pi,
    }


def _results(
    layout: _Layout, table: _CellTable, opts: _Options, skip: set[int]
) -> dict[int, ClusteredResult]:
    omega = table.omega2 if table.omega2 is not None else np.zeros(layout.n_cells)
    inf = _inference(table.estimate, table.se, table.df, table.tau2 + omega, opts.level)
    k = layout.k()
    n_cl = layout.n_clusters()
    # Weights back in the input order within each cell.
    by_input = np.lexsort((layout.position, layout.row_cell))
    bounds = np.searchsorted(layout.row_cell[by_input], np.arange(layout.n_cells + 1))
    out: dict[int, ClusteredResult] = {}
    for cell in range(layout.n_cells):
        if cell in skip:
            continue
        rows = by_input[bounds[cell] : bounds[cell + 1]]
        df = float(table.df[cell])
        out[cell] = ClusteredResult(
            method=table.method,
            test=table.test,
            level=opts.level,
            k=int(k[cell]),
            estimate=float(table.estimate[cell]),
            se=float(table.se[cell]),
            statistic=float(inf["statistic"][cell]),
            df=None if math.isnan(df) else df,
            p_value=float(inf["p_value"][cell]),
            ci_low=float(inf["ci_low"][cell]),
            ci_high=float(inf["ci_high"][cell]),
            tau2=float(table.tau2[cell]),
            tau2_se=None,
            i2=float(table.i2[cell]),
            h2=math.nan,
            q=float(table.q[cell]),
            q_df=int(k[cell]) - 1,
            q_p=float(table.q_p[cell]),
            pi_low=float(inf["pi_low"][cell]),
            pi_high=float(inf["pi_high"][cell]),
            weights=table.weights_pct[rows].copy(),
            converged=bool(table.converged[cell]),
            iterations=int(table.iterations[cell]),
            fit_ml=table.fit_ml[cell] if table.fit_ml is not None else None,
            fit_reml=table.fit_reml[cell] if table.fit_reml is not None else None,
            model=opts.model,
            vcov=table.vcov,
            n_clusters=int(n_cl[cell]),
            rho=opts.rho,
            omega2=None if table.omega2 is None else float(table.omega2[cell]),
        )
    return out


def _as_clustered(res: PoolResult, n_clusters: int) -> ClusteredResult:
    values: dict[str, Any] = {f.name: getattr(res, f.name) for f in fields(PoolResult)}
    return ClusteredResult(
        **values, model="univariate", vcov="model", n_clusters=n_clusters, rho=None, omega2=None
    )


def _univariate_cells(
    y: FloatArray, v: FloatArray, codes: IntArray, opts: _Options
) -> tuple[dict[int, ClusteredResult], dict[int, StatsError]]:
    """Cells of singletons are ordinary meta-analyses: pool them with the univariate
    engine and the map's method and test (``codes``: cell code of each row)."""
    # Lazy imports: sibling modules of the engine (cells.py also imports this module).
    from evidence.stats.cells import pool_cells
    from evidence.stats.univariate import pool

    try:
        pooled = pool_cells(y, v, codes, method=opts.method, test=opts.test, level=opts.level)
    except StatsError:
        pooled = {}  # some cell failed: pool them one by one below to tell which
    done: dict[int, ClusteredResult] = {}
    failed: dict[int, StatsError] = {}
    if pooled:
        for code in np.unique(codes).tolist():
            done[code] = _as_clustered(pooled[code], pooled[code].k)
        return done, failed
    for code in np.unique(codes).tolist():
        rows = codes == code
        try:
            res = pool(y[rows], v[rows], method=opts.method, test=opts.test, level=opts.level)
        except StatsError as problem:
            failed[code] = problem
            continue
        done[code] = _as_clustered(res, res.k)
    return done, failed


def _pool_cells(
    y: FloatArray,
    vi: npt.ArrayLike,
    cell: Iterable[Hashable] | npt.ArrayLike,
    cluster: Iterable[Hashable] | npt.ArrayLike,
    *,
    options: _Options,
    errors: dict[Hashable, str] | None,
    single: bool,
) -> dict[Hashable, ClusteredResult]:
    v = _as_float_vector(vi, "vi")
    n = y.size
    if n == 0:
        raise StatsError("no effect sizes to pool")
    if v.size != n:
        raise StatsError(f"yi has {n} entries, vi has {v.size}")
    if not np.all(np.isfinite(y)):
        raise StatsError("yi contains NaN or infinite values")
    if not np.all(np.isfinite(v)):
        raise StatsError("vi contains NaN or infinite values")
    if np.any(v <= 0.0):
        raise StatsError("vi must be > 0 (a sampling variance of zero has no weight)")
    cell_codes, cell_labels = _codes(cell, n, "cell")
    cluster_codes, _ = _codes(cluster, n, "cluster")

    # Classify cells with the layout of all rows (cheap: sorting and counting only).
    full = _layout(y, v, cell_codes, cluster_codes)
    max_size = np.zeros(full.n_cells, dtype=np.intp)
    np.maximum.at(max_size, full.cluster_cell, full.cluster_size)
    n_cl = full.n_clusters()
    problems: dict[int, StatsError] = {}
    singleton_cells = np.flatnonzero(max_size == 1)
    for one in np.flatnonzero((max_size > 1) & (n_cl == 1)).tolist():
        problems[one] = StatsError(
            f"all {int(full.k()[one])} effect sizes come from a single cluster: the "
            "between-cluster variance is not identified and the cluster-robust (CR2) "
            "variance is undefined; at least two clusters are needed"
        )
    if options.singletons == "raise":
        for code in singleton_cells.tolist():
            problems[code] = StatsError(
                "every cluster holds a single effect size: this is a univariate "
                "meta-analysis (the within-cluster variance is not identified)"
            )

    results: dict[Hashable, ClusteredResult] = {}
    fit_codes = np.flatnonzero((max_size > 1) & (n_cl >= 2))
    if fit_codes.size:
        keep = np.isin(cell_codes, fit_codes)
        sub_codes = np.searchsorted(fit_codes, cell_codes[keep]).astype(np.intp)
        layout = _layout(y[keep], v[keep], sub_codes, cluster_codes[keep])
        table, failures = _fit_cells(layout, options)
        for sub, problem in failures.items():
            problems[int(fit_codes[sub])] = problem
        fitted = _results(layout, table, options, skip=set(failures))
        for sub, res in fitted.items():
            results[cell_labels[int(fit_codes[sub])]] = res
    if options.singletons == "univariate" and singleton_cells.size:
        rows = np.isin(cell_codes, singleton_cells)
        done, failed = _univariate_cells(y[rows], v[rows], cell_codes[rows], options)
        problems.update(failed)
        for code, res in done.items():
            results[cell_labels[code]] = res

    for code in sorted(problems):
        if single:
            raise problems[code]
        if errors is not None:
            errors[cell_labels[code]] = f"{type(problems[code]).__name__}: {problems[code]}"
    # Keep the cells in the order in which they first appear in the input.
    return {label: results[label] for label in cell_labels if label in results}
