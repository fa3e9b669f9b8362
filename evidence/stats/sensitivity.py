"""Sensitivity of a pooled effect: each study left out in turn, and the within-study correlation.

Leave-one-out works by study (cluster), not by effect size: a study that contributes several
effect sizes leaves with all of them, which is what a reader means by "without this study".
Every refit is the pooling the cell itself uses (``pool_cells_clustered``: the CHE working
model where studies contribute several effect sizes, the univariate random-effects model
where each contributes one), and all J refits run as one batched call. With one effect size
per study this is metafor's ``leave1out``. Per-effect-size leave-one-out and trim-and-fill
are in pubbias.py.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .clustered import pool_cells_clustered, pool_clustered
from .grouping import factorize
from .results import ClusteredResult, ConvergenceError, FloatArray, IntArray, StatsError

__all__ = ["LeaveOneClusterOut", "leave_one_cluster_out", "pool_by_correlation"]


@dataclass(frozen=True, kw_only=True)
class LeaveOneClusterOut:
    """The pooled effect refitted J times, each time without one cluster (study).

    Element j of every array is the fit without ``clusters[j]`` (clusters in sorted order);
    a refit that cannot be made (e.g. what is left is one study with several effect sizes) is
    NaN there, with its reason in ``errors`` under the cluster's label. ``k`` is the number of
    effect sizes left in; ``model`` the working model of each refit ("CHE", "univariate", "")."""

    clusters: list[Hashable]
    k: IntArray
    model: list[str]
    estimate: FloatArray
    se: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    p_value: FloatArray
    tau2: FloatArray
    i2: FloatArray
    errors: dict[Hashable, str]


_COLUMNS = ("estimate", "se", "ci_low", "ci_high", "p_value", "tau2", "i2")


def leave_one_cluster_out(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    cluster: Iterable[Hashable] | npt.ArrayLike,
    *,
    model: str = "CHE",
    rho: float = 0.8,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
) -> LeaveOneClusterOut:
    """Each cluster left out in turn, the rest pooled as ``pool_clustered`` pools them (the
    keywords are its keywords). Needs at least two clusters."""
    y = np.asarray(yi, dtype=np.float64)
    v = np.asarray(vi, dtype=np.float64)
    codes, labels = factorize(cluster, "cluster")
    k, n = y.size, len(labels)
    if codes.size != k or v.size != k:
        raise StatsError(f"yi has {k} entries, vi {v.size} and cluster {codes.size}")
    if n < 2:
        raise StatsError("leave-one-out needs at least 2 studies (clusters)")
    # Refit j holds every row not in cluster j: rows (refit, effect size), refit-major.
    refit = np.repeat(np.arange(n), k)
    row = np.tile(np.arange(k), n)
    keep = codes[row] != refit
    refit, row = refit[keep], row[keep]
    errors: dict[Hashable, str] = {}
    results = pool_cells_clustered(
        y[row], v[row], refit, codes[row],
        model=model, rho=rho, method=method, test=test, level=level, errors=errors,
    )
    columns = {name: np.full(n, np.nan) for name in _COLUMNS}
    models = [""] * n
    for j, result in results.items():
        index = int(j)  # type: ignore[call-overload]
        models[index] = result.model
        for name in _COLUMNS:
            columns[name][index] = getattr(result, name)
    return LeaveOneClusterOut(
        clusters=labels,
        k=np.bincount(refit, minlength=n).astype(np.intp),
        model=models,
        errors={labels[int(j)]: reason for j, reason in errors.items()},  # type: ignore[call-overload]
        **columns,
    )


def pool_by_correlation(
    yi: npt.ArrayLike,
    vi: npt.ArrayLike,
    cluster: Iterable[Hashable] | npt.ArrayLike,
    rhos: Sequence[float],
    *,
    model: str = "CHE",
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
) -> dict[float, ClusteredResult | str]:
    """The pooled effect under each assumed within-study correlation (CE/CHE), or the reason
    a fit could not be made."""
    out: dict[float, ClusteredResult | str] = {}
    for rho in rhos:
        try:
            out[rho] = pool_clustered(yi, vi, cluster, model=model, rho=rho, method=method, test=test, level=level)
        except (StatsError, ConvergenceError) as problem:
            out[rho] = str(problem)
    return out
