"""robumeta's working models: correlated (CORR) and hierarchical (HIER) effects weights.

Hedges, Tipton & Johnson (2010), as R robumeta ``robu(modelweights = "CORR", rho)`` and
``robu(modelweights = "HIER")`` compute them for an intercept-only model: method-of-
moments estimates of the variance components (tau² for CORR; tau² and omega² for HIER)
and the approximately inverse-variance weights built from them. Every quantity is a
per-cluster or per-cell sum, for all cells of a layout at once.

The hierarchical estimates also serve as cheap starting values for the REML fits
(multilevel.py). Not here: the robust variance and df that robumeta pairs with these
weights (robust.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .grouping import ClusterLayout
from .results import FloatArray

__all__ = ["RobuFit", "robu_corr", "robu_hier"]


@dataclass(frozen=True)
class RobuFit:
    tau2: FloatArray
    omega2: FloatArray  # NaN for CORR
    i2: FloatArray  # NaN for HIER
    weights: FloatArray  # per row, robumeta's r.weights


def robu_corr(layout: ClusterLayout, rho: float) -> RobuFit:
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
    return RobuFit(
        tau2=tau2,
        omega2=np.full(layout.n_cells, np.nan),
        i2=i2,
        weights=r_weights[layout.row_cluster],
    )


def robu_hier(layout: ClusterLayout) -> RobuFit:
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
    return RobuFit(tau2=tau2, omega2=omega2, i2=np.full(layout.n_cells, np.nan), weights=r_weights)
