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

This module is the public entry: it checks the input, decides which cells are fitted
with the working model, which are ordinary univariate meta-analyses (every cluster a
single effect size) and which cannot be pooled, and collects the results and errors.
The work is done by:

* grouping.py: labels to codes, the cluster layout;
* linalg.py: batched linear algebra on the cluster blocks;
* multilevel.py: REML for 3L, CE and CHE;
* rve.py: robumeta's CORR and HIER weights and moment estimators;
* robust.py: the CR2 (Satterthwaite df) and CR1 variances;
* clustered_fit.py: the dispatch to those for every fitted cell, and the results.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from . import multilevel
from .cells import pool_cells
from .clustered_fit import MODELS, REML_MODELS, VCOVS, Options, check_rho, fit_cells
from .grouping import cluster_layout, factorize
from .options import STEP_TOL
from .results import ClusteredResult, FloatArray, IntArray, PoolResult, StatsError
from .univariate import pool

__all__ = [
    "MODELS",
    "VCOVS",
    "BlockDiagonal",
    "Model",
    "Vcov",
    "impute_covariance",
    "pool_cells_clustered",
    "pool_clustered",
    "stopping_tolerance",
]

Model = Literal["CHE", "CE", "3L", "CORR", "HIER"]
Vcov = Literal["CR2", "model"]


# Univariate tau² estimators found by iteration (the others are closed forms).
_ITERATIVE_METHODS = frozenset({"REML", "ML", "PM", "EB"})


def stopping_tolerance(result: ClusteredResult) -> float | None:
    """The rule at which the iterations behind ``result``'s variance components stopped: no
    step changed a component by more than this fraction of it (for univariate fits, of
    tau² plus a typical sampling variance). None where they have a closed form."""
    if result.model in REML_MODELS:
        return multilevel.STEP_TOL
    if result.model == "univariate" and result.method in _ITERATIVE_METHODS and result.k > 1:
        return STEP_TOL
    return None


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
    rho = check_rho(rho, upper_inclusive=True)
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
        options=Options.build(model, rho, vcov, small, level, method, test, singletons),
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
        options=Options.build(model, rho, vcov, small, level, method, test, singletons),
        errors=errors,
        single=False,
    )


# --------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------


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
# sorting the cells out: fitted, univariate, or failed
# --------------------------------------------------------------------------------------


def _as_clustered(res: PoolResult, n_clusters: int) -> ClusteredResult:
    values: dict[str, Any] = {f.name: getattr(res, f.name) for f in fields(PoolResult)}
    return ClusteredResult(
        **values, model="univariate", vcov="model", n_clusters=n_clusters, rho=None, omega2=None
    )


def _univariate_cells(
    y: FloatArray, v: FloatArray, codes: IntArray, opts: Options
) -> tuple[dict[int, ClusteredResult], dict[int, StatsError]]:
    """Cells of singletons are ordinary meta-analyses: pool them with the univariate
    engine and the map's method and test (``codes``: cell code of each row)."""
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
    # Rows grouped by cell once (stable: input order within a cell), then one slice each.
    order = np.argsort(codes, kind="stable")
    cell_codes, starts = np.unique(codes[order], return_index=True)
    ends = np.append(starts[1:], order.size)
    for code, start, end in zip(cell_codes.tolist(), starts.tolist(), ends.tolist(), strict=True):
        rows = order[start:end]
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
    options: Options,
    errors: dict[Hashable, str] | None,
    single: bool,
) -> dict[Hashable, ClusteredResult]:
    """Check the input, sort the cells into fitted, univariate and failed ones, and
    collect the results and errors (``single``: raise the first error instead)."""
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
    full = cluster_layout(y, v, cell_codes, cluster_codes)
    max_size = np.zeros(full.n_cells, dtype=np.intp)
    np.maximum.at(max_size, full.cluster_cell, full.cluster_size)
    n_cl = full.n_clusters()
    k_cell = full.k()
    problems: dict[int, StatsError] = {}
    singleton_cells = np.flatnonzero(max_size == 1)
    for one in np.flatnonzero((max_size > 1) & (n_cl == 1)).tolist():
        problems[one] = StatsError(
            f"all {int(k_cell[one])} effect sizes come from a single cluster: the "
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
        layout = cluster_layout(y[keep], v[keep], sub_codes, cluster_codes[keep])
        fitted, failures = fit_cells(layout, options)
        for sub, problem in failures.items():
            problems[int(fit_codes[sub])] = problem
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
