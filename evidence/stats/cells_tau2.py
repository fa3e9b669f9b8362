"""tau² for every cell of a map at once: the vectorised twin of tau2.py.

The effect sizes are sorted by cell once (:class:`CellData`); every per-cell sum is
then a segment sum (``np.add.reduceat``) over that order and per-cell values are
broadcast back with ``np.repeat`` (:class:`Segments`), so the work is a handful of
numpy passes whatever the number of cells.

* HE, DL, HS, HSk and SJ are closed forms in those sums (:func:`closed_form_tau2`).
* PM, EB, ML and REML (:func:`iterative_tau2`) run the safeguarded Newton iteration of
  :func:`evidence.stats.tau2.find_root` on all cells together, each cell with its own
  bracket, step-halving and convergence flag; cells drop out of the working set as
  they converge. The iteration itself (:func:`solve_roots`) takes any per-cell
  estimating equation and reports a cell that fails instead of stopping the others;
  the batched Egger test (egger_cells.py) solves its meta-regression's equations with it.

Each cell's estimate and SE equal what tau2.py gives for that cell alone, to rounding
error; the formulas and their sources are documented there. Not here: the pooled
estimates, tests and result objects built from these tau² (cells.py).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from .options import LL_TOL, STEP_TOL
from .results import ConvergenceError, FloatArray, IntArray

__all__ = [
    "ROOT_BROKEN",
    "ROOT_FOUND",
    "ROOT_UNCONVERGED",
    "CellData",
    "CellEquation",
    "Segments",
    "cell_log_likelihoods",
    "closed_form_tau2",
    "iterative_tau2",
    "q_and_traces",
    "solve_roots",
]

_LOG_2PI = float(np.log(2.0 * np.pi))


# --------------------------------------------------------------------------------------
# effect sizes sorted by cell
# --------------------------------------------------------------------------------------


@dataclass
class Segments:
    """Effect sizes sorted by cell: segment starts, sizes, and segment sums."""

    starts: IntArray
    counts: IntArray

    @classmethod
    def of(cls, counts: IntArray) -> Segments:
        starts = np.zeros(counts.shape[0], dtype=np.intp)
        np.cumsum(counts[:-1], out=starts[1:])
        return cls(starts, counts)

    def sum(self, x: FloatArray) -> FloatArray:
        """Per-segment sums; for a 2-D array, of every row at once."""
        return np.add.reduceat(x, self.starts, axis=-1)

    def spread(self, per_cell: FloatArray) -> FloatArray:
        """Broadcast one value per cell to that cell's effect sizes."""
        return np.repeat(per_cell, self.counts)


@dataclass
class CellData:
    """Effect sizes sorted by cell, with their segments and per-cell counts (and, for
    a meta-regression on one moderator, its value ``x`` per effect size)."""

    y: FloatArray
    v: FloatArray
    seg: Segments
    k: FloatArray  # float for arithmetic
    x: FloatArray | None = None

    def subset(self, cells: IntArray) -> CellData:
        """The same data restricted to some cells (given in increasing order)."""
        chosen = np.zeros(self.k.shape[0], dtype=bool)
        chosen[cells] = True
        keep = np.repeat(chosen, self.seg.counts)
        counts = self.seg.counts[cells]
        x = None if self.x is None else self.x[keep]
        return CellData(self.y[keep], self.v[keep], Segments.of(counts), self.k[cells], x)


# --------------------------------------------------------------------------------------
# closed-form tau² estimators, all cells at once (k >= 2 cells; others overwritten later)
# --------------------------------------------------------------------------------------


def q_and_traces(d: CellData) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Cochran's Q, sum(w), tr(P) and tr(PP) at w = 1/v."""
    w = 1.0 / d.v
    sums = d.seg.sum(np.stack([w, w * d.y, w * w, w * w * w]))
    sw, swy, sw2, sw3 = sums
    r = d.y - d.seg.spread(swy / sw)
    q = d.seg.sum(w * r * r)
    return q, sw, sw - sw2 / sw, sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2


def _hedges(d: CellData) -> tuple[FloatArray, FloatArray]:
    """Hedges (HE) estimator and SE (Hedges & Olkin 1985)."""
    k = d.k
    sy, sv, sv2 = d.seg.sum(np.stack([d.y, d.v, d.v * d.v]))
    r = d.y - d.seg.spread(sy / k)
    rss = d.seg.sum(r * r)
    tr_pv = sv * (1.0 - 1.0 / k)
    tr_pvpv = sv2 * (1.0 - 2.0 / k) + sv * sv / (k * k)
    tau2 = np.maximum(0.0, (rss - tr_pv) / (k - 1))
    se = np.sqrt(2.0 * tr_pvpv + 4.0 * tau2 * tr_pv + 2.0 * tau2 * tau2 * (k - 1)) / (k - 1)
    return tau2, se


def closed_form_tau2(d: CellData, method: str) -> tuple[FloatArray, FloatArray]:
    """DL, HS, HSk, SJ (and HE): tau² and its SE per cell."""
    k = d.k
    if method == "HE":
        return _hedges(d)
    if method == "SJ":
        # Sidik & Jonkman 2005, one step from tau0 = mean((y - mean y)^2).
        sy = d.seg.sum(d.y)
        r0 = d.y - d.seg.spread(sy / k)
        tau0 = d.seg.sum(r0 * r0) / k
        v = d.v
        w = 1.0 / (v + d.seg.spread(tau0))
        w2 = w * w
        w3 = w2 * w
        sw, swy, sw2, sw3, sw2v, sw2v2, sw3v, sw3v2 = d.seg.sum(
            np.stack([w, w * d.y, w2, w3, w2 * v, w2 * v * v, w3 * v, w3 * v * v])
        )
        r = d.y - d.seg.spread(swy / sw)
        q = d.seg.sum(w * r * r)
        tau2 = np.maximum(0.0, tau0 * q / (k - 1))
        tr_pvpv = sw2v2 - 2.0 * sw3v2 / sw + (sw2v / sw) ** 2
        sum_pvp = sw2v - 2.0 * sw3v / sw + sw2 * sw2v / (sw * sw)
        tr_pp = sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2
        spread = 2.0 * tr_pvpv + 4.0 * tau2 * sum_pvp + 2.0 * tau2 * tau2 * tr_pp
        return tau2, tau0 / (k - 1) * np.sqrt(np.maximum(spread, 0.0))

    q, sw, tr_p, tr_pp = q_and_traces(d)
    if method == "DL":
        # DerSimonian & Laird 1986.
        tau2 = np.maximum(0.0, (q - (k - 1)) / tr_p)
        se = np.sqrt(2.0 * (k - 1) + 4.0 * tau2 * tr_p + 2.0 * tau2 * tau2 * tr_pp) / tr_p
        return tau2, se
    # Hunter & Schmidt 2004 (HSk: Q scaled by k/(k-1)).
    factor = k / (k - 1) if method == "HSk" else np.ones_like(k)
    tau2 = np.maximum(0.0, (factor * q - k) / sw)
    spread = 2.0 * (k - 1) + 4.0 * tau2 * tr_p + 2.0 * tau2 * tau2 * tr_pp
    return tau2, factor * np.sqrt(spread) / sw


# --------------------------------------------------------------------------------------
# iterative estimators: vectorised safeguarded Newton
# --------------------------------------------------------------------------------------


def _fisher_retry(
    d: CellData, tau2: FloatArray, start: FloatArray, method: str, *, max_iter: int
) -> FloatArray:
    """Where Newton from a positive start ended at the boundary 0, the root that metafor's
    Fisher scoring reaches from the same start, if there is one.

    The (restricted) likelihood can have a local maximum at 0 and another inside; the
    full Newton step may then jump over the inner one and walk down to 0, while Fisher
    scoring (metafor) stops at it. The caller's ll0check then keeps whichever of the two
    has the higher likelihood, as metafor does.
    """
    retry = np.flatnonzero((tau2 == 0.0) & (start > 0.0))
    if not retry.size:
        return tau2

    def fisher(work: CellData, t: FloatArray) -> tuple[FloatArray, FloatArray]:
        g, _ = _equation(work, t, method)
        w = 1.0 / (work.v + work.seg.spread(t))
        w2 = w * w
        sw, sw2, sw3 = work.seg.sum(np.stack([w, w2, w2 * w]))
        info = sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2 if method == "REML" else sw2
        return g, -info

    root, _, status = solve_roots(d.subset(retry), start[retry], fisher, max_iter=max_iter)
    found = (status == ROOT_FOUND) & (root > 0.0)
    out = tau2.copy()
    out[retry[found]] = root[found]
    return out


def _equation(d: CellData, t: FloatArray, method: str) -> tuple[FloatArray, FloatArray]:
    """Estimating equation g(t) and Newton slope per cell (see tau2.find_root).

    PM/EB (Paule & Mandel 1982): g = Q(t) - (k-1), slope = -sum(w^2 r^2).
    ML / REML: twice the score; slope = twice the second derivative where negative,
    else minus twice the Fisher information (Viechtbauer 2005).
    """
    seg = d.seg
    w = 1.0 / (d.v + seg.spread(t))
    w2 = w * w
    first = seg.sum(np.stack([w, w * d.y, w2, w2 * w]))
    sw, swy, sw2, sw3 = first
    r = d.y - seg.spread(swy / sw)
    if method in ("PM", "EB"):
        wr2 = w * r * r
        q, slope_sum = seg.sum(np.stack([wr2, w * wr2]))
        return q - (d.k - 1), -slope_sum
    w2r = w2 * r
    yppy, w3r2, sw2r = seg.sum(np.stack([w2r * r, w2r * w * r, w2r]))
    ypppy = w3r2 - sw2r * sw2r / sw
    if method == "REML":
        info = sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2
        g = yppy - (sw - sw2 / sw)
    else:
        info = sw2
        g = yppy - sw
    curvature = info - 2.0 * ypppy
    return g, np.where(curvature < 0.0, curvature, -info)


def _halve_to_nonnegative(t: FloatArray, step: FloatArray) -> FloatArray:
    """t + step / 2^j for the smallest j >= 0 keeping the result >= 0 (step < 0)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        halvings = np.maximum(0.0, np.ceil(np.log2(-step / t)))
    halvings = np.where(t > 0.0, halvings, 0.0)
    moved = np.maximum(0.0, t + np.ldexp(step, -halvings.astype(np.int64)))
    return np.where(t > 0.0, moved, 0.0)


# Per-cell outcome of solve_roots.
ROOT_FOUND, ROOT_BROKEN, ROOT_UNCONVERGED = 0, 1, 2

CellEquation = Callable[[CellData, FloatArray], tuple[FloatArray, FloatArray]]


def solve_roots(
    d: CellData, start: FloatArray, equation: CellEquation, *, max_iter: int
) -> tuple[FloatArray, IntArray, IntArray]:
    """Roots of a per-cell estimating equation for every cell of ``d``.

    ``equation(data, t)`` gives g(t) and the Newton slope for every cell of ``data``
    (a subset of ``d`` once cells drop out). The per-cell rules are those of
    tau2.find_root: Newton steps, halved to stay >= 0 until a positive g is seen,
    then kept inside the sign-change bracket by bisection.  Converged cells stop
    updating; once at most half of the working cells are still active, the working
    data are compacted to those cells.

    Returns the roots, the iterations and a status per cell: ROOT_FOUND;
    ROOT_BROKEN where the equation gave a non-finite value or a slope >= 0 (at the
    iteration given, where find_root would stop); ROOT_UNCONVERGED after
    ``max_iter`` iterations. A failed cell's root is NaN; other cells go on.
    """
    n_cells = d.k.shape[0]
    root = np.full(n_cells, np.nan)
    iterations = np.zeros(n_cells, dtype=np.intp)
    status = np.full(n_cells, ROOT_UNCONVERGED, dtype=np.intp)

    ids = np.arange(n_cells)  # cell index (in d) of each working cell
    work = d
    scale = d.seg.sum(d.v) / d.k  # mean sampling variance: the scale of tau²
    t = np.maximum(start, 0.0)
    lo = np.zeros(n_cells)
    hi = np.full(n_cells, np.inf)
    positive_seen = np.zeros(n_cells, dtype=bool)
    active = np.ones(n_cells, dtype=bool)

    for iteration in range(1, max_iter + 1):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            g, slope = equation(work, t)
            broken = active & ~(np.isfinite(g) & np.isfinite(slope) & (slope < 0.0))
            if broken.any():
                status[ids[broken]] = ROOT_BROKEN
                iterations[ids[broken]] = iteration
                active &= ~broken
            exact = g == 0.0
            positive = g > 0.0
            lo = np.where(positive, t, lo)
            hi = np.where(positive | exact, hi, t)
            positive_seen |= positive
            new = t - g / slope
            outside = positive_seen & ~((lo < new) & (new < hi))
            bisected = np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * t + scale)
            new = np.where(outside, bisected, new)
            below = ~positive_seen & (new < 0.0)
            if below.any():
                new = np.where(below, _halve_to_nonnegative(t, new - t), new)
            converged = np.abs(new - t) <= STEP_TOL * (new + scale)
        boundary = converged & ~positive_seen & (new <= STEP_TOL * scale)
        finished = active & (exact | converged)
        if finished.any():
            value = np.where(exact, t, np.where(boundary, 0.0, new))
            root[ids[finished]] = value[finished]
            iterations[ids[finished]] = iteration
            status[ids[finished]] = ROOT_FOUND
            active &= ~finished
        if not active.any():
            break
        t = np.where(active, new, t)
        if active.sum() <= 0.5 * active.shape[0]:
            keep = np.flatnonzero(active)
            work = work.subset(keep)
            ids, t, lo, hi = ids[keep], t[keep], lo[keep], hi[keep]
            positive_seen, scale = positive_seen[keep], scale[keep]
            active = np.ones(keep.shape[0], dtype=bool)
    unconverged = status == ROOT_UNCONVERGED
    iterations[unconverged] = max_iter
    return root, iterations, status


def _solve(
    d: CellData,
    start: FloatArray,
    method: str,
    *,
    max_iter: int,
    labels: Sequence[Hashable],
) -> tuple[FloatArray, IntArray]:
    """Roots of the intercept-only estimating equation for every cell of ``d`` (all
    with k >= 2), or ConvergenceError naming the first cell that failed: the one whose
    equation broke down earliest, else the first that did not converge."""
    root, iterations, status = solve_roots(
        d, start, lambda work, t: _equation(work, t, method), max_iter=max_iter
    )
    broken = np.flatnonzero(status == ROOT_BROKEN)
    if broken.size:
        first = int(broken[np.argmin(iterations[broken])])  # argmin: the lowest index on ties
        raise ConvergenceError(f"{method} estimator of tau² failed in cell {labels[first]!r}")
    unconverged = np.flatnonzero(status == ROOT_UNCONVERGED)
    if unconverged.size:
        raise ConvergenceError(
            f"{method} estimator of tau² did not converge within {max_iter} iterations "
            f"in cell {labels[int(unconverged[0])]!r}"
        )
    return root, iterations


def cell_log_likelihoods(
    d: CellData, tau2: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(ll_ML, ll_REML, weights w, sum w) per cell at tau2 (beta profiled out)."""
    k = d.k
    vt = d.v + d.seg.spread(tau2)
    w = 1.0 / vt
    sw, swy, sum_log = d.seg.sum(np.stack([w, w * d.y, np.log(vt)]))
    r = d.y - d.seg.spread(swy / sw)
    rss = d.seg.sum(w * r * r)
    ll_ml = -0.5 * k * _LOG_2PI - 0.5 * sum_log - 0.5 * rss
    ll_reml = (
        -0.5 * (k - 1) * _LOG_2PI + 0.5 * np.log(k) - 0.5 * sum_log - 0.5 * np.log(sw) - 0.5 * rss
    )
    return ll_ml, ll_reml, w, sw


def iterative_tau2(
    d: CellData, method: str, *, max_iter: int, labels: Sequence[Hashable]
) -> tuple[FloatArray, FloatArray, IntArray]:
    """PM/EB, ML or REML: tau², SE and iterations for every cell of d (k >= 2)."""
    n_cells = d.k.shape[0]
    tau2 = np.zeros(n_cells)
    iterations = np.zeros(n_cells, dtype=np.intp)
    if method in ("PM", "EB"):
        q = q_and_traces(d)[0]
        todo = np.flatnonzero(q > d.k - 1)
        start = np.zeros(todo.shape[0])
    else:
        todo = np.arange(n_cells)
        start = _hedges(d)[0]
    if todo.shape[0]:
        sub = d if todo.shape[0] == n_cells else d.subset(todo)
        sub_labels = [labels[i] for i in todo.tolist()] if todo.shape[0] != n_cells else labels
        tau2[todo], iterations[todo] = _solve(
            sub, start, method, max_iter=max_iter, labels=sub_labels
        )

    if method in ("ML", "REML"):
        tau2 = _fisher_retry(d, tau2, start, method, max_iter=max_iter)
        # metafor's ll0check: prefer tau² = 0 when its log-likelihood is higher.
        index = 1 if method == "REML" else 0
        ll_zero = cell_log_likelihoods(d, np.zeros(n_cells))[index]
        ll_root = cell_log_likelihoods(d, tau2)[index]
        tau2 = np.where((tau2 > 0.0) & (ll_zero - ll_root > LL_TOL), 0.0, tau2)

    w = 1.0 / (d.v + d.seg.spread(tau2))
    w2 = w * w
    sw, sw2, sw3 = d.seg.sum(np.stack([w, w2, w2 * w]))
    if method in ("PM", "EB"):
        se = np.sqrt(2.0 * d.k * d.k / (d.k - 1)) / sw
    elif method == "ML":
        se = np.sqrt(2.0 / sw2)
    else:
        se = np.sqrt(2.0 / (sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2))
    return tau2, se, iterations
