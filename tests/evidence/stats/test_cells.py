"""pool_cells(): every cell in one vectorised pass, equal to pool() on each cell alone."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.stats import cells as cells_module
from evidence.stats.cells import pool_cells
from evidence.stats.results import ConvergenceError, PoolResult, StatsError
from evidence.stats.univariate import METHODS, TESTS, pool

from .reference import UNIVARIATE_FILES, assert_all_close, assert_close, inputs, load

SCALARS = (
    "estimate",
    "se",
    "statistic",
    "p_value",
    "ci_low",
    "ci_high",
    "tau2",
    "i2",
    "h2",
    "q",
    "q_p",
    "pi_low",
    "pi_high",
    "s2w",
)


def _same(actual: float, expected: float, what: str, rel: float = 1e-10) -> None:
    if math.isnan(expected) or math.isinf(expected):
        assert actual == expected or (math.isnan(actual) and math.isnan(expected)), what
        return
    assert abs(actual - expected) <= max(rel * abs(expected), 1e-12), (
        f"{what}: {actual!r} != {expected!r}"
    )


def assert_same_result(actual: PoolResult, expected: PoolResult, where: str) -> None:
    """pool_cells' result for a cell equals pool()'s, to rounding error."""
    assert (actual.method, actual.test, actual.k, actual.df, actual.q_df) == (
        expected.method,
        expected.test,
        expected.k,
        expected.df,
        expected.q_df,
    ), where
    assert actual.level == expected.level
    for name in SCALARS:
        _same(getattr(actual, name), getattr(expected, name), f"{where} {name}")
    if expected.tau2_se is None:
        assert actual.tau2_se is None, where
    else:
        assert actual.tau2_se is not None, where
        _same(actual.tau2_se, expected.tau2_se, f"{where} tau2_se")
    np.testing.assert_allclose(actual.weights, expected.weights, rtol=1e-10, atol=1e-12)
    for mine, theirs in ((actual.fit_ml, expected.fit_ml), (actual.fit_reml, expected.fit_reml)):
        assert mine is not None and theirs is not None
        for name in ("ll", "dev", "aic", "bic", "aicc"):
            _same(getattr(mine, name), getattr(theirs, name), f"{where} fit {name}", rel=1e-9)
    assert actual.converged


# ------------------------------------------------------------------------------------
# the reference data sets as the cells of one map
# ------------------------------------------------------------------------------------


def _reference_map() -> tuple[list[float], list[float], list[str], list[int]]:
    """All six reference data sets as the cells of one map, rows interleaved.

    Also returns each row's index within its own data set."""
    rows: list[tuple[float, float, str, int]] = []
    for name in UNIVARIATE_FILES:
        y, v = inputs(name)
        rows += [(y[i], v[i], name, i) for i in range(len(y))]
    order = np.random.default_rng(7).permutation(len(rows))
    shuffled = [rows[i] for i in order]
    return (
        [r[0] for r in shuffled],
        [r[1] for r in shuffled],
        [r[2] for r in shuffled],
        [r[3] for r in shuffled],
    )


REFERENCE_MAP = _reference_map()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("test", TESTS)
def test_reference_files_as_cells_match_metafor(method: str, test: str) -> None:
    yi, vi, cell, source_row = REFERENCE_MAP
    results = pool_cells(yi, vi, cell, method=method, test=test)
    assert set(results) == set(UNIVARIATE_FILES)
    for name in UNIVARIATE_FILES:
        ref = load(name)["results"][f"{method}|{test}"]
        got = results[name]
        where = f"{name} {method}|{test}"
        assert got.k == ref["k"] and got.test == ref["test"]
        for attribute, key in (
            ("estimate", "b"),
            ("se", "se"),
            ("statistic", "zval"),
            ("p_value", "pval"),
            ("ci_low", "ci.lb"),
            ("ci_high", "ci.ub"),
            ("tau2", "tau2"),
            ("tau2_se", "se.tau2"),
            ("i2", "I2"),
            ("h2", "H2"),
            ("q", "QE"),
            ("q_p", "QEp"),
            ("s2w", "s2w"),
        ):
            assert_close(getattr(got, attribute), ref[key], f"{where} {key}")
        assert_close(got.df, ref["dfs"], f"{where} dfs")
        assert_close(got.pi_low, ref["predict"]["pi.lb"], f"{where} pi.lb")
        assert_close(got.pi_high, ref["predict"]["pi.ub"], f"{where} pi.ub")
        assert got.fit_reml is not None and got.fit_ml is not None
        assert_close(got.fit_reml.ll, ref["fit_stats"]["REML"]["ll"], f"{where} REML ll")
        assert_close(got.fit_ml.aicc, ref["fit_stats"]["ML"]["AICc"], f"{where} ML AICc")
        assert_close(got.fit_reml.bic, ref["fit_stats"]["REML"]["BIC"], f"{where} REML BIC")
        # Weights come back in the cell's input order.
        rows = [j for j, c in zip(source_row, cell, strict=True) if c == name]
        assert_all_close(got.weights, [ref["weights_pct"][j] for j in rows], f"{where} weights")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("test", TESTS)
def test_reference_files_as_cells_equal_pool(method: str, test: str) -> None:
    yi, vi, cell, _ = REFERENCE_MAP
    results = pool_cells(yi, vi, cell, method=method, test=test)
    for name in UNIVARIATE_FILES:
        y = [a for a, c in zip(yi, cell, strict=True) if c == name]
        v = [a for a, c in zip(vi, cell, strict=True) if c == name]
        assert_same_result(results[name], pool(y, v, method=method, test=test), name)


# ------------------------------------------------------------------------------------
# random maps
# ------------------------------------------------------------------------------------

cell_data = st.lists(
    st.one_of(
        # ordinary cells
        st.lists(st.tuples(st.floats(-2.0, 2.0), st.floats(0.002, 1.0)), min_size=1, max_size=9),
        # all estimates equal (tau² = 0, Q = 0, Knapp-Hartung factor 0)
        st.tuples(st.floats(-1.0, 1.0), st.lists(st.floats(0.01, 0.5), min_size=2, max_size=5)).map(
            lambda pair: [(pair[0], v) for v in pair[1]]
        ),
    ),
    min_size=1,
    max_size=12,
)


def _flatten(
    data: list[list[tuple[float, float]]], permutation: list[int] | None = None
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], list[tuple[str, int]]]:
    """Cells of (yi, vi) pairs -> yi, vi and a label per row, rows optionally permuted."""
    rows = [(y, v, ("cell", c)) for c, items in enumerate(data) for y, v in items]
    if permutation is not None:
        rows = [rows[i] for i in permutation]
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows]), [r[2] for r in rows]


@settings(max_examples=60, deadline=None)
@given(
    data=cell_data,
    method=st.sampled_from(METHODS),
    test=st.sampled_from(TESTS),
    level=st.sampled_from([0.9, 0.95, 0.99]),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_maps_equal_pool_per_cell(
    data: list[list[tuple[float, float]]], method: str, test: str, level: float, seed: int
) -> None:
    n = sum(len(items) for items in data)
    permutation = list(np.random.default_rng(seed).permutation(n))
    yi, vi, cell = _flatten(data, permutation)
    results = pool_cells(yi, vi, cell, method=method, test=test, level=level)
    assert set(results) == set(cell)
    for label, result in results.items():
        mask = np.array([c == label for c in cell])
        expected = pool(yi[mask], vi[mask], method=method, test=test, level=level)
        assert_same_result(result, expected, f"{label} {method}|{test}")


@settings(max_examples=40, deadline=None)
@given(data=cell_data, method=st.sampled_from(["REML", "DL", "PM", "ML"]), seed=st.integers(0))
def test_result_does_not_depend_on_row_order(
    data: list[list[tuple[float, float]]], method: str, seed: int
) -> None:
    n = sum(len(items) for items in data)
    yi, vi, cell = _flatten(data)
    first = pool_cells(yi, vi, cell, method=method, test="knha")
    permutation = np.random.default_rng(seed).permutation(n)
    shuffled = pool_cells(
        yi[permutation], vi[permutation], [cell[i] for i in permutation], method=method, test="knha"
    )
    assert set(first) == set(shuffled)
    for label, result in first.items():
        other = shuffled[label]
        for name in SCALARS:
            _same(getattr(other, name), getattr(result, name), f"{label} {name}")
        # The weights follow the rows: compare them as a multiset.
        np.testing.assert_allclose(
            np.sort(other.weights), np.sort(result.weights), rtol=1e-10, atol=1e-12
        )


# ------------------------------------------------------------------------------------
# labels, errors
# ------------------------------------------------------------------------------------


def test_label_types_and_order() -> None:
    yi = [0.1, 0.5, 0.3, 0.2, 0.7]
    vi = [0.1, 0.2, 0.1, 0.3, 0.2]
    by_tuple = pool_cells(yi, vi, [(1, "a"), (0, "b"), (1, "a"), (0, "b"), (2, "c")])
    assert list(by_tuple) == [(1, "a"), (0, "b"), (2, "c")]  # first appearance
    by_array = pool_cells(yi, vi, np.array([3, 1, 3, 1, 2]))
    assert list(by_array) == [1, 2, 3]  # numpy labels: sorted
    assert all(type(label) is int for label in by_array)
    by_string = pool_cells(yi, vi, np.array(["x", "y", "x", "y", "z"]))
    assert by_string["x"].estimate == by_tuple[(1, "a")].estimate == by_array[3].estimate
    assert by_string["z"].k == 1


def test_float_array_labels_are_sorted_like_other_numpy_labels() -> None:
    yi = [0.1, 0.5, 0.3, 0.2]
    vi = [0.1, 0.2, 0.1, 0.3]
    by_float = pool_cells(yi, vi, np.array([2.5, 0.5, 2.5, 0.5]))
    assert list(by_float) == [0.5, 2.5]
    assert all(type(label) is float for label in by_float)


@pytest.mark.parametrize(
    "cell", [["a", None, "a"], [0.5, float("nan"), 0.5], np.array([1.0, np.nan, 1.0])]
)
def test_missing_labels_are_refused(cell: Any) -> None:
    with pytest.raises(StatsError, match="must not be missing"):
        pool_cells([0.1, 0.2, 0.3], [0.1, 0.1, 0.1], cell)


def test_weights_are_read_only_views() -> None:
    results = pool_cells([0.1, 0.5, 0.3], [0.1, 0.2, 0.1], ["a", "a", "b"])
    with pytest.raises(ValueError, match="read-only"):
        results["a"].weights[0] = 1.0


@pytest.mark.parametrize(
    ("yi", "vi", "cell", "message"),
    [
        ([0.1, 0.2], [0.1, 0.1], ["a"], "1 labels for 2 effect sizes"),
        ([0.1, 0.2], [0.1, 0.1], np.array([1, 2, 3]), "3 labels for 2 effect sizes"),
        ([0.1, 0.2, float("nan")], [0.1, 0.1, 0.1], ["a", "b", "c"], r"yi\[2\] = nan"),
        ([0.1, 0.2], [0.1, 0.0], ["a", "b"], r"vi\[1\] = 0.0"),
        ([0.1, 0.2], [0.1, 0.1], [["a"], ["b"]], "hashable"),
    ],
)
def test_bad_input_is_rejected(yi: Any, vi: Any, cell: Any, message: str) -> None:
    with pytest.raises(StatsError, match=message):
        pool_cells(yi, vi, cell)


def test_bad_options_are_rejected() -> None:
    with pytest.raises(StatsError, match="unknown method"):
        pool_cells([0.1], [0.1], ["a"], method="BAYES")
    with pytest.raises(StatsError, match="unknown test"):
        pool_cells([0.1], [0.1], ["a"], test="wald")


def test_convergence_error_names_the_cell() -> None:
    yi, vi = inputs("bcg")
    cell = ["only cell"] * len(yi)
    with pytest.raises(ConvergenceError, match="'only cell'"):
        pool_cells(yi, vi, cell, method="REML", max_iter=1)


def test_module_has_no_django_dependency() -> None:
    source = cells_module.__loader__.get_source(cells_module.__name__)  # type: ignore[union-attr]
    assert source is not None and "django" not in source.lower()
