"""pool() and tau2_ci() against R metafor 3.8-1 (tests/data/metafor), plus input checks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.stats.results import ConvergenceError, PoolResult, StatsError
from evidence.stats.tau2 import log_likelihoods
from evidence.stats.univariate import (
    METHODS,
    TESTS,
    Tau2Interval,
    pool,
    tau2_ci,
)

from .reference import UNIVARIATE_FILES, assert_all_close, assert_close, inputs, load

GRID = [(name, key) for name in UNIVARIATE_FILES for key in load(name)["results"]]
CONFINT = [
    (name, key)
    for name in UNIVARIATE_FILES
    for key in load(name).get("confint_tau2", {})
    if not key.endswith("default_control")
]


def _fit(name: str, key: str) -> tuple[PoolResult, dict[str, Any]]:
    method, test = key.split("|")
    reference = load(name)["results"][key]
    assert "error" not in reference, "every reference fit in these files succeeded"
    yi, vi = inputs(name)
    return pool(yi, vi, method=method, test=test), reference


def test_reference_grid_is_complete() -> None:
    """Every method x test combination is present for every file, so the grid means something."""
    for name in UNIVARIATE_FILES:
        keys = set(load(name)["results"])
        assert keys == {f"{m}|{t}" for m in METHODS for t in TESTS}, name


@pytest.mark.parametrize(("name", "key"), GRID)
def test_pooled_estimate_and_test(name: str, key: str) -> None:
    result, ref = _fit(name, key)
    where = f"{name} {key}"
    assert result.k == ref["k"]
    assert result.test == ref["test"], f"{where}: effective test"
    assert result.method == ref["method"]
    assert_close(result.estimate, ref["b"], f"{where} b")
    assert_close(result.se, ref["se"], f"{where} se")
    assert_close(result.statistic, ref["zval"], f"{where} zval")
    assert_close(result.df, ref["dfs"], f"{where} dfs")
    assert_close(result.p_value, ref["pval"], f"{where} pval")
    assert_close(result.ci_low, ref["ci.lb"], f"{where} ci.lb")
    assert_close(result.ci_high, ref["ci.ub"], f"{where} ci.ub")
    assert_close(result.s2w, ref["s2w"], f"{where} s2w")
    assert result.converged


@pytest.mark.parametrize(("name", "key"), GRID)
def test_heterogeneity(name: str, key: str) -> None:
    result, ref = _fit(name, key)
    where = f"{name} {key}"
    assert_close(result.tau2, ref["tau2"], f"{where} tau2")
    assert_close(result.tau, ref["tau"], f"{where} tau")
    assert_close(result.tau2_se, ref["se.tau2"], f"{where} se.tau2")
    assert_close(result.i2, ref["I2"], f"{where} I2")
    assert_close(result.h2, ref["H2"], f"{where} H2")
    assert_close(result.q, ref["QE"], f"{where} QE")
    assert result.q_df == ref["QE_df"]
    assert_close(result.q_p, ref["QEp"], f"{where} QEp")


@pytest.mark.parametrize(("name", "key"), GRID)
def test_weights_and_fit_statistics(name: str, key: str) -> None:
    result, ref = _fit(name, key)
    where = f"{name} {key}"
    assert_all_close(result.weights, ref["weights_pct"], f"{where} weights")
    assert math.isclose(float(result.weights.sum()), 100.0, rel_tol=1e-12)
    for likelihood, stats in (("ML", result.fit_ml), ("REML", result.fit_reml)):
        assert stats is not None
        expected = ref["fit_stats"][likelihood]
        assert_close(stats.ll, expected["ll"], f"{where} {likelihood} ll")
        assert_close(stats.dev, expected["dev"], f"{where} {likelihood} dev")
        assert_close(stats.aic, expected["AIC"], f"{where} {likelihood} AIC")
        assert_close(stats.bic, expected["BIC"], f"{where} {likelihood} BIC")
        assert_close(stats.aicc, expected["AICc"], f"{where} {likelihood} AICc")


@pytest.mark.parametrize(("name", "key"), GRID)
def test_prediction_interval(name: str, key: str) -> None:
    result, ref = _fit(name, key)
    predicted = ref["predict"]
    where = f"{name} {key} predict"
    assert_close(result.estimate, predicted["pred"], f"{where} pred")
    assert_close(result.se, predicted["se"], f"{where} se")
    assert_close(result.ci_low, predicted["ci.lb"], f"{where} ci.lb")
    assert_close(result.ci_high, predicted["ci.ub"], f"{where} ci.ub")
    # metafor gives no PI for EE/FE models: NA there, NaN here.
    assert_close(result.pi_low, predicted["pi.lb"], f"{where} pi.lb")
    assert_close(result.pi_high, predicted["pi.ub"], f"{where} pi.ub")
    # The PI uses the test's reference distribution: t with k-1 df for t/knha/adhoc.
    assert_close(result.df, predicted["pi_df"], f"{where} pi_df")


@pytest.mark.parametrize(("name", "key"), CONFINT)
def test_tau2_confidence_interval(name: str, key: str) -> None:
    method, kind = key.split("|")
    ref = load(name)["confint_tau2"][key]
    yi, vi = inputs(name)
    interval = tau2_ci(yi, vi, method=method, kind=kind)  # type: ignore[arg-type]
    where = f"{name} {key}"
    for quantity, attribute in (("tau2", "tau2"), ("tau", "tau"), ("I2", "i2"), ("H2", "h2")):
        assert_close(getattr(interval, attribute), ref[quantity]["estimate"], f"{where} {quantity}")
        assert_close(getattr(interval, f"{attribute}_low"), ref[quantity]["ci.lb"], f"{where} lb")
        assert_close(getattr(interval, f"{attribute}_high"), ref[quantity]["ci.ub"], f"{where} ub")
    assert interval.lb_sign == ref["lb.sign"]
    assert interval.ub_sign == ref["ub.sign"]
    assert interval.ci_null is ref["ci.null"]
    assert interval.kind == kind
    assert interval.level == 0.95


def test_q_profile_interval_is_the_same_for_every_estimator() -> None:
    """Only the point estimates depend on the method; the QP limits do not."""
    yi, vi = inputs("bcg")
    intervals = [tau2_ci(yi, vi, method=m) for m in ("DL", "REML", "PM", "SJ")]
    assert len({(i.tau2_low, i.tau2_high) for i in intervals}) == 1
    assert len({i.tau2 for i in intervals}) == 4


def test_tau2_interval_level_widens_the_interval() -> None:
    yi, vi = inputs("bcg")
    narrow = tau2_ci(yi, vi, level=0.80)
    wide = tau2_ci(yi, vi, level=0.99)
    assert wide.tau2_low < narrow.tau2_low < narrow.tau2 < narrow.tau2_high < wide.tau2_high


def test_tau2_interval_refusals() -> None:
    yi, vi = inputs("bcg")
    with pytest.raises(StatsError, match="k = 1"):
        tau2_ci([0.5], [0.04])
    with pytest.raises(StatsError, match="no between-study variance"):
        tau2_ci(yi, vi, method="EE")
    with pytest.raises(StatsError, match="ML' or 'REML"):
        tau2_ci(yi, vi, method="DL", kind="PL")
    with pytest.raises(StatsError, match="kind"):
        tau2_ci(yi, vi, kind="Wald")  # type: ignore[arg-type]
    assert isinstance(tau2_ci(yi, vi, method="REML", kind="PL"), Tau2Interval)


# ------------------------------------------------------------------------------------
# degenerate data
# ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("test", TESTS)
def test_single_effect_size(method: str, test: str) -> None:
    """k = 1: the estimate is the study itself, tau² = 0 and the test falls back to z."""
    result = pool([0.5], [0.04], method=method, test=test)
    assert result.k == 1
    assert result.test == "z"
    assert result.df is None
    assert result.estimate == pytest.approx(0.5)
    assert result.se == pytest.approx(0.2)
    assert result.tau2 == 0.0
    assert result.tau2_se is None
    assert (result.q, result.q_df, result.q_p, result.i2, result.h2) == (0.0, 0, 1.0, 0.0, 1.0)
    if method in ("EE", "FE"):
        assert math.isnan(result.pi_low) and math.isnan(result.pi_high)
    else:
        assert (result.pi_low, result.pi_high) == (result.ci_low, result.ci_high)


def test_identical_estimates_zero_knapp_hartung_factor() -> None:
    """All yi equal: Q = 0 and metafor sets s² = 0, so the knha SE is 0 and |t| infinite."""
    result = pool([0.3] * 4, [0.01, 0.02, 0.05, 0.1], method="REML", test="knha")
    assert result.tau2 == 0.0
    assert result.q == pytest.approx(0.0, abs=1e-20)
    assert result.s2w == 0.0
    assert result.se == 0.0
    assert result.statistic == math.inf
    assert result.p_value == 0.0
    assert result.ci_low == result.ci_high == result.estimate
    adhoc = pool([0.3] * 4, [0.01, 0.02, 0.05, 0.1], method="REML", test="adhoc")
    assert adhoc.s2w == 1.0
    assert adhoc.se > 0


def test_zero_estimate_with_zero_se_is_nan_not_an_error() -> None:
    result = pool([0.0, 0.0, 0.0], [0.1, 0.2, 0.3], method="DL", test="knha")
    assert result.se == 0.0
    assert math.isnan(result.statistic) and math.isnan(result.p_value)


@pytest.mark.parametrize(
    ("yi", "vi", "message"),
    [
        ([0.1, 0.2], [0.1], "differ in length"),
        ([], [], "k = 0"),
        ([0.1, float("nan")], [0.1, 0.1], r"yi\[1\] = nan"),
        ([0.1, float("inf")], [0.1, 0.1], r"yi\[1\] = inf"),
        ([0.1, 0.2, 0.3], [0.1, -0.2, 0.1], r"vi\[1\] = -0.2"),
        ([0.1, 0.2, 0.3], [0.1, 0.2, 0.0], r"vi\[2\] = 0.0"),
        ([0.1, 0.2], [0.1, float("nan")], r"vi\[1\] = nan"),
        ([[0.1, 0.2]], [[0.1, 0.2]], "one-dimensional"),
        (["a", "b"], [0.1, 0.2], "numeric"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(yi: Any, vi: Any, message: str) -> None:
    with pytest.raises(StatsError, match=message):
        pool(yi, vi)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "XYZ"}, "unknown method"),
        ({"method": "reml"}, "unknown method"),
        ({"test": "hksj2"}, "unknown test"),
        ({"level": 95}, "level"),
        ({"level": 0.0}, "level"),
    ],
)
def test_bad_options_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(StatsError, match=message):
        pool([0.1, 0.2, 0.4], [0.1, 0.1, 0.1], **kwargs)


@pytest.mark.parametrize("method", ["REML", "ML", "PM", "EB"])
def test_iteration_limit_raises_convergence_error(method: str) -> None:
    yi, vi = inputs("bcg")
    with pytest.raises(ConvergenceError, match=f"{method} estimator of tau"):
        pool(yi, vi, method=method, max_iter=1)
    assert pool(yi, vi, method=method).iterations > 1


def test_fe_is_an_alias_of_ee() -> None:
    yi, vi = inputs("bcg")
    ee = pool(yi, vi, method="EE")
    fe = pool(yi, vi, method="FE")
    assert fe.method == "FE"
    assert (fe.estimate, fe.se, fe.i2, fe.h2) == (ee.estimate, ee.se, ee.i2, ee.h2)


def test_level_changes_only_the_intervals() -> None:
    yi, vi = inputs("bcg")
    a = pool(yi, vi, level=0.95)
    b = pool(yi, vi, level=0.90)
    assert (a.estimate, a.se, a.p_value) == (b.estimate, b.se, b.p_value)
    assert b.ci_high - b.ci_low < a.ci_high - a.ci_low
    assert b.pi_high - b.pi_low < a.pi_high - a.pi_low


# ------------------------------------------------------------------------------------
# properties of the iterative estimators on random data
# ------------------------------------------------------------------------------------

effect_sizes = st.lists(
    st.tuples(
        st.floats(-3.0, 3.0, allow_nan=False),
        st.floats(0.001, 2.0, allow_nan=False),
    ),
    min_size=2,
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(effect_sizes)
def test_reml_and_ml_find_a_local_maximum_no_worse_than_zero(
    data: list[tuple[float, float]],
) -> None:
    """A positive estimate is an interior local maximum of its likelihood, and no
    estimate is worse than tau² = 0 (metafor's ll0check).  tau² = 0 itself need not be
    a maximum: like metafor, pool() stops at 0 when scoring from the Hedges start ends
    there (see the two tests below)."""
    yi = np.array([d[0] for d in data])
    vi = np.array([d[1] for d in data])
    for method, index in (("ML", 0), ("REML", 1)):
        tau2 = pool(yi, vi, method=method).tau2
        assert tau2 >= 0.0
        best = log_likelihoods(yi, vi, tau2)[index]
        assert log_likelihoods(yi, vi, 0.0)[index] <= best + 1e-9
        if tau2 > 0.0:
            step = 1e-5 * tau2
            assert log_likelihoods(yi, vi, tau2 + step)[index] <= best + 1e-12
            assert log_likelihoods(yi, vi, tau2 - step)[index] <= best + 1e-12


def test_ml_follows_metafor_from_a_zero_start() -> None:
    """metafor starts Fisher scoring at the Hedges estimate; when that is 0 and the score
    at 0 is negative it stays at 0, even though this ML likelihood has a higher interior
    maximum near 0.35.  pool() reproduces metafor rather than the global maximum."""
    yi = [0.0, 0.0, 0.0, 1.0, -1.0]
    vi = [1.0, 1.0, 1.0, 0.5, 0.015625]
    assert pool(yi, vi, method="HE").tau2 == 0.0
    assert pool(yi, vi, method="ML").tau2 == 0.0
    assert (
        log_likelihoods(np.array(yi), np.array(vi), 0.35)[0]
        > log_likelihoods(np.array(yi), np.array(vi), 0.0)[0]
    )
    assert pool(yi, vi, method="REML").tau2 == pytest.approx(0.5327510152, rel=1e-9)


def test_ml_from_a_positive_start_finds_the_interior_maximum() -> None:
    """Here tau² = 0 is a local maximum of the ML likelihood, but scoring from the
    positive Hedges start reaches the higher interior maximum (as metafor does)."""
    yi, vi = np.array([0.0, 1.0]), np.array([0.125, 0.0078125])
    tau2 = pool(yi, vi, method="ML").tau2
    assert 0.1 < tau2 < 0.3
    assert log_likelihoods(yi, vi, tau2)[0] > log_likelihoods(yi, vi, 0.0)[0] + 0.5


@settings(max_examples=150, deadline=None)
@given(effect_sizes)
def test_paule_mandel_sets_generalised_q_to_its_df(data: list[tuple[float, float]]) -> None:
    yi = np.array([d[0] for d in data])
    vi = np.array([d[1] for d in data])
    k = len(data)
    for method in ("PM", "EB"):
        result = pool(yi, vi, method=method)
        w = 1.0 / (vi + result.tau2)
        b = float(np.dot(w, yi) / w.sum())
        q_at_tau2 = float(np.dot(w, (yi - b) ** 2))
        if result.tau2 > 0:
            assert q_at_tau2 == pytest.approx(k - 1, rel=1e-9)
        else:
            assert result.q <= k - 1 + 1e-9
