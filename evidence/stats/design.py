"""Model matrices for meta-regression: moderators to columns.

One or several moderators (a sequence of values, or a mapping of name -> values) become
an intercept plus one column per continuous moderator and, for a categorical one,
treatment-coded indicators of every level but the reference (R's ``factor``: levels
sorted, the first is the reference). A row whose value is missing for any moderator
(None, NaN or an empty string) is left out, as metafor leaves out rows with NA.

Not here: the fits (metareg.py, metareg_clustered.py).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .grouping import is_missing
from .results import BoolArray, FloatArray, StatsError

__all__ = ["Design", "Moderators", "build_design"]

# A single moderator (its values), or several by name.
Moderators = Sequence[Any] | np.ndarray | Mapping[str, Sequence[Any] | np.ndarray]

_DEFAULT_NAME = "moderator"


@dataclass(frozen=True)
class Design:
    """The model matrix of the rows kept, its column names and which input rows it kept."""

    x: FloatArray  # (k kept, p)
    coef_names: tuple[str, ...]
    keep: BoolArray  # per input row
    levels: dict[str, list[Any]]  # levels of each categorical moderator, reference first

    @property
    def p(self) -> int:
        return int(self.x.shape[1])


def _missing(value: Any) -> bool:
    return is_missing(value) or (isinstance(value, str) and not value.strip())


def _named(moderator: Moderators) -> dict[str, list[Any]]:
    if isinstance(moderator, Mapping):
        if not moderator:
            raise StatsError("no moderator given")
        return {str(name): list(values) for name, values in moderator.items()}
    return {_DEFAULT_NAME: list(np.asarray(moderator, dtype=object).ravel())}


def _categorical_names(categorical: bool | Collection[str], names: list[str]) -> set[str]:
    if isinstance(categorical, bool):
        return set(names) if categorical else set()
    unknown = set(categorical) - set(names)
    if unknown:
        raise StatsError(f"categorical names unknown moderators: {sorted(unknown)}")
    return set(categorical)


def build_design(moderator: Moderators, n: int, *, categorical: bool | Collection[str]) -> Design:
    """The model matrix for ``n`` effect sizes.

    ``categorical`` is a bool (for every moderator) or the names of the categorical
    ones. Raises StatsError naming the moderator when its length differs from ``n``,
    a continuous value is not a number, or it takes a single value among the rows kept
    (its effect cannot be estimated).
    """
    named = _named(moderator)
    cat = _categorical_names(categorical, list(named))
    keep = np.ones(n, dtype=bool)
    for name, values in named.items():
        if len(values) != n:
            raise StatsError(f"moderator {name!r} has {len(values)} values for {n} effect sizes")
        keep &= np.array([not _missing(value) for value in values], dtype=bool)
    columns: list[FloatArray] = [np.ones(int(keep.sum()))]
    coef_names = ["intrcpt"]
    levels: dict[str, list[Any]] = {}
    for name, values in named.items():
        kept = [value for value, use in zip(values, keep.tolist(), strict=True) if use]
        if name in cat:
            found = _sorted_levels(kept)
            if len(found) < 2:
                raise StatsError(
                    f"moderator {name!r} has a single level ({found[0]!r}) among the rows "
                    "with data: subgroups cannot be compared"
                    if found
                    else f"moderator {name!r} has no values"
                )
            levels[name] = found
            index = {level: i for i, level in enumerate(found)}
            codes = np.array([index[value] for value in kept], dtype=np.intp)
            for i, level in enumerate(found[1:], start=1):
                columns.append((codes == i).astype(np.float64))
                coef_names.append(f"{name}={level}")
        else:
            try:
                numbers = np.array([float(value) for value in kept], dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise StatsError(f"moderator {name!r} must be numeric: {exc}") from exc
            if not np.all(np.isfinite(numbers)):
                raise StatsError(f"moderator {name!r} has a non-finite value")
            if numbers.size and np.all(numbers == numbers[0]):
                raise StatsError(
                    f"moderator {name!r} takes the single value {numbers[0]:g} in every row "
                    "with data: its effect cannot be estimated"
                )
            columns.append(numbers)
            coef_names.append(name)
    x = np.column_stack(columns)
    if x.shape[0] and np.linalg.matrix_rank(x) < x.shape[1]:
        raise StatsError(
            "the moderators are collinear (one is a combination of the others): "
            f"columns {coef_names}"
        )
    return Design(x=x, coef_names=tuple(coef_names), keep=keep, levels=levels)


def _sorted_levels(values: list[Any]) -> list[Any]:
    distinct = list(dict.fromkeys(values))
    try:
        return sorted(distinct)
    except TypeError:
        return sorted(distinct, key=str)
