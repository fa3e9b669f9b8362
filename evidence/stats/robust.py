"""Cluster-robust variance of a pooled mean: CR2 with Satterthwaite df, and CR1.

Given the working model's weights and marginal covariance blocks (from the multilevel
or robumeta fits), :func:`cr2` is the bias-reduced linearisation sandwich of Bell &
McCaffrey (2002) with the working-model Satterthwaite degrees of freedom (Tipton 2015;
Pustejovsky & Tipton 2018), what clubSandwich ``coef_test(vcov = "CR2")`` and robumeta
``small = TRUE`` compute; :func:`cr1` is the CR1 sandwich (CR0 x J/(J-1)) with J - 1 df
(metafor ``robust(adjust = TRUE)``, robumeta ``small = FALSE``). Both are per cell, for
all cells of a layout at once, and need only per-cluster sums (no J x J matrix).

Not here: the working models themselves (multilevel.py, rve.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .grouping import ClusterLayout
from .linalg import matvec, quad, sym_power
from .results import FloatArray

__all__ = ["cr1", "cr2"]


def cr2(
    layout: ClusterLayout, phi: Sequence[FloatArray], resid: FloatArray, sum_w: FloatArray
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
        adjust = root @ sym_power(b_mat, -0.5) @ root
        u = matvec(adjust, w) / s_cl[:, None]
        ue[group.clusters] = (u * resid[group.rows]).sum(axis=1)
        q[group.clusters] = quad(u, block, u)
        t[group.clusters] = u.sum(axis=1)
    cs = layout.cell_sum
    variance = cs(ue**2)
    t2 = t**2
    expected = cs(q) - cs(t2) / sum_w
    spread = cs(q**2) - 2.0 * cs(q * t2) / sum_w + cs(t2) ** 2 / sum_w**2
    with np.errstate(divide="ignore", invalid="ignore"):
        df = expected**2 / spread
    return variance, df


def cr1(
    layout: ClusterLayout, w_rows: FloatArray, resid: FloatArray, sum_w: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """CR1 sandwich (CR0 x J/(J-1)) with J - 1 df: metafor robust(adjust=TRUE)."""
    score = layout.cluster_sum(w_rows * resid) / sum_w[layout.cluster_cell]
    n_cl = layout.n_clusters()
    return layout.cell_sum(score**2) * n_cl / (n_cl - 1.0), n_cl - 1.0
