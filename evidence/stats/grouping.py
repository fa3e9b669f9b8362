"""Grouping effect sizes: integer codes for labels, and the cluster layout.

Both pooling engines start by turning the caller's labels into integer codes. The one
helper that does it, :func:`factorize`, applies the same rules to cell and cluster
labels everywhere:

* numeric, boolean and string numpy arrays are coded through ``np.unique``: the codes
  follow the sorted labels, which come back as Python scalars;
* anything else (lists, object arrays, tuples such as ``(row, column)`` cell keys) is
  coded in order of first appearance, each label kept as given;
* a missing label (None or NaN) is refused with a StatsError: an effect size whose
  cell or study is unknown cannot be placed, and pooling it under a "None" cell or
  study would silently mix unrelated effect sizes.

The multilevel engine then works on a :class:`ClusterLayout`: effect sizes sorted by
(cell, cluster, input position), clusters of equal size grouped so that their blocks
can be stacked into 3-D arrays, and sums per cluster or per cell taken with
``np.bincount``.

Not here: checking that there is one label per effect size (each engine words that
message itself), the segment layout of the univariate many-cell engine
(cells_tau2.py), and the block matrices built on a layout (linalg.py).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .results import FloatArray, IntArray, StatsError

__all__ = ["ClusterLayout", "SizeGroup", "cluster_layout", "factorize", "group_sum", "is_missing"]


def is_missing(label: object) -> bool:
    """None, or a NaN (the only value unequal to itself; pandas and numpy mark missing so)."""
    return label is None or (isinstance(label, float | np.floating) and label != label)


def factorize(
    labels: Iterable[Hashable] | npt.ArrayLike, name: str
) -> tuple[IntArray, list[Hashable]]:
    """Integer code per entry of ``labels`` and the label of each code.

    ``name`` ("cell", "cluster") is used in error messages. Raises StatsError for
    missing or unhashable labels and for numpy arrays of more than one dimension.
    """
    if isinstance(labels, np.ndarray) and labels.ndim == 1 and labels.dtype.kind in "biufUS":
        if labels.dtype.kind == "f" and np.isnan(labels).any():
            raise StatsError(f"{name} labels must not be missing (NaN)")
        uniques, codes = np.unique(labels, return_inverse=True)
        return codes.astype(np.intp, copy=False).reshape(-1), list(uniques.tolist())
    if isinstance(labels, np.ndarray) and labels.ndim != 1 and labels.dtype != object:
        raise StatsError(f"{name} must be one-dimensional")
    # Generic path: a dict keeps tuples (e.g. (row, column) cell keys) intact, which
    # np.asarray would turn into a 2-D array.
    index: dict[Hashable, int] = {}
    items: Iterable[Any] = labels  # type: ignore[assignment]
    try:
        codes = np.fromiter((index.setdefault(c, len(index)) for c in items), dtype=np.intp)
    except TypeError as exc:
        raise StatsError(f"{name} labels must be hashable: {exc}") from exc
    # Every label is a key of the index, so checking the distinct labels is enough.
    if any(is_missing(label) for label in index):
        raise StatsError(f"{name} labels must not be missing (None/NaN)")
    return codes, list(index)


# --------------------------------------------------------------------------------------
# the cluster layout: effect sizes sorted by cell and cluster, clusters grouped by size
# --------------------------------------------------------------------------------------


def group_sum(index: IntArray, values: FloatArray, n: int) -> FloatArray:
    """Sums of values by group index (0..n-1)."""
    return np.asarray(np.bincount(index, weights=values, minlength=n), dtype=np.float64)


@dataclass(frozen=True)
class SizeGroup:
    """All clusters of one size n: their indices and the (m, n) rows they occupy."""

    clusters: IntArray
    rows: IntArray


@dataclass(frozen=True)
class ClusterLayout:
    y: FloatArray  # centred per cell (see cluster_layout)
    v: FloatArray
    centre: FloatArray  # per cell, added back to the estimate
    position: IntArray  # input position of each sorted row
    row_cell: IntArray
    row_cluster: IntArray
    cluster_cell: IntArray
    cluster_size: IntArray
    n_cells: int
    groups: tuple[SizeGroup, ...]

    @property
    def n_rows(self) -> int:
        return int(self.y.size)

    def cell_sum(self, per_cluster: FloatArray) -> FloatArray:
        return group_sum(self.cluster_cell, per_cluster, self.n_cells)

    def cell_sum_rows(self, per_row: FloatArray) -> FloatArray:
        return group_sum(self.row_cell, per_row, self.n_cells)

    def cluster_sum(self, per_row: FloatArray) -> FloatArray:
        return group_sum(self.row_cluster, per_row, self.cluster_size.size)

    def k(self) -> FloatArray:
        return np.bincount(self.row_cell, minlength=self.n_cells).astype(np.float64)

    def n_clusters(self) -> FloatArray:
        return np.bincount(self.cluster_cell, minlength=self.n_cells).astype(np.float64)


def cluster_layout(
    y: FloatArray, v: FloatArray, cells: IntArray, clusters: IntArray
) -> ClusterLayout:
    """Sort rows by (cell, cluster, input position) and index the cluster blocks.

    ``y`` is centred per cell (the cell means are kept in ``centre``): the models are
    location invariant, and centring keeps the expanded quadratic forms of the fits
    free of cancellation.
    """
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
    # Clusters grouped by size with one stable sort (ascending cluster index in a group).
    by_size = np.argsort(sizes, kind="stable")
    group_sizes, group_starts = np.unique(sizes[by_size], return_index=True)
    group_ends = np.append(group_starts[1:], by_size.size)
    groups = []
    for size, first, last in zip(
        group_sizes.tolist(), group_starts.tolist(), group_ends.tolist(), strict=True
    ):
        members = by_size[first:last]
        rows = starts[members][:, None] + np.arange(size)[None, :]
        groups.append(SizeGroup(clusters=members.astype(np.intp), rows=rows.astype(np.intp)))
    y_sorted = y[order]
    k = np.bincount(cell_sorted, minlength=n_cells)
    centre = np.bincount(cell_sorted, weights=y_sorted, minlength=n_cells) / k
    return ClusterLayout(
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
