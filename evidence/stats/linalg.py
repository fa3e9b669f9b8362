"""Batched linear algebra on the per-cluster blocks of a block-diagonal covariance.

Every covariance in the multilevel engine is block diagonal, one block per cluster.
Clusters of equal size are stacked (see :class:`evidence.stats.grouping.ClusterLayout`),
so each helper here works on a whole stack at once: (m, n, n) arrays of blocks and
(m, n) arrays of vectors, with numpy's batched routines. No k x k matrix is formed.

Here: the sampling-covariance blocks (diagonal, or imputed with a common correlation)
and diagonal blocks from per-row variances, inverses with log-determinants, symmetric
matrix powers, and stacked matrix-vector products and quadratic forms. Not here: what
the fits do with them (multilevel.py, robust.py).
"""

from __future__ import annotations

import numpy as np

from .grouping import ClusterLayout
from .results import FloatArray, StatsError

__all__ = [
    "diagonal_blocks",
    "inverse_and_logdet",
    "matvec",
    "quad",
    "sampling_blocks",
    "sym_power",
]

# Eigenvalues below this fraction of the largest are treated as zero in inverse square
# roots (clubSandwich uses a pseudo-inverse power as well, with an absolute 1e-12).
_EIG_TOL = 1e-12


# --------------------------------------------------------------------------------------
# building the blocks
# --------------------------------------------------------------------------------------


def sampling_blocks(layout: ClusterLayout, rho: float | None) -> list[FloatArray]:
    """Per size group, the (m, n, n) sampling covariance blocks V_j.

    diag(vi) when ``rho`` is None or 0; otherwise the covariances are imputed with the
    common correlation ``rho``: V_ij = rho * sqrt(vi * vj) within a cluster.
    """
    blocks = []
    for group in layout.groups:
        v = layout.v[group.rows]
        size = v.shape[1]
        if rho:
            sd = np.sqrt(v)
            block = rho * sd[:, :, None] * sd[:, None, :]
        else:
            block = np.zeros((v.shape[0], size, size))
        diag = np.arange(size)
        block[:, diag, diag] = v
        blocks.append(block)
    return blocks


def diagonal_blocks(layout: ClusterLayout, variances: FloatArray) -> list[FloatArray]:
    """Per size group, (m, n, n) diagonal blocks with the given per-row variances."""
    blocks = []
    for group in layout.groups:
        size = group.rows.shape[1]
        block = np.zeros((group.rows.shape[0], size, size))
        diag = np.arange(size)
        block[:, diag, diag] = variances[group.rows]
        blocks.append(block)
    return blocks


# --------------------------------------------------------------------------------------
# operations on stacks of blocks
# --------------------------------------------------------------------------------------


def sym_power(matrices: FloatArray, power: float) -> FloatArray:
    """Symmetric matrix power of a stack, eigenvalues ~0 mapped to 0 for power < 0."""
    values, vectors = _eigh2(matrices) if matrices.shape[1] == 2 else np.linalg.eigh(matrices)
    top = np.max(np.abs(values), axis=-1, keepdims=True)
    keep = values > _EIG_TOL * top
    safe = np.where(keep, values, 1.0)
    scaled = np.where(keep, safe**power, 0.0)
    return np.asarray((vectors * scaled[:, None, :]) @ np.swapaxes(vectors, -1, -2))


def quad(u: FloatArray, matrices: FloatArray, w: FloatArray) -> FloatArray:
    """u_j' A_j w_j for each cluster j of a stack."""
    return np.asarray(np.einsum("mi,mij,mj->m", u, matrices, w))


def matvec(matrices: FloatArray, x: FloatArray) -> FloatArray:
    return np.asarray(np.einsum("mij,mj->mi", matrices, x))


def inverse_and_logdet(marg: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Inverses and log-determinants of a stack of covariance blocks."""
    if marg.shape[1] == 1:
        # Singleton clusters are scalars; LAPACK calls would only add overhead.
        if np.any(marg <= 0.0):
            raise StatsError("the marginal covariance is not positive definite")
        return 1.0 / marg, np.log(marg[:, 0, 0])
    if marg.shape[1] in (2, 3):
        # The commonest blocks: the adjugate formula costs a fraction of a batched LAPACK
        # call per block, and the leading minors decide positive definiteness (Sylvester).
        return _small_inverse(marg)
    try:
        chol = np.linalg.cholesky(marg)
    except np.linalg.LinAlgError as exc:
        raise StatsError("the marginal covariance is not positive definite") from exc
    logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    return np.asarray(np.linalg.inv(marg)), logdet


def _small_inverse(marg: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Inverses and log-determinants of symmetric 2 x 2 or 3 x 3 blocks (adjugate / det)."""
    if marg.shape[1] == 2:
        a, b, d = marg[:, 0, 0], marg[:, 0, 1], marg[:, 1, 1]
        det = a * d - b * b
        if np.any(a <= 0.0) or np.any(det <= 0.0):
            raise StatsError("the marginal covariance is not positive definite")
        inv = np.empty_like(marg)
        inv[:, 0, 0] = d / det
        inv[:, 1, 1] = a / det
        inv[:, 0, 1] = inv[:, 1, 0] = -b / det
        return inv, np.log(det)
    a, b, c = marg[:, 0, 0], marg[:, 0, 1], marg[:, 0, 2]
    d, e, f = marg[:, 1, 1], marg[:, 1, 2], marg[:, 2, 2]
    c00 = d * f - e * e
    c01 = c * e - b * f
    c02 = b * e - c * d
    det = a * c00 + b * c01 + c * c02
    if np.any(a <= 0.0) or np.any(a * d - b * b <= 0.0) or np.any(det <= 0.0):
        raise StatsError("the marginal covariance is not positive definite")
    inv = np.empty_like(marg)
    inv[:, 0, 0] = c00 / det
    inv[:, 0, 1] = inv[:, 1, 0] = c01 / det
    inv[:, 0, 2] = inv[:, 2, 0] = c02 / det
    inv[:, 1, 1] = (a * f - c * c) / det
    inv[:, 1, 2] = inv[:, 2, 1] = (b * c - a * e) / det
    inv[:, 2, 2] = (a * d - b * b) / det
    return inv, np.log(det)


def _eigh2(matrices: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Eigenvalues and eigenvectors of symmetric 2 x 2 blocks in closed form (the rotation
    that diagonalises each), several times faster than a batched LAPACK call."""
    a, b, d = matrices[:, 0, 0], matrices[:, 0, 1], matrices[:, 1, 1]
    mean = 0.5 * (a + d)
    radius = np.hypot(0.5 * (a - d), b)
    large = mean + radius
    det = a * d - b * b
    # The smaller eigenvalue from the determinant where that is exact to rounding (no
    # cancellation in mean - radius when the block is nearly singular).
    with np.errstate(divide="ignore", invalid="ignore"):
        small = np.where(large > 0.0, det / large, mean - radius)
    angle = 0.5 * np.arctan2(2.0 * b, a - d)
    cos, sin = np.cos(angle), np.sin(angle)
    values = np.stack([small, large], axis=-1)
    vectors = np.empty_like(matrices)
    # Columns are the eigenvectors: (-sin, cos) for the smaller, (cos, sin) for the larger.
    vectors[:, 0, 0], vectors[:, 1, 0] = -sin, cos
    vectors[:, 0, 1], vectors[:, 1, 1] = cos, sin
    return values, vectors
