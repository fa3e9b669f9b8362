"""Read the metafor reference files in tests/data/metafor (schema: SOURCE.md there)."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "metafor"

UNIVARIATE_FILES = (
    "bcg",
    "normand1999",
    "hackshaw1998",
    "edge_k1",
    "edge_k2",
    "edge_identical_yi",
)
# Files that carry publication-bias and leave-one-out sections.
PUBBIAS_FILES = ("bcg", "normand1999", "hackshaw1998")

REL_TOL = 1e-6
ABS_TOL = 1e-9


@cache
def load(name: str) -> dict[str, Any]:
    with (DATA_DIR / f"{name}.json").open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def inputs(name: str) -> tuple[list[float], list[float]]:
    data = load(name)
    return list(data["input"]["yi"]), list(data["input"]["vi"])


def number(value: Any) -> float | None:
    """JSON value -> float; R's NA (null) -> None; "NaN"/"Infinity" strings -> float."""
    if value is None:
        return None
    return float(value)


def assert_close(
    actual: float | None,
    expected: Any,
    what: str,
    *,
    rel: float = REL_TOL,
    abs_tol: float = ABS_TOL,
) -> None:
    """Compare to a reference value: relative tolerance, absolute near zero.

    A reference NA (None) must be matched by None, or NaN where our type is a float.
    """
    reference = number(expected)
    if reference is None:
        assert actual is None or math.isnan(actual), f"{what}: expected NA, got {actual!r}"
        return
    assert actual is not None, f"{what}: expected {reference!r}, got None"
    if math.isnan(reference):
        assert math.isnan(actual), f"{what}: expected NaN, got {actual!r}"
        return
    if math.isinf(reference):
        assert actual == reference, f"{what}: expected {reference!r}, got {actual!r}"
        return
    tolerance = max(rel * abs(reference), abs_tol)
    assert abs(actual - reference) <= tolerance, (
        f"{what}: expected {reference!r}, got {actual!r} (difference {actual - reference:.3g})"
    )


def assert_all_close(actual: Any, expected: Any, what: str) -> None:
    actual_list = [float(a) for a in actual]
    expected_list = list(expected)
    assert len(actual_list) == len(expected_list), (
        f"{what}: length {len(actual_list)} != {len(expected_list)}"
    )
    for i, (a, e) in enumerate(zip(actual_list, expected_list, strict=True)):
        assert_close(a, e, f"{what}[{i}]")
