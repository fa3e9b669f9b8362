"""Egger's test, rank test, trim-and-fill and leave-one-out against R metafor 3.8-1."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from evidence.stats import pubbias
from evidence.stats.pubbias import egger_test, leave_one_out, rank_test, trim_and_fill
from evidence.stats.results import StatsError
from evidence.stats.univariate import METHODS, pool

from .reference import PUBBIAS_FILES, assert_all_close, assert_close, inputs, load

REGTEST = [(name, key) for name in PUBBIAS_FILES for key in load(name)["pubbias"]["regtest"]]
TRIMFILL = [(name, key) for name in PUBBIAS_FILES for key in load(name)["pubbias"]["trimfill"]]
LEAVE1OUT = [(name, key) for name in PUBBIAS_FILES for key in load(name).get("leave1out", {})]


def test_reference_sections_are_present() -> None:
    assert len(REGTEST) == 18 and len(TRIMFILL) == 18
    assert ("bcg", "DL") in LEAVE1OUT and ("hackshaw1998", "REML") in LEAVE1OUT


# ------------------------------------------------------------------------------------
# Egger's regression test
# ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "key"), REGTEST)
def test_egger_regression_test(name: str, key: str) -> None:
    ref = load(name)["pubbias"]["regtest"][key]
    yi, vi = inputs(name)
    if key == "lm":
        result = egger_test(yi, vi, model="lm")
        assert result.tau2 is None and result.test == "t"
    else:
        method, test = key.split("|")
        result = egger_test(yi, vi, method=method, test=test)
        assert_close(result.tau2, ref["fit_tau2"], f"{name} {key} tau2")
        assert (result.method, result.test) == (method, test)
    where = f"{name} regtest {key}"
    assert result.model == ref["model"] and result.predictor == ref["predictor"] == "sei"
    assert result.k == load(name)["input"]["k"]
    assert_close(result.statistic, ref["zval"], f"{where} zval")
    assert_close(result.df, ref["dfs"], f"{where} dfs")
    assert_close(result.p_value, ref["pval"], f"{where} pval")
    assert_close(result.limit_estimate, ref["limit_est"], f"{where} limit")
    assert_close(result.limit_ci_low, ref["limit_ci.lb"], f"{where} limit ci.lb")
    assert_close(result.limit_ci_high, ref["limit_ci.ub"], f"{where} limit ci.ub")
    assert_all_close(result.coefficients, ref["fit_b"], f"{where} b")
    assert_all_close(result.coefficient_se, ref["fit_se"], f"{where} se")


@pytest.mark.parametrize("method", METHODS)
def test_regression_engine_without_moderators_is_pool(method: str) -> None:
    """The meta-regression used by Egger's test reduces to pool() for an intercept-only
    model, which checks its tau² estimators for the methods the reference lacks."""
    yi, vi = (np.array(a) for a in inputs("hackshaw1998"))
    for test in ("z", "knha"):
        fit = pubbias._fit_regression(
            yi, vi, np.ones((yi.shape[0], 1)), method=method, test=test, level=0.95, max_iter=1000
        )
        expected = pool(yi, vi, method=method, test=test)
        assert fit.tau2 == pytest.approx(expected.tau2, rel=1e-9, abs=1e-14)
        assert float(fit.beta[0]) == pytest.approx(expected.estimate, rel=1e-9)
        assert float(fit.se[0]) == pytest.approx(expected.se, rel=1e-9)
        assert float(fit.p_value[0]) == pytest.approx(expected.p_value, rel=1e-8)
        assert float(fit.ci_low[0]) == pytest.approx(expected.ci_low, rel=1e-9)


def test_egger_with_variance_predictor_and_other_methods() -> None:
    yi, vi = inputs("bcg")
    by_vi = egger_test(yi, vi, predictor="vi", method="DL")
    by_sei = egger_test(yi, vi, method="DL")
    assert by_vi.predictor == "vi" and by_vi.statistic != by_sei.statistic
    for method in ("PM", "ML", "HE", "SJ", "HS", "HSk", "EB"):
        result = egger_test(yi, vi, method=method, test="knha")
        assert result.df == 11.0
        assert 0.0 < result.p_value < 1.0
        assert result.tau2 is not None and result.tau2 >= 0.0


def test_egger_refusals() -> None:
    with pytest.raises(StatsError, match="at least 3"):
        egger_test([0.1, 0.2], [0.1, 0.2])
    with pytest.raises(StatsError, match="full rank"):
        egger_test([0.1, 0.2, 0.4, 0.3], [0.1, 0.1, 0.1, 0.1])
    with pytest.raises(StatsError, match="predictor"):
        egger_test([0.1, 0.2, 0.4], [0.1, 0.2, 0.3], predictor="ni")  # type: ignore[arg-type]
    with pytest.raises(StatsError, match="model"):
        egger_test([0.1, 0.2, 0.4], [0.1, 0.2, 0.3], model="glm")  # type: ignore[arg-type]
    with pytest.raises(StatsError, match="unknown method"):
        egger_test([0.1, 0.2, 0.4], [0.1, 0.2, 0.3], method="BAYES")


# ------------------------------------------------------------------------------------
# rank correlation test
# ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PUBBIAS_FILES)
def test_rank_test(name: str) -> None:
    ref = load(name)["pubbias"]["ranktest"]
    result = rank_test(*inputs(name))
    assert_close(result.tau, ref["tau"], f"{name} tau")
    assert_close(result.p_value, ref["pval"], f"{name} pval")
    assert result.exact  # no ties in these data: R's exact p-value


def _standardised(yi: np.ndarray[Any, Any], vi: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    w = 1.0 / vi
    theta = float(w @ yi / w.sum())
    return np.asarray((yi - theta) / np.sqrt(vi - 1.0 / w.sum()))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-3, 3), st.floats(0.01, 1.0)),
        min_size=3,
        max_size=40,
        unique_by=lambda t: t[1],
    )
)
def test_rank_test_agrees_with_scipy(data: list[tuple[float, float]]) -> None:
    """scipy's exact and tie-corrected Kendall p-values are an independent check."""
    yi = np.array([d[0] for d in data])
    vi = np.array([d[1] for d in data])
    y_star = _standardised(yi, vi)
    if np.unique(y_star).shape[0] == 1:
        with pytest.raises(StatsError, match="undefined"):
            rank_test(yi, vi)
        return
    result = rank_test(yi, vi)
    ties = np.unique(y_star).shape[0] < len(data)
    assert result.exact is not ties
    reference = stats.kendalltau(y_star, vi, method="asymptotic" if ties else "exact")
    assert result.tau == pytest.approx(reference.statistic, rel=1e-12, abs=1e-14)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-15)


def test_rank_test_with_tied_variances_uses_the_normal_approximation() -> None:
    yi = [0.1, 0.5, -0.2, 0.9, 0.3, 0.0, 0.7]
    vi = [0.1, 0.2, 0.1, 0.3, 0.2, 0.1, 0.3]
    result = rank_test(yi, vi)
    assert not result.exact
    reference = stats.kendalltau(_standardised(np.array(yi), np.array(vi)), vi)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-12)


def test_rank_test_refusals() -> None:
    with pytest.raises(StatsError, match="at least 3"):
        rank_test([0.1, 0.2], [0.1, 0.2])
    with pytest.raises(StatsError, match="undefined"):
        rank_test([0.1, 0.2, 0.3], [0.1, 0.1, 0.1])


# ------------------------------------------------------------------------------------
# trim and fill
# ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "key"), TRIMFILL)
def test_trim_and_fill(name: str, key: str) -> None:
    method, estimator = key.split("|")
    ref = load(name)["pubbias"]["trimfill"][key]
    yi, vi = inputs(name)
    result = trim_and_fill(yi, vi, estimator=estimator, method=method)  # type: ignore[arg-type]
    where = f"{name} trimfill {key}"
    assert (result.side, result.k0, result.estimator) == (ref["side"], ref["k0"], estimator)
    assert_close(result.k0_se, ref["se.k0"], f"{where} se.k0")
    assert_close(result.k0_p, ref["p.k0"], f"{where} p.k0")
    assert len(result.yi) == ref["k_filled"]
    assert_all_close(result.yi, ref["yi_filled"], f"{where} yi")
    assert_all_close(result.vi, ref["vi_filled"], f"{where} vi")
    assert result.filled.tolist() == ref["fill"]
    pooled = result.pooled
    assert pooled.k == ref["k_filled"] and pooled.test == "z" and pooled.method == method
    for attribute, name_in_ref in (
        ("estimate", "b"),
        ("se", "se"),
        ("statistic", "zval"),
        ("p_value", "pval"),
        ("ci_low", "ci.lb"),
        ("ci_high", "ci.ub"),
        ("tau2", "tau2"),
        ("i2", "I2"),
        ("q", "QE"),
        ("q_p", "QEp"),
    ):
        assert_close(getattr(pooled, attribute), ref[name_in_ref], f"{where} {name_in_ref}")


def test_trim_and_fill_given_side_and_mirroring() -> None:
    yi, vi = inputs("bcg")
    automatic = trim_and_fill(yi, vi, method="EE")
    forced = trim_and_fill(yi, vi, method="EE", side="right")
    assert automatic.side == "right"
    np.testing.assert_array_equal(automatic.yi, forced.yi)
    # The other side finds no asymmetry to correct here; L0's variance formula is
    # negative there, so its SE is NaN (R: sqrt of a negative number).
    left = trim_and_fill(yi, vi, method="EE", side="left")
    assert (left.side, left.k0) == ("left", 0) and math.isnan(left.k0_se)
    left_r0 = trim_and_fill(yi, vi, method="EE", side="left", estimator="R0")
    assert (left_r0.k0, left_r0.k0_se, left_r0.k0_p) == (0, math.sqrt(2.0), 0.5)
    # Filled values mirror the most extreme opposite-side values about the estimate
    # of the trimmed data; with k0 > 0 they all lie on the filled side.
    fills = automatic.yi[automatic.filled]
    assert fills.shape[0] == automatic.k0 == 4
    assert np.all(fills > pool(yi, vi, method="EE").estimate)


def test_trim_and_fill_without_missing_studies_refits_the_original_data() -> None:
    yi, vi = inputs("normand1999")
    result = trim_and_fill(yi, vi, method="REML", estimator="L0")
    assert result.k0 == 0 and not result.filled.any()
    assert result.pooled.estimate == pool(yi, vi, method="REML").estimate


def test_trim_and_fill_refusals() -> None:
    with pytest.raises(StatsError, match="k = 1"):
        trim_and_fill([0.1], [0.1])
    with pytest.raises(StatsError, match="3 parameters"):
        trim_and_fill([0.1, 0.4], [0.1, 0.2], method="REML")
    with pytest.raises(StatsError, match="estimator"):
        trim_and_fill([0.1, 0.4, 0.2], [0.1, 0.2, 0.3], estimator="Q0")  # type: ignore[arg-type]
    with pytest.raises(StatsError, match="side"):
        trim_and_fill([0.1, 0.4, 0.2], [0.1, 0.2, 0.3], side="up")  # type: ignore[arg-type]
    # Two studies work when the side is given (no slope to estimate).
    assert trim_and_fill([0.1, 0.4], [0.1, 0.2], method="REML", side="left").pooled.k >= 2


# ------------------------------------------------------------------------------------
# leave one out
# ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "method"), LEAVE1OUT)
def test_leave_one_out(name: str, method: str) -> None:
    ref = load(name)["leave1out"][method]
    result = leave_one_out(*inputs(name), method=method)
    for attribute, key in (
        ("estimate", "estimate"),
        ("se", "se"),
        ("statistic", "zval"),
        ("p_value", "pval"),
        ("ci_low", "ci.lb"),
        ("ci_high", "ci.ub"),
        ("q", "Q"),
        ("q_p", "Qp"),
        ("tau2", "tau2"),
        ("i2", "I2"),
        ("h2", "H2"),
    ):
        assert_all_close(getattr(result, attribute), ref[key], f"{name} leave1out {method} {key}")


def test_leave_one_out_matches_pool_and_handles_two_studies() -> None:
    yi, vi = inputs("normand1999")
    result = leave_one_out(yi, vi, method="PM", test="knha")
    for i in range(len(yi)):
        fit = pool(yi[:i] + yi[i + 1 :], vi[:i] + vi[i + 1 :], method="PM", test="knha")
        assert result.estimate[i] == fit.estimate and result.p_value[i] == fit.p_value
    two = leave_one_out([0.2, 0.8], [0.04, 0.09])
    assert two.estimate.tolist() == [0.8, 0.2] and two.tau2.tolist() == [0.0, 0.0]
    with pytest.raises(StatsError, match="k = 1"):
        leave_one_out([0.2], [0.04])


def test_leave_one_out_records_failed_fits_as_nan(monkeypatch: pytest.MonkeyPatch) -> None:
    """metafor stores NA for a refit that fails; so do we (here: forced non-convergence)."""
    real_pool = pool
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            kwargs["max_iter"] = 1
        return real_pool(*args, **kwargs)

    monkeypatch.setattr(pubbias, "pool", flaky)
    yi, vi = inputs("bcg")
    result = leave_one_out(yi, vi, method="REML")
    assert math.isnan(result.estimate[1]) and math.isnan(result.tau2[1])
    assert not np.isnan(np.delete(result.estimate, 1)).any()
