"""Grouping effect sizes by label: integer codes for map cells and studies (clusters).

Both pooling engines start by turning the caller's labels into integer codes. This
module holds the one helper that does it, so that cell and cluster labels follow the
same rules everywhere:

* numeric, boolean and string numpy arrays are coded through ``np.unique``: the codes
  follow the sorted labels, which come back as Python scalars;
* anything else (lists, object arrays, tuples such as ``(row, column)`` cell keys) is
  coded in order of first appearance, each label kept as given;
* a missing label (None or NaN) is refused with a StatsError: an effect size whose
  cell or study is unknown cannot be placed, and pooling it under a "None" cell or
  study would silently mix unrelated effect sizes.

What is not here: checking that there is one label per effect size (each engine words
that message itself), and the sorted layouts the engines compute on (see
:mod:`evidence.stats.cells_tau2` and :mod:`evidence.stats.layout`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from .results import IntArray, StatsError

__all__ = ["factorize", "is_missing"]


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
