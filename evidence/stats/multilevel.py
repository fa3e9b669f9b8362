"""REML fits of the multilevel working models: three-level (3L), CE and CHE.

The marginal covariance of cluster j is M_j = V_j + tau² J + omega² I: V_j the
sampling covariance (diag(vi) for 3L, imputed with a common correlation for CE and
CHE), tau² the between-cluster and omega² the within-cluster variance (held at 0 for
CE). :func:`fit_reml` maximises the restricted likelihood over (tau², omega²) >= 0 for
every cell of a layout at once (metafor ``rma.mv``, ``random = ~1 | cluster/es``).

Numerical notes. The mean is profiled out. Newton steps use the observed information
where it is positive definite and Fisher scoring otherwise, with step halving, step
doubling along flat ridges, and an active set for components at zero, until no step
changes a component by more than 1e-10 relative. Everything the likelihood, score and
information need is a cell sum of per-cluster moments (:class:`Moments`); cells that
have converged are not recomputed.

Also here, since it reuses the same moments: Cochran's QE under V alone, with tr(P)
and log|V| (:func:`heterogeneity`), and metafor's fit statistics (:func:`fit_stats`).
Not here: the robust variance (robust.py) and the robumeta models (rve.py), whose
hierarchical estimates give the starting values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .grouping import ClusterLayout
from .linalg import inverse_and_logdet, matvec
from .results import BoolArray, FitStats, FloatArray, IntArray
from .rve import robu_hier

__all__ = [
    "MAX_ITER",
    "Moments",
    "RemlFit",
    "RemlState",
    "fit_reml",
    "fit_stats",
    "heterogeneity",
    "reml_state",
]

_LOG_2PI = math.log(2.0 * math.pi)

# Iteration limits of the REML maximisation: Newton/Fisher steps, halvings and
# doublings of one step.
MAX_ITER = 100
_MAX_HALVING = 40
_MAX_DOUBLING = 6
# Stop when a Newton/Fisher step changes no component by more than this, relative to
# the component (plus a tiny absolute floor in units of the cell's mean vi).
_STEP_TOL = 1e-10
_STEP_FLOOR = 1e-14


@dataclass(frozen=True)
class Moments:
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
    layout: ClusterLayout,
    sampling: FloatArray,
    clusters: IntArray,
    tau2: FloatArray,
    omega2: FloatArray,
) -> FloatArray:
    """M_j = V_j + tau2 J + omega2 I for a stack of clusters (tau2, omega2 per cell)."""
    cell = layout.cluster_cell[clusters]
    size = sampling.shape[1]
    marg = sampling + tau2[cell][:, None, None]
    diag = np.arange(size)
    marg[:, diag, diag] += omega2[cell][:, None]
    return marg


def _marginal(
    layout: ClusterLayout, sampling: Sequence[FloatArray], tau2: FloatArray, omega2: FloatArray
) -> list[FloatArray]:
    return [
        _marginal_block(layout, block, group.clusters, tau2, omega2)
        for group, block in zip(layout.groups, sampling, strict=True)
    ]


def _moments(
    layout: ClusterLayout,
    sampling: Sequence[FloatArray],
    tau2: FloatArray,
    omega2: FloatArray,
    *,
    update: BoolArray | None = None,
    previous: Moments | None = None,
) -> Moments:
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
        inv, logdet = inverse_and_logdet(_marginal_block(layout, block, ids, tau2, omega2))
        y = layout.y[rows]
        w = inv.sum(axis=2)
        wy_vec = matvec(inv, y)
        ww_vec = matvec(inv, w)
        wwy_vec = matvec(inv, wy_vec)
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
    return Moments(**acc, w_rows=w_rows, diag_rows=diag_rows)


@dataclass(frozen=True)
class RemlState:
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
    moments: Moments


def reml_state(
    layout: ClusterLayout, m: Moments, *, cells: BoolArray | None = None, previous: RemlState | None = None
) -> RemlState:
    """REML quantities from the per-cluster moments.

    With P = W - W11'W/S and r = Py, the derivatives wrt theta = (tau2, omega2),
    dM/dtau2 = J (block of ones), dM/domega2 = I, are (Harville 1977):
      score_a    = -tr(P dM_a)/2 + r' dM_a r / 2
      fisher_ab  = tr(P dM_a P dM_b) / 2
      observed_ab = (dM_a r)' P (dM_b r) - fisher_ab
    Each trace and form splits into per-cluster pieces because W is block diagonal and
    the rank-one correction of P only couples clusters through S.

    With `cells` and `previous`, only the flagged cells are computed (from their clusters
    alone) and the others are taken from `previous`: while a few cells still iterate, the
    cost follows their clusters, not the whole map's.
    """
    if cells is None or previous is None:
        return _reml_state(layout, m, np.arange(layout.cluster_size.size))
    fresh = _reml_state(layout, m, np.flatnonzero(cells[layout.cluster_cell]))

    def pick(new: FloatArray, old: FloatArray) -> FloatArray:
        return np.where(cells.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)

    return RemlState(
        ll=pick(fresh.ll, previous.ll),
        ll_ml=pick(fresh.ll_ml, previous.ll_ml),
        b=pick(fresh.b, previous.b),
        sum_w=pick(fresh.sum_w, previous.sum_w),
        rss=pick(fresh.rss, previous.rss),
        logdet=pick(fresh.logdet, previous.logdet),
        score=pick(fresh.score, previous.score),
        fisher=pick(fresh.fisher, previous.fisher),
        observed=pick(fresh.observed, previous.observed),
        trace_p=pick(fresh.trace_p, previous.trace_p),
        moments=m,
    )


def _reml_state(layout: ClusterLayout, m: Moments, clusters: IntArray) -> RemlState:
    """reml_state from the given clusters only (cells without any are left at 0 or NaN)."""
    cell_of = layout.cluster_cell[clusters]

    def cs(per_cluster: FloatArray) -> FloatArray:
        return np.asarray(np.bincount(cell_of, weights=per_cluster, minlength=layout.n_cells), dtype=np.float64)

    a, c, ww, wy = m.a[clusters], m.c[clusters], m.ww[clusters], m.wy[clusters]
    k = layout.k()
    with np.errstate(divide="ignore", invalid="ignore"):
        S = cs(a)
        b = cs(c) / S
    bj = b[cell_of]
    ones_r = c - bj * a  # 1'r_j
    rr = m.yy[clusters] - 2.0 * bj * wy + bj**2 * ww  # r_j'r_j
    rss_j = m.yWy[clusters] - 2.0 * bj * c + bj**2 * a
    rWr = m.yWWWy[clusters] - 2.0 * bj * m.wWWy[clusters] + bj**2 * m.wWw[clusters]
    wr = wy - bj * ww  # (W1)'r_j

    with np.errstate(divide="ignore", invalid="ignore"):
        logdet = cs(m.logdet[clusters])
        rss = cs(rss_j)
        # metafor's REML log-likelihood includes +log|X'X|/2 = log(k)/2 for an intercept.
        ll = -0.5 * ((k - 1.0) * _LOG_2PI - np.log(k) + logdet + np.log(S) + rss)
        ll_ml = -0.5 * (k * _LOG_2PI + logdet + rss)

        sum_a2 = cs(a**2)
        sum_ww = cs(ww)
        trace_p = cs(m.trW[clusters]) - sum_ww / S
        score = np.empty((layout.n_cells, 2))
        score[:, 0] = 0.5 * (cs(ones_r**2) - (S - sum_a2 / S))
        score[:, 1] = 0.5 * (cs(rr) - trace_p)

        fisher = np.empty((layout.n_cells, 2, 2))
        fisher[:, 0, 0] = 0.5 * (sum_a2 - 2.0 * cs(a**3) / S + sum_a2**2 / S**2)
        fisher[:, 1, 1] = 0.5 * (cs(m.trWW[clusters]) - 2.0 * cs(m.wWw[clusters]) / S + sum_ww**2 / S**2)
        fisher[:, 0, 1] = 0.5 * (sum_ww - 2.0 * cs(a * ww) / S + sum_a2 * sum_ww / S**2)
        fisher[:, 1, 0] = fisher[:, 0, 1]

        ra = cs(ones_r * a)
        sum_wr = cs(wr)
        quad = np.empty((layout.n_cells, 2, 2))
        quad[:, 0, 0] = cs(ones_r**2 * a) - ra**2 / S
        quad[:, 1, 1] = cs(rWr) - sum_wr**2 / S
        quad[:, 0, 1] = cs(ones_r * wr) - ra * sum_wr / S
        quad[:, 1, 0] = quad[:, 0, 1]
    return RemlState(
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
    state: RemlState, theta: FloatArray, free: BoolArray
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


def _pick_moments(use_b: BoolArray, a: Moments, b: Moments, layout: ClusterLayout) -> Moments:
    """Per-cell choice between two sets of moments (cells where use_b take b)."""
    on_cluster = use_b[layout.cluster_cell]
    on_row = use_b[layout.row_cell]
    picked = {
        name: np.where(on_cluster, getattr(b, name), getattr(a, name)) for name in _MOMENT_NAMES
    }
    return Moments(
        **picked,
        w_rows=np.where(on_row, b.w_rows, a.w_rows),
        diag_rows=np.where(on_row, b.diag_rows, a.diag_rows),
    )


@dataclass(frozen=True)
class RemlFit:
    tau2: FloatArray
    omega2: FloatArray
    iterations: IntArray
    converged: BoolArray
    state: RemlState
    marginal: list[FloatArray]


def fit_reml(layout: ClusterLayout, sampling: Sequence[FloatArray], free_omega: bool) -> RemlFit:
    """Maximise the restricted likelihood over (tau2, omega2) >= 0 for every cell."""
    free = np.array([True, free_omega])
    k = layout.k()
    mean_v = layout.cell_sum_rows(layout.v) / k
    # Start above the moment estimates (Hedges, Tipton & Johnson's hierarchical ones,
    # cheap and usually near REML): in the variance scale the restricted likelihood
    # is close to quadratic above its maximum but steep below it, so Newton steps
    # from above take far fewer iterations. The floor, half the excess of the
    # observed variance over the mean vi, keeps both components inside the space.
    start = robu_hier(layout)
    spread = layout.cell_sum_rows(layout.y**2) / np.maximum(k - 1.0, 1.0)
    floor = 0.5 * np.maximum(spread - mean_v, 0.1 * mean_v)
    theta = np.zeros((layout.n_cells, 2))
    with np.errstate(invalid="ignore"):
        if free_omega:
            theta[:, 0] = np.fmax(3.0 * start.tau2, floor)
            theta[:, 1] = np.fmax(3.0 * start.omega2, floor)
        else:
            theta[:, 0] = np.fmax(3.0 * (start.tau2 + start.omega2), floor)

    def evaluate(th: FloatArray, cells: BoolArray, previous: RemlState) -> RemlState:
        moments = _moments(
            layout,
            sampling,
            th[:, 0],
            th[:, 1],
            update=cells[layout.cluster_cell],
            previous=previous.moments,
        )
        return reml_state(layout, moments, cells=cells, previous=previous)

    state = reml_state(layout, _moments(layout, sampling, theta[:, 0], theta[:, 1]))
    converged = np.zeros(layout.n_cells, dtype=bool)
    iterations = np.zeros(layout.n_cells, dtype=np.intp)
    for _ in range(MAX_ITER):
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
            new = reml_state(
                layout, _pick_moments(grow, new.moments, candidate.moments, layout), cells=grow, previous=new
            )
        theta = np.where(active[:, None], trial, theta)
        state = new
        iterations[active] += 1
        converged |= final
    return RemlFit(
        tau2=theta[:, 0],
        omega2=theta[:, 1],
        iterations=iterations,
        converged=converged,
        state=state,
        marginal=_marginal(layout, sampling, theta[:, 0], theta[:, 1]),
    )


# --------------------------------------------------------------------------------------
# heterogeneity under the sampling covariance, and fit statistics
# --------------------------------------------------------------------------------------


def heterogeneity(
    layout: ClusterLayout, sampling: Sequence[FloatArray] | None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """QE, its p-value, tr(P) and log|V| under the sampling covariance alone."""
    nan = np.full(layout.n_cells, np.nan)
    if sampling is None:
        return nan, nan, nan, nan
    zero = np.zeros(layout.n_cells)
    state = reml_state(layout, _moments(layout, sampling, zero, zero))
    q_df = layout.k() - 1.0
    q_p = np.where(q_df > 0, stats.chi2.sf(state.rss, np.maximum(q_df, 1.0)), 1.0)
    return state.rss, q_p, state.trace_p, state.logdet


def fit_stats(ll: float, dev: float, parms: int, n: float) -> FitStats:
    """metafor's information criteria; n is k for ML and k - p for REML."""
    denom = max(n, parms + 2.0)
    return FitStats(
        ll=ll,
        dev=dev,
        aic=-2.0 * ll + 2.0 * parms,
        bic=-2.0 * ll + parms * math.log(n),
        aicc=-2.0 * ll + 2.0 * parms * denom / (denom - parms - 1.0),
    )
