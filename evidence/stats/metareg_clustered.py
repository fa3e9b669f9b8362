"""Meta-regression when studies contribute several effect sizes, with robust tests.

``meta_regression_clustered`` fits a multilevel working model with moderators by REML
(metafor ``rma.mv(yi, V, mods = ..., random = ~ 1 | cluster/es)``) and tests the
coefficients with the CR2 cluster-robust variance, as clubSandwich does:

* ``coef_test(vcov = "CR2")``: each coefficient against a t with the Satterthwaite df
  (Bell & McCaffrey 2002; Tipton 2015);
* ``Wald_test(constrain_zero(2:p), vcov = "CR2", test = "HTZ")``: all moderator
  coefficients at once with the Hotelling T² approximation of Tipton & Pustejovsky
  (2015), F = (eta - q + 1) / (eta q) Q on (q, eta - q + 1) df, eta = q (q + 1) /
  (sum of the variances of the normalised robust covariance's entries).

Working models (as in clustered.py): CHE (V imputed with ``rho``, between- and
within-cluster variances), CE (imputed V, between-cluster variance only) and 3L
(V = diag(vi), both variances).

This serves one cell at a time (the cell page's "why do the studies differ?"), so it
works with the dense k x k block-diagonal covariance: simple and exact for the few
hundred effect sizes of a cell. The intercept-only pooling of whole maps is the
batched engine in clustered.py.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from .design import Moderators, build_design
from .grouping import factorize
from .linalg import sym_power
from .options import check_inputs
from .results import ConvergenceError, FloatArray, StatsError

__all__ = ["MAX_EFFECTS", "ClusteredMetaRegression", "meta_regression_clustered"]

# The fit is dense in k (see above): beyond this many effect sizes it would take too much
# memory and time for a page, so it refuses with a clear error instead.
MAX_EFFECTS = 2000
_MAX_ITER = 500
_TOL = 1e-12


@dataclass(frozen=True, kw_only=True)
class ClusteredMetaRegression:
    """A meta-regression of dependent effect sizes with CR2 tests.

    Per coefficient (``coef_names``): ``b``, ``se`` (CR2), ``model_se`` (model based),
    ``statistic`` = b / se, ``df`` (Satterthwaite), ``p_value``, ``ci_low``/``ci_high``.
    ``sigma2`` holds the variance components (between clusters, then within clusters;
    the second is 0 for CE). ``wald_*`` is the HTZ test that every coefficient but the
    intercept is zero.
    """

    model: str
    rho: float | None
    level: float
    k: int
    n_clusters: int
    coef_names: tuple[str, ...]
    b: FloatArray
    sigma2: tuple[float, float]
    se: FloatArray
    model_se: FloatArray
    statistic: FloatArray
    df: FloatArray
    p_value: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    wald_f: float
    wald_df_num: int
    wald_df_denom: float
    wald_p: float
    iterations: int
    levels: dict[str, list[Any]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# the working model and its REML fit
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Model:
    y: FloatArray
    x: FloatArray
    v: FloatArray  # sampling covariance (k x k, block diagonal)
    same: FloatArray  # 1 where two rows share a cluster (the tau² structure)
    clusters: list[npt.NDArray[np.intp]]  # rows of each cluster


def _marginal(model: _Model, sigma: FloatArray) -> FloatArray:
    return np.asarray(model.v + sigma[0] * model.same + sigma[1] * np.eye(model.y.shape[0]))


@dataclass(frozen=True)
class _State:
    ll: float
    p: FloatArray  # REML projection P = W - W X M X' W
    m: FloatArray  # (X'WX)⁻¹
    b: FloatArray
    w: FloatArray  # marginal covariance inverse


def _state(model: _Model, sigma: FloatArray) -> _State:
    marg = _marginal(model, sigma)
    try:
        chol = np.linalg.cholesky(marg)
    except np.linalg.LinAlgError as exc:
        raise StatsError("the marginal covariance is not positive definite") from exc
    w = np.linalg.inv(marg)
    w = 0.5 * (w + w.T)
    xw = model.x.T @ w
    xwx = xw @ model.x
    m = np.asarray(np.linalg.inv(xwx), dtype=np.float64)
    b = m @ (xw @ model.y)
    wx = xw.T
    p = w - wx @ m @ wx.T
    r = model.y - model.x @ b
    logdet_marg = 2.0 * float(np.log(np.diag(chol)).sum())
    logdet_xwx = float(np.linalg.slogdet(xwx)[1])
    ll = -0.5 * (logdet_marg + logdet_xwx + float(r @ w @ r))
    return _State(ll=ll, p=p, m=m, b=b, w=w)


def _score_and_information(
    model: _Model, state: _State, free: list[int]
) -> tuple[FloatArray, FloatArray]:
    """REML score and Fisher information in the free variance components."""
    derivs = [model.same, np.eye(model.y.shape[0])]
    py = state.p @ model.y
    pd = [state.p @ derivs[i] for i in free]
    score = np.array(
        [
            0.5 * (float(py @ derivs[i] @ py) - float(np.trace(pd_i)))
            for i, pd_i in zip(free, pd, strict=True)
        ]
    )
    info = np.array([[0.5 * float(np.sum(a * b.T)) for b in pd] for a in pd])
    return score, info


def _fit_reml(model: _Model, free_omega: bool) -> tuple[FloatArray, _State, int]:
    """REML variance components by Fisher scoring with step halving, kept >= 0 (a
    component that the scoring pushes below zero is held at zero while its score there
    is negative)."""
    k = model.y.shape[0]
    scale = float(np.mean(np.diag(model.v)))
    ols = np.linalg.lstsq(model.x, model.y, rcond=None)[0]
    spread = float(np.var(model.y - model.x @ ols))
    start = max(spread - scale, 0.1 * scale)
    sigma = np.array([0.5 * start, 0.5 * start if free_omega else 0.0])
    components = [0, 1] if free_omega else [0]
    state = _state(model, sigma)
    for iteration in range(1, _MAX_ITER + 1):
        free = [i for i in components if sigma[i] > 0.0]
        # A component at zero is freed again when the likelihood rises into the interior.
        for i in components:
            if i not in free:
                score, _ = _score_and_information(model, state, [i])
                if score[0] > 0.0:
                    free.append(i)
        free.sort()
        if not free:
            return sigma, state, iteration
        score, info = _score_and_information(model, state, free)
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError as exc:
            raise ConvergenceError("REML information matrix is singular") from exc
        accepted = False
        for _ in range(60):
            trial = sigma.copy()
            trial[free] = np.maximum(sigma[free] + step, 0.0)
            trial_state = _state(model, trial)
            if trial_state.ll >= state.ll - 1e-14 * abs(state.ll):
                accepted = True
                break
            step = 0.5 * step
        if not accepted:
            return sigma, state, iteration
        change = np.max(np.abs(trial - sigma) / (trial + scale))
        sigma, state = trial, trial_state
        if change <= _TOL:
            return sigma, state, iteration
    raise ConvergenceError(f"REML did not converge in {_MAX_ITER} iterations (k = {k})")


# --------------------------------------------------------------------------------------
# CR2 and the small-sample tests
# --------------------------------------------------------------------------------------


def _sym_power(matrix: FloatArray, power: float) -> FloatArray:
    """One symmetric matrix's power (linalg.sym_power, on its symmetric part)."""
    return np.asarray(sym_power((0.5 * (matrix + matrix.T))[None], power)[0])


def _cr2_pieces(model: _Model, state: _State, marg: FloatArray) -> list[FloatArray]:
    """Per cluster j, the p x k matrix E_j with b's robust variance = Σ_j E_j y y' E_j'.

    E_j = M X_j' W_j A_j (I - H)_j with A_j the CR2 adjustment of Bell & McCaffrey
    (2002) for inverse-variance working weights W_j = Φ_j⁻¹ (Φ the fitted marginal
    covariance), as clubSandwich forms it:
    A_j = Φ_j^½ (Φ_j^½ (Φ_j - X_j M X_j') Φ_j^½)^-½ Φ_j^½,
    so that A_j E[r_j r_j'] A_j = Φ_j under the working model.
    """
    k = model.y.shape[0]
    hat = np.eye(k) - model.x @ state.m @ model.x.T @ state.w  # I - H
    pieces = []
    for rows in model.clusters:
        phi = marg[np.ix_(rows, rows)]
        w_j = np.linalg.inv(phi)
        root = _sym_power(phi, 0.5)
        x_j = model.x[rows]
        b_j = root @ (phi - x_j @ state.m @ x_j.T) @ root
        adjust = root @ _sym_power(b_j, -0.5) @ root
        pieces.append(state.m @ x_j.T @ w_j @ adjust @ hat[rows])
    return pieces


def _eta(constraint: FloatArray, pieces: list[FloatArray], marg: FloatArray) -> float:
    """Hotelling degrees of freedom eta for the constraints C (q x p): q (q + 1) over the
    summed variances of the entries of Ω^-½ C V_CR2 C' Ω^-½ under the working model,
    Ω = E[C V_CR2 C'] (Tipton & Pustejovsky 2015; clubSandwich ``total_variance_mat``).
    With q = 1 this is the Satterthwaite df of coef_test."""
    q = constraint.shape[0]
    g = np.stack([constraint @ e for e in pieces])  # (J, q, k): rows g_sj'
    gp = np.einsum("isk,kl->isl", g, marg)
    cov = np.einsum("isl,jtl->stij", gp, g)  # g_si' Φ g_tj
    omega = np.einsum("stii->st", cov)
    root = _sym_power(omega, -0.5)
    norm = np.einsum("as,stij,tb->abij", root, cov, root)
    var = np.einsum("stij,tsij->st", norm, norm) + np.einsum("ssij,ttij->st", norm, norm)
    return float(q * (q + 1) / var.sum())


# --------------------------------------------------------------------------------------
# public
# --------------------------------------------------------------------------------------


def meta_regression_clustered(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    cluster: Iterable[Hashable] | npt.NDArray[Any],
    moderator: Moderators,
    *,
    categorical: bool | Collection[str] = False,
    model: str = "CHE",
    rho: float = 0.8,
    level: float = 0.95,
) -> ClusteredMetaRegression:
    """Meta-regression of dependent effect sizes (several per ``cluster``) with CR2 tests.

    ``moderator`` and ``categorical`` as in ``meta_regression`` (rows with a missing
    moderator are left out). ``model``: "CHE" (default), "CE" or "3L"; ``rho`` the
    assumed correlation of effect sizes within a cluster (CHE, CE; 0 <= rho < 1).

    Raises StatsError for unusable input, fewer than two clusters, no more clusters than
    coefficients (the robust variance needs J > p) or more than ``MAX_EFFECTS`` effect
    sizes, and ConvergenceError when REML does not converge.
    """
    if model not in ("CHE", "CE", "3L"):
        raise StatsError(f"unknown model {model!r}; choose 'CHE', 'CE' or '3L'")
    if model != "3L" and not (0.0 <= rho < 1.0):
        raise StatsError(f"rho must be in [0, 1) (got {rho!r})")
    if not 0.0 < level < 1.0:
        raise StatsError(f"level must be between 0 and 1 (got {level!r})")
    y_all, v_all = check_inputs(yi, vi)
    n = y_all.shape[0]
    codes_all, _ = factorize(cluster, "cluster")
    if codes_all.shape[0] != n:
        raise StatsError(f"cluster has {codes_all.shape[0]} entries, yi has {n}")
    design = build_design(moderator, n, categorical=categorical)
    y, v, x = y_all[design.keep], v_all[design.keep], design.x
    codes = np.unique(codes_all[design.keep], return_inverse=True)[1].reshape(-1)
    k, p = y.shape[0], design.p
    if k > MAX_EFFECTS:
        raise StatsError(
            f"{k} effect sizes with moderator values: the robust meta-regression is limited to "
            f"{MAX_EFFECTS} effect sizes"
        )
    n_clusters = int(codes.max()) + 1 if k else 0
    if n_clusters <= p:
        raise StatsError(
            f"the robust tests need more studies than coefficients: {n_clusters} studies, "
            f"{p} coefficients"
        )
    clusters = [np.flatnonzero(codes == j) for j in range(n_clusters)]
    same = (codes[:, None] == codes[None, :]).astype(np.float64)
    sd = np.sqrt(v)
    corr = 0.0 if model == "3L" else rho
    sampling = corr * np.outer(sd, sd) * same
    np.fill_diagonal(sampling, v)
    working = _Model(y=y, x=x, v=sampling, same=same, clusters=clusters)
    sigma, state, iterations = _fit_reml(working, free_omega=model != "CE")
    marg = _marginal(working, sigma)

    pieces = _cr2_pieces(working, state, marg)
    r = y - x @ state.b
    contributions = np.stack([e @ r for e in pieces])  # (J, p)
    vcov = contributions.T @ contributions
    se = np.sqrt(np.diag(vcov))
    eye = np.eye(p)
    df = np.array([_eta(eye[[i]], pieces, marg) for i in range(p)])
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = state.b / se
    p_value = 2.0 * special.stdtr(df, -np.abs(statistic))
    crit = -special.stdtrit(df, (1.0 - level) / 2.0)

    constraint = eye[1:]
    q = p - 1
    cb = constraint @ state.b
    wald_q = float(cb @ np.linalg.solve(constraint @ vcov @ constraint.T, cb))
    eta = _eta(constraint, pieces, marg)
    denom = eta - q + 1.0
    wald_f = max((eta - q + 1.0) / eta, 0.0) * wald_q / q
    wald_p = float(special.fdtrc(q, denom, wald_f)) if denom > 0 else math.nan
    return ClusteredMetaRegression(
        model=model,
        rho=None if model == "3L" else rho,
        level=level,
        k=int(k),
        n_clusters=n_clusters,
        coef_names=design.coef_names,
        b=state.b,
        sigma2=(float(sigma[0]), float(sigma[1])),
        se=se,
        model_se=np.sqrt(np.diag(state.m)),
        statistic=statistic,
        df=df,
        p_value=np.asarray(p_value),
        ci_low=state.b - crit * se,
        ci_high=state.b + crit * se,
        wald_f=wald_f,
        wald_df_num=q,
        wald_df_denom=denom,
        wald_p=wald_p,
        iterations=iterations,
        levels=design.levels,
    )
