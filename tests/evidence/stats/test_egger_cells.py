"""egger_tests (every cell at once) against egger_test (one cell) and metafor's regtest.

The scalar egger_test builds the k x k projection matrices of the meta-regression and
is checked against metafor in test_pubbias.py; here the batched test must give the
same numbers for every cell of a batch to 1e-8 (relative; absolute 1e-12 near zero),
and refuse the same cells with the same reasons.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.stats import pubbias
from evidence.stats.egger_cells import egger_tests
from evidence.stats.pubbias import EggerTest, egger_test
from evidence.stats.results import StatsError
from evidence.stats.univariate import METHODS, TESTS

from .reference import PUBBIAS_FILES, assert_all_close, assert_close, inputs, load

REL = 1e-8
ABS = 1e-12

REGTEST_KEYS = sorted({key for name in PUBBIAS_FILES for key in load(name)["pubbias"]["regtest"]})


# ------------------------------------------------------------------------------------
# comparing a batch with the scalar test, cell by cell
# ------------------------------------------------------------------------------------


def _close(actual: float | None, expected: float | None, what: str) -> None:
    if expected is None:
        assert actual is None, f"{what}: expected None, got {actual!r}"
        return
    assert actual is not None, f"{what}: expected {expected!r}, got None"
    if math.isnan(expected) or math.isinf(expected):
        assert actual == expected or (math.isnan(actual) and math.isnan(expected)), (
            f"{what}: expected {expected!r}, got {actual!r}"
        )
        return
    assert abs(actual - expected) <= max(REL * abs(expected), ABS), (
        f"{what}: expected {expected!r}, got {actual!r} (difference {actual - expected:.3g})"
    )


def assert_same_test(batched: EggerTest, scalar: EggerTest, where: str) -> None:
    for name in ("model", "predictor", "method", "test", "k", "df"):
        assert getattr(batched, name) == getattr(scalar, name), f"{where}: {name}"
    for name in ("statistic", "p_value", "limit_estimate", "limit_ci_low", "limit_ci_high", "tau2"):
        _close(getattr(batched, name), getattr(scalar, name), f"{where}: {name}")
    for i in range(2):
        _close(batched.coefficients[i], scalar.coefficients[i], f"{where}: b[{i}]")
        _close(batched.coefficient_se[i], scalar.coefficient_se[i], f"{where}: se[{i}]")


def scalar_or_reason(yi: Sequence[float], vi: Sequence[float], **options: Any) -> EggerTest | str:
    try:
        return egger_test(yi, vi, **options)
    except StatsError as problem:
        return f"{type(problem).__name__}: {problem}"


def check_batch(
    yi: Sequence[float], vi: Sequence[float], cells: Sequence[Hashable], **options: Any
) -> tuple[dict[Hashable, EggerTest], dict[Hashable, str]]:
    """Run the batch and compare every cell with egger_test on that cell alone."""
    errors: dict[Hashable, str] = {}
    batch = egger_tests(yi, vi, cells, errors=errors, **options)
    labels = list(dict.fromkeys(cells))
    assert set(batch) | set(errors) == set(labels) and not set(batch) & set(errors)
    y, v = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    for label in labels:
        rows = [i for i, c in enumerate(cells) if c == label]
        expected = scalar_or_reason(y[rows].tolist(), v[rows].tolist(), **options)
        if isinstance(expected, str):
            assert errors.get(label) == expected, f"cell {label!r}"
        else:
            assert_same_test(batch[label], expected, f"cell {label!r} {options}")
    return batch, errors


def simulate(
    rng: np.random.Generator, sizes: Sequence[int], *, shuffle: bool = True
) -> tuple[list[float], list[float], list[int]]:
    """Cells of the given sizes, some with small-study effects, rows interleaved."""
    yi: list[float] = []
    vi: list[float] = []
    cells: list[int] = []
    for cell, k in enumerate(sizes):
        v = rng.uniform(0.002, 0.3, k)
        bias = rng.choice([0.0, 0.0, 1.5])
        y = rng.normal(0.2 + bias * np.sqrt(v), np.sqrt(v + rng.uniform(0.0, 0.05)))
        yi += y.tolist()
        vi += v.tolist()
        cells += [cell] * k
    if shuffle:
        order = rng.permutation(len(cells))
        yi, vi, cells = ([x[i] for i in order] for x in (yi, vi, cells))  # type: ignore[assignment]
    return yi, vi, cells


# Cells that no Egger test can use, added to every batch: the reasons must be the
# scalar test's, and they must not disturb the other cells.
DEGENERATE: list[tuple[str, list[float], list[float]]] = [
    ("one", [0.3], [0.1]),
    ("two", [0.3, 0.1], [0.1, 0.2]),
    ("equal vi", [0.1, 0.5, 0.2, 0.4], [0.04, 0.04, 0.04, 0.04]),
    ("nan yi", [0.1, math.nan, 0.2, 0.4], [0.04, 0.05, 0.06, 0.07]),
    ("zero vi", [0.1, 0.3, 0.2, 0.4], [0.04, 0.05, 0.0, -1.0]),
]


def with_degenerate(
    yi: list[float], vi: list[float], cells: list[Hashable]
) -> tuple[list[float], list[float], list[Hashable]]:
    for label, y, v in DEGENERATE:
        yi, vi, cells = yi + y, vi + v, [*cells, *([label] * len(y))]
    return yi, vi, cells


# ------------------------------------------------------------------------------------
# metafor's reference data
# ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", REGTEST_KEYS)
def test_reference_datasets_in_one_batch(key: str) -> None:
    """bcg, normand1999 and hackshaw1998 as three cells of one batch (with cells that
    cannot be tested): each equals egger_test and metafor's regtest."""
    yi: list[float] = []
    vi: list[float] = []
    cells: list[Hashable] = []
    for name in PUBBIAS_FILES:
        y, v = inputs(name)
        yi, vi, cells = yi + y, vi + v, cells + [name] * len(y)
    yi, vi, cells = with_degenerate(yi, vi, cells)
    if key == "lm":
        options: dict[str, Any] = {"model": "lm"}
    else:
        method, test = key.split("|")
        options = {"method": method, "test": test}
    batch, errors = check_batch(yi, vi, cells, **options)
    assert set(errors) == {label for label, _, _ in DEGENERATE}
    for name in PUBBIAS_FILES:
        ref = load(name)["pubbias"]["regtest"].get(key)
        if ref is None:
            continue
        result, where = batch[name], f"{name} regtest {key}"
        assert_close(result.statistic, ref["zval"], f"{where} zval")
        assert_close(result.df, ref["dfs"], f"{where} dfs")
        assert_close(result.p_value, ref["pval"], f"{where} pval")
        assert_close(result.limit_ci_low, ref["limit_ci.lb"], f"{where} limit ci.lb")
        assert_close(result.limit_ci_high, ref["limit_ci.ub"], f"{where} limit ci.ub")
        assert_all_close(result.coefficients, ref["fit_b"], f"{where} b")
        assert_all_close(result.coefficient_se, ref["fit_se"], f"{where} se")
        if key != "lm":
            assert_close(result.tau2, ref["fit_tau2"], f"{where} tau2")


# ------------------------------------------------------------------------------------
# random cells
# ------------------------------------------------------------------------------------


def test_cells_from_3_to_5000_effect_sizes_with_the_maps_settings() -> None:
    """The map's call (REML, z test, predictor sei) on interleaved cells of every size,
    up to one larger than the busiest aggregate cell of a real map."""
    rng = np.random.default_rng(20240611)
    sizes = [3, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 50, 80, 150, 400, 1473, 5000]
    yi, vi, cells = simulate(rng, sizes)
    batch, errors = check_batch(*with_degenerate(yi, vi, list(cells)))
    assert len(batch) == len(sizes) and len(errors) == len(DEGENERATE)
    # Both sides of the boundary: some cells have tau² = 0, others tau² > 0.
    tau2 = [result.tau2 for result in batch.values()]
    assert any(t == 0.0 for t in tau2) and any(t is not None and t > 0.0 for t in tau2)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_test_and_predictor(method: str) -> None:
    rng = np.random.default_rng(sum(map(ord, method)))
    sizes = [3, 4, 5, 7, 9, 12, 20, 35, 60, 120, 300]
    yi, vi, cells = with_degenerate(*simulate(rng, sizes))
    for test in TESTS:
        for predictor in ("sei", "vi"):
            check_batch(yi, vi, cells, method=method, test=test, predictor=predictor)


@pytest.mark.parametrize("predictor", ["sei", "vi"])
def test_weighted_least_squares_model(predictor: str) -> None:
    yi, vi, cells = with_degenerate(*simulate(np.random.default_rng(7), [3, 5, 11, 40, 250]))
    batch, _ = check_batch(yi, vi, cells, model="lm", predictor=predictor, level=0.9)
    assert all(r.tau2 is None and r.method is None and r.test == "t" for r in batch.values())


_vi = st.integers(1, 100).map(lambda n: n / 100.0)  # well separated, sometimes equal
_cell = st.lists(st.tuples(st.floats(-2.0, 2.0), _vi), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(_cell, min_size=1, max_size=8),
    st.sampled_from(["REML", "ML", "PM", "DL", "SJ", "HE", "EE"]),
    st.sampled_from(["z", "t", "knha"]),
    st.integers(0, 2**32 - 1),
)
def test_any_mix_of_cells(
    cells_data: list[list[tuple[float, float]]], method: str, test: str, seed: int
) -> None:
    """Any cells (too small, equal variances, equal estimates, ...) in any row order."""
    yi = [y for cell in cells_data for y, _ in cell]
    vi = [v for cell in cells_data for _, v in cell]
    cells = [f"c{i}" for i, cell in enumerate(cells_data) for _ in cell]
    order = np.random.default_rng(seed).permutation(len(cells)).tolist()
    yi, vi, cells = [yi[i] for i in order], [vi[i] for i in order], [cells[i] for i in order]
    # Equal estimates with a Knapp-Hartung test leave a slope of rounding noise over a
    # zero standard error (statistic ±inf or NaN in both implementations): compared
    # apart below.
    flat = {f"c{i}" for i, cell in enumerate(cells_data) if len({y for y, _ in cell}) == 1}
    if test == "knha" and flat:
        errors: dict[Hashable, str] = {}
        batch = egger_tests(yi, vi, cells, method=method, test=test, errors=errors)
        for label in flat & set(batch):
            assert batch[label].coefficient_se == (0.0, 0.0)
            assert abs(batch[label].coefficients[1]) < 1e-9
        keep = [i for i, c in enumerate(cells) if c not in flat]
        if not keep:
            return
        yi, vi, cells = [yi[i] for i in keep], [vi[i] for i in keep], [cells[i] for i in keep]
    check_batch(yi, vi, cells, method=method, test=test)


@pytest.mark.parametrize("spread", [1e-5, 1e-7, 1e-9])
def test_nearly_equal_variances_are_fitted_in_a_well_conditioned_basis(spread: float) -> None:
    """With sampling variances equal to within `spread` (relative), egger_test's raw
    design [1, sei] is too ill-conditioned for its matrix inverses (wrong digits, or
    numpy's LinAlgError). The batched test centres the predictor; it must agree with the
    scalar engine fed the same model in a centred and scaled basis, which changes
    neither tau² nor the slope's test statistic."""
    rng = np.random.default_rng(int(-math.log10(spread)))
    sizes = [4, 20, 150]
    yi: list[float] = []
    vi: list[float] = []
    cells: list[int] = []
    for cell, k in enumerate(sizes):
        v = rng.uniform(0.01, 0.3) * (1.0 + spread * rng.standard_normal(k))
        yi += rng.normal(0.1, 0.3, k).tolist()
        vi += v.tolist()
        cells += [cell] * k
    batch = egger_tests(yi, vi, cells)
    assert list(batch) == [0, 1, 2]
    for cell in range(len(sizes)):
        y = np.array([yi[i] for i, c in enumerate(cells) if c == cell])
        v = np.array([vi[i] for i, c in enumerate(cells) if c == cell])
        x = np.sqrt(v)
        design = np.column_stack([np.ones(x.size), (x - x.mean()) / x.std()])
        reference = pubbias._fit_regression(
            y, v, design, method="REML", test="z", level=0.95, max_iter=1000
        )
        result = batch[cell]
        _close(result.tau2, reference.tau2, f"cell {cell} tau2")
        _close(result.statistic, float(reference.statistic[1]), f"cell {cell} statistic")
        _close(result.p_value, float(reference.p_value[1]), f"cell {cell} p")


# ------------------------------------------------------------------------------------
# cells that cannot be tested, and the batch's own refusals
# ------------------------------------------------------------------------------------


def test_reasons_for_cells_that_cannot_be_tested() -> None:
    yi, vi, cells = with_degenerate(*simulate(np.random.default_rng(3), [12]))
    errors: dict[Hashable, str] = {}
    batch = egger_tests(yi, vi, cells, errors=errors)
    assert list(batch) == [0]
    assert errors == {
        "one": "StatsError: Egger's regression test needs at least 3 effect sizes (k = 1)",
        "two": "StatsError: Egger's regression test needs at least 3 effect sizes (k = 2)",
        "equal vi": "StatsError: the model matrix is not of full rank "
        "(are all sampling variances equal?)",
        "nan yi": "StatsError: yi[1] = nan is not a finite number",
        "zero vi": "StatsError: vi[2] = 0.0: sampling variances must be finite and > 0",
    }
    # Without an errors dict the cells are just left out.
    assert list(egger_tests(yi, vi, cells)) == [0]


def test_a_bad_yi_is_reported_before_a_bad_vi_and_too_few_effect_sizes() -> None:
    errors: dict[Hashable, str] = {}
    egger_tests([0.1, math.inf], [-1.0, 0.2], ["a", "a"], errors=errors)
    assert errors == {"a": "StatsError: yi[1] = inf is not a finite number"}
    assert scalar_or_reason([0.1, math.inf], [-1.0, 0.2]) == errors["a"]


def test_cells_that_do_not_converge_are_reported_alone() -> None:
    yi, vi, cells = simulate(np.random.default_rng(11), [6, 9, 14, 30, 80])
    for max_iter in (1, 2, 3):
        for method in ("REML", "ML", "PM"):
            _, errors = check_batch(yi, vi, cells, method=method, max_iter=max_iter)
            assert all(reason.startswith("ConvergenceError: ") for reason in errors.values())
    _, errors = check_batch(yi, vi, cells, max_iter=1)
    assert errors, "one iteration should not be enough for some cell"


def test_batch_refusals_and_empty_input() -> None:
    with pytest.raises(StatsError, match="unknown method"):
        egger_tests([0.1, 0.2, 0.4], [0.1, 0.2, 0.3], [1, 1, 1], method="BAYES")
    with pytest.raises(StatsError, match="model"):
        egger_tests([0.1], [0.1], [1], model="glm")  # type: ignore[arg-type]
    with pytest.raises(StatsError, match="predictor"):
        egger_tests([0.1], [0.1], [1], predictor="ni")  # type: ignore[arg-type]
    with pytest.raises(StatsError, match="differ in length"):
        egger_tests([0.1, 0.2], [0.1], [1, 1])
    with pytest.raises(StatsError, match="labels"):
        egger_tests([0.1, 0.2], [0.1, 0.2], [1])
    with pytest.raises(StatsError, match="one-dimensional"):
        egger_tests([[0.1]], [[0.1]], [1])
    assert egger_tests([], [], []) == {}


def test_labels_and_their_order() -> None:
    """Tuple labels (the map's (row, column) keys) stay intact; cells come in order of
    first appearance for a list and in sorted order for a numeric array."""
    yi, vi, codes = simulate(np.random.default_rng(5), [5, 6, 7])
    keys = [(c, -c) for c in codes]
    by_key = egger_tests(yi, vi, keys)
    assert list(by_key) == list(dict.fromkeys(keys))
    by_code = egger_tests(yi, vi, np.asarray(codes))
    assert list(by_code) == [0, 1, 2]
    for code in range(3):
        assert by_code[code].p_value == by_key[(code, -code)].p_value
