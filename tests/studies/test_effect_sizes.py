"""Effect-size conversions against metafor 3.8 (tests/data/metafor/conversions.json)
and against values worked out by hand from Borenstein et al. (2009)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studies import effect_sizes as es
from studies.effect_sizes import ConversionError, EffectEstimate, compute_effect

REFERENCE: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "data" / "metafor" / "conversions.json").read_text()
)

Z975 = 1.959963984540054  # qnorm(0.975), as recorded in the reference file


def assert_close(actual: float, expected: float) -> None:
    """1e-6 relative agreement; an expected exact zero is checked to 1e-9 absolute."""
    if expected == 0:
        assert abs(actual) <= 1e-9, (actual, expected)
    else:
        assert math.isclose(actual, expected, rel_tol=1e-6), (actual, expected)


def rows(block: dict[str, Any]) -> range:
    first = next(iter(block["input"].values()))
    return range(len(first))


# --------------------------------------------------------------------------------------
# 2x2 tables
# --------------------------------------------------------------------------------------

TABLE = REFERENCE["table_2x2"]


def table_row(i: int) -> tuple[int, int, int, int]:
    """The reference gives cells a, b, c, d; the functions take events and group sizes."""
    cells = TABLE["input"]
    a, b, c, d = cells["ai"][i], cells["bi"][i], cells["ci"][i], cells["di"][i]
    return a, a + b, c, c + d


@pytest.mark.parametrize("i", rows(TABLE))
@pytest.mark.parametrize(
    ("function", "key"),
    [(es.log_odds_ratio, "logOR"), (es.log_risk_ratio, "logRR"), (es.risk_difference, "RD")],
)
def test_2x2_measures_match_escalc(function: Any, key: str, i: int) -> None:
    result = function(*table_row(i))
    assert_close(result.yi, TABLE[key]["yi"][i])
    assert_close(result.vi, TABLE[key]["vi"][i])


def test_zero_cell_table_gets_one_half_in_every_cell() -> None:
    # Row 6 is 0/20 against 5/20: after adding 0.5, OR = (0.5 * 15.5) / (20.5 * 5.5).
    result = es.log_odds_ratio(0, 20, 5, 20)
    assert_close(result.yi, math.log(0.5 * 15.5 / (20.5 * 5.5)))
    assert_close(result.vi, 1 / 0.5 + 1 / 20.5 + 1 / 5.5 + 1 / 15.5)


def test_table_without_zero_is_not_adjusted() -> None:
    result = es.log_odds_ratio(10, 50, 5, 50)
    assert_close(result.yi, math.log(10 * 45 / (40 * 5)))


@pytest.mark.parametrize("i", rows(TABLE))
@pytest.mark.parametrize(("method", "key"), [("logit", "logOR_to_d_logit"), ("normal", "logOR_to_d_normal")])
def test_log_odds_ratio_to_d_matches_escalc(method: Any, key: str, i: int) -> None:
    log_or = TABLE["logOR"]
    result = es.log_odds_ratio_to_d(log_or["yi"][i], log_or["vi"][i], method=method)
    assert_close(result.yi, TABLE[key]["yi"][i])
    assert_close(result.vi, TABLE[key]["vi"][i])


D2OR = REFERENCE["d_to_logOR"]


@pytest.mark.parametrize("i", rows(D2OR))
@pytest.mark.parametrize(("method", "key"), [("logit", "escalc_D2ORL"), ("normal", "escalc_D2ORN")])
def test_d_to_log_odds_ratio_matches_escalc(method: Any, key: str, i: int) -> None:
    inp = D2OR["input"]
    d = inp["d"][i]
    vd = es.d_variance(d, inp["n1i"][i], inp["n2i"][i])
    result = es.d_to_log_odds_ratio(d, vd, method=method)
    assert_close(result.yi, D2OR[f"{key}_yi"][i])
    assert_close(result.vi, D2OR[f"{key}_vi"][i])


# --------------------------------------------------------------------------------------
# Means, t and F
# --------------------------------------------------------------------------------------

MEANS = REFERENCE["means_to_smd"]


def means_row(i: int) -> tuple[float, ...]:
    inp = MEANS["input"]
    return tuple(inp[k][i] for k in ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"))


@pytest.mark.parametrize("i", rows(MEANS))
def test_means_pooled_sd_d_and_j(i: int) -> None:
    m1, s1, n1, m2, s2, n2 = means_row(i)
    assert_close(es.pooled_sd(s1, n1, s2, n2), MEANS["sd_within"][i])
    result = es.smd_from_means(m1, s1, n1, m2, s2, n2)
    assert_close(result.d, MEANS["d"][i])
    assert_close(result.vd, MEANS["vd"][i])
    assert_close(result.j, MEANS["J_exact"][i])
    assert_close(es.j_approx(n1 + n2 - 2), MEANS["J_approx"][i])


@pytest.mark.parametrize("i", rows(MEANS))
@pytest.mark.parametrize(
    ("correction", "vtype", "g_key", "vg_key"),
    [
        ("exact", "LS", "escalc_SMD_yi", "escalc_SMD_vi_LS"),
        ("exact", "UB", "escalc_SMD_yi", "escalc_SMD_vi_UB"),
        ("exact", "LS2", "escalc_SMD_yi", "escalc_SMD_vi_LS2"),
        ("exact", "LS2", "g_exactJ", "vg_exactJ_Borenstein"),
        ("approx", "LS2", "g_approxJ", "vg_approxJ_Borenstein"),
    ],
)
def test_means_to_g_matches_escalc_and_borenstein(
    i: int, correction: Any, vtype: Any, g_key: str, vg_key: str
) -> None:
    result = es.smd_from_means(*means_row(i), correction=correction, vtype=vtype)
    assert_close(result.g, MEANS[g_key][i])
    assert_close(result.vg, MEANS[vg_key][i])


@pytest.mark.parametrize("i", rows(MEANS))
def test_raw_mean_difference_matches_escalc(i: int) -> None:
    result = es.mean_difference(*means_row(i))
    assert_close(result.yi, MEANS["escalc_MD_yi"][i])
    assert_close(result.vi, MEANS["escalc_MD_vi"][i])


T = REFERENCE["t_to_smd"]


@pytest.mark.parametrize("i", rows(T))
def test_t_to_g_matches_escalc(i: int) -> None:
    inp = T["input"]
    result = es.smd_from_t(inp["t"][i], inp["n1i"][i], inp["n2i"][i])
    assert_close(result.d, T["d"][i])
    assert_close(result.vd, T["vd"][i])
    assert_close(result.j, T["J_exact"][i])
    assert_close(result.g, T["g"][i])
    assert_close(result.g, T["escalc_yi"][i])
    assert_close(result.vg, T["escalc_vi"][i])


F1 = REFERENCE["F1_to_smd"]


@pytest.mark.parametrize("i", rows(F1))
def test_f_to_g_matches_escalc(i: int) -> None:
    inp = F1["input"]
    result = es.smd_from_f(inp["F"][i], inp["n1i"][i], inp["n2i"][i], inp["sign"][i])
    assert_close(result.d, F1["d"][i])
    assert_close(result.vd, F1["vd"][i])
    assert_close(result.g, F1["escalc_yi"][i])
    assert_close(result.vg, F1["escalc_vi"][i])


J_TABLE = REFERENCE["J_table"]


@pytest.mark.parametrize("i", range(len(J_TABLE["df"])))
def test_j_table(i: int) -> None:
    df = J_TABLE["df"][i]
    expected = J_TABLE["J_exact"][i]
    if expected is None:  # metafor gives NA for df <= 1
        with pytest.raises(ConversionError) as caught:
            es.j_exact(df)
        assert caught.value.field == "df"
    else:
        assert_close(es.j_exact(df), expected)
        assert_close(es.small_sample_correction(df, "exact"), expected)
    assert_close(es.j_approx(df), J_TABLE["J_approx"][i])
    assert_close(es.small_sample_correction(df, "approx"), J_TABLE["J_approx"][i])


def test_j_exact_stays_finite_for_huge_df() -> None:
    # Gamma itself overflows near 171; the log-gamma form must not.
    assert 0.99999 < es.j_exact(1e6) < 1.0


# --------------------------------------------------------------------------------------
# Correlations
# --------------------------------------------------------------------------------------

R = REFERENCE["r_to_d_and_z"]


@pytest.mark.parametrize("i", rows(R))
def test_correlation_d_and_fisher_z(i: int) -> None:
    r, n = R["input"]["r"][i], R["input"]["n"][i]
    cor = es.correlation(r, n)
    assert_close(cor.yi, R["escalc_COR_yi"][i])
    assert_close(cor.vi, R["vr"][i])
    assert_close(cor.vi, R["escalc_COR_vi"][i])
    d = es.r_to_d(r, cor.vi)
    assert_close(d.yi, R["d"][i])
    assert_close(d.vi, R["vd"][i])
    z = es.fisher_z(r, n)
    assert_close(z.yi, R["z"][i])
    assert_close(z.yi, R["escalc_ZCOR_yi"][i])
    assert_close(z.vi, R["vz"][i])
    assert_close(z.vi, R["escalc_ZCOR_vi"][i])
    assert_close(es.fisher_z_to_r(z.yi), R["z_back_to_r"][i])


D2R = REFERENCE["d_to_r"]


@pytest.mark.parametrize("i", rows(D2R))
def test_d_to_r(i: int) -> None:
    inp = D2R["input"]
    d, n1, n2 = inp["d"][i], inp["n1i"][i], inp["n2i"][i]
    vd = es.d_variance(d, n1, n2)
    assert_close(vd, D2R["vd"][i])
    result = es.d_to_r(d, vd, n1, n2)
    assert_close(result.yi, D2R["r"][i])
    assert_close(result.vi, D2R["vr"][i])


@given(st.floats(min_value=-0.99, max_value=0.99))
def test_r_to_d_and_back_with_equal_groups(r: float) -> None:
    # With n1 = n2 the constant a is 4, and Borenstein 7.5 and 7.7 are exact inverses.
    d = es.r_to_d(r, 0.01)
    assert math.isclose(es.d_to_r(d.yi, d.vi, 50, 50).yi, r, rel_tol=1e-9, abs_tol=1e-12)


# --------------------------------------------------------------------------------------
# Confidence intervals and p-values
# --------------------------------------------------------------------------------------

CI = REFERENCE["ci_to_se"]


@pytest.mark.parametrize("i", rows(CI))
def test_ratio_ci_to_log_and_se(i: int) -> None:
    inp = CI["input"]
    result = es.ratio_from_ci(inp["or"][i], inp["or.lb"][i], inp["or.ub"][i], level=inp["level"])
    assert_close(result.yi, CI["yi"][i])
    assert_close(result.se, CI["sei"][i])
    assert_close(result.vi, CI["vi"][i])
    assert_close(
        es.se_from_ci(inp["or.lb"][i], inp["or.ub"][i], log_scale=True), CI["sei"][i]
    )


def test_critical_value() -> None:
    assert_close(es.z_critical(95), CI["z_crit"])
    assert_close(es.z_critical(90), 1.6448536269514722)


def test_raw_scale_ci_to_se() -> None:
    # An SMD of 0.30 with 95% CI 0.10 to 0.50: SE = 0.40 / (2 * 1.96).
    result = es.estimate_from_ci(0.30, 0.10, 0.50)
    assert_close(result.yi, 0.30)
    assert_close(result.se, 0.40 / (2 * Z975))


P = REFERENCE["p_to_se"]


@pytest.mark.parametrize("i", rows(P))
def test_p_value_to_se(i: int) -> None:
    inp = P["input"]
    assert_close(es.se_from_p(inp["estimate"][i], inp["p_two_sided"][i]), P["sei"][i])


def test_risk_ratio_to_odds_ratio_with_baseline_risk() -> None:
    # RR 0.5 with comparison risk 0.2: intervention risk 0.1, OR = (0.1/0.9)/(0.2/0.8) = 4/9.
    result = es.log_risk_ratio_to_log_odds_ratio(math.log(0.5), 0.04, 0.2)
    assert_close(result.yi, math.log(4 / 9))
    assert_close(result.vi, 0.04 / 0.9**2)


@given(st.floats(min_value=0.2, max_value=5.0))
def test_rare_outcome_risk_ratio_is_nearly_the_odds_ratio(rr: float) -> None:
    result = es.log_risk_ratio_to_log_odds_ratio(math.log(rr), 0.04, 1e-6)
    assert math.isclose(result.yi, math.log(rr), abs_tol=1e-5)
    assert math.isclose(result.vi, 0.04, rel_tol=1e-4)


@given(st.floats(min_value=-3.0, max_value=3.0), st.floats(min_value=0.001, max_value=2.0))
def test_log_odds_ratio_to_d_and_back(y: float, v: float) -> None:
    d = es.log_odds_ratio_to_d(y, v)
    back = es.d_to_log_odds_ratio(d.yi, d.vi)
    assert math.isclose(back.yi, y, rel_tol=1e-12, abs_tol=1e-12)
    assert math.isclose(back.vi, v, rel_tol=1e-12)


# --------------------------------------------------------------------------------------
# compute_effect: one hand-worked example per input kind
# --------------------------------------------------------------------------------------

J18 = 0.95764642702372  # exact J at 18 df, from the reference J table
J98 = 0.9923240874205598  # exact J at 98 df
LOGIT = math.sqrt(3) / math.pi  # log OR -> d (Borenstein 7.1)


def test_input_kinds_list_the_model_fields() -> None:
    assert es.INPUT_KINDS == {
        "means": ("mean_1", "sd_1", "n_1", "mean_2", "sd_2", "n_2"),
        "counts_2x2": ("events_1", "n_1", "events_2", "n_2"),
        "odds_ratio_ci": ("ratio", "ci_low", "ci_high"),
        "risk_ratio_ci": ("ratio", "ci_low", "ci_high", "baseline_risk"),
        "t_stat": ("t_value", "n_1", "n_2"),
        "f_stat": ("f_value", "n_1", "n_2", "direction"),
        "correlation": ("r_value", "n_total"),
        "es_se": ("es_value", "es_se"),
        "es_ci": ("es_value", "ci_low", "ci_high"),
        "es_p": ("es_value", "p_value"),
    }
    assert set(es.OPTIONAL_INPUTS) == set(es.INPUT_KINDS)
    assert es.OPTIONAL_INPUTS["odds_ratio_ci"] == ("ci_level", "n_1", "n_2")


def test_compute_means() -> None:
    # Means 10 and 9, both SDs 2, 10 per group: S_within = 2, d = 0.5, df = 18.
    result = compute_effect(
        "means", {"mean_1": 10, "sd_1": 2, "n_1": 10, "mean_2": 9, "sd_2": 2, "n_2": 10}
    )
    g = J18 * 0.5
    assert_close(result.g, g)
    assert_close(result.vg, 1 / 10 + 1 / 10 + g**2 / 40)  # metafor vtype "LS"
    assert result.native_metric == "SMD"
    assert (result.native_yi, result.native_vi) == (result.g, result.vg)


def test_compute_means_matches_normand1999_first_row() -> None:
    m1, s1, n1, m2, s2, n2 = means_row(0)
    result = compute_effect(
        "means", {"mean_1": m1, "sd_1": s1, "n_1": n1, "mean_2": m2, "sd_2": s2, "n_2": n2}
    )
    assert_close(result.g, MEANS["escalc_SMD_yi"][0])
    assert_close(result.vg, MEANS["escalc_SMD_vi_LS"][0])


def test_compute_counts() -> None:
    # 10/50 against 5/50: OR = (10 * 45)/(40 * 5) = 2.25.
    result = compute_effect("counts_2x2", {"events_1": 10, "n_1": 50, "events_2": 5, "n_2": 50})
    v_log_or = 1 / 10 + 1 / 40 + 1 / 5 + 1 / 45
    assert result.native_metric == "logOR"
    assert_close(result.native_yi, math.log(2.25))
    assert_close(result.native_vi, v_log_or)
    assert_close(result.g, J98 * math.log(2.25) * LOGIT)
    assert_close(result.vg, J98**2 * v_log_or * 3 / math.pi**2)


def test_compute_counts_with_a_zero_cell() -> None:
    result = compute_effect("counts_2x2", {"events_1": 0, "n_1": 20, "events_2": 5, "n_2": 20})
    assert_close(result.native_yi, TABLE["logOR"]["yi"][5])
    assert_close(result.native_vi, TABLE["logOR"]["vi"][5])
    j38 = 0.9801104021309504
    assert_close(result.g, j38 * TABLE["logOR_to_d_logit"]["yi"][5])
    assert_close(result.vg, j38**2 * TABLE["logOR_to_d_logit"]["vi"][5])


def test_compute_odds_ratio_ci_without_group_sizes() -> None:
    result = compute_effect("odds_ratio_ci", {"ratio": 1.18, "ci_low": 0.9, "ci_high": 1.54})
    assert result.native_metric == "logOR"
    assert_close(result.native_yi, CI["yi"][0])
    assert_close(result.native_vi, CI["vi"][0])
    assert_close(result.g, CI["yi"][0] * LOGIT)  # J = 1 without group sizes
    assert_close(result.vg, CI["vi"][0] * 3 / math.pi**2)


def test_compute_odds_ratio_ci_with_group_sizes_and_level() -> None:
    values = {"ratio": 1.18, "ci_low": 0.9, "ci_high": 1.54, "ci_level": 90, "n_1": 50, "n_2": 50}
    result = compute_effect("odds_ratio_ci", values)
    se = (math.log(1.54) - math.log(0.9)) / (2 * 1.6448536269514722)
    assert_close(result.native_vi, se**2)
    assert_close(result.g, J98 * math.log(1.18) * LOGIT)
    assert_close(result.vg, J98**2 * se**2 * 3 / math.pi**2)


def test_compute_risk_ratio_ci_with_baseline_risk() -> None:
    values = {"ratio": 0.5, "ci_low": 0.25, "ci_high": 1.0, "baseline_risk": 0.2}
    result = compute_effect("risk_ratio_ci", values)
    se_log_rr = math.log(4) / (2 * Z975)
    assert result.native_metric == "logRR"
    assert_close(result.native_yi, math.log(0.5))
    assert_close(result.native_vi, se_log_rr**2)
    # OR = 0.5 * 0.8 / (1 - 0.1) = 4/9; var(log OR) = var(log RR) / 0.9^2 (delta method).
    assert_close(result.g, math.log(4 / 9) * LOGIT)
    assert_close(result.vg, se_log_rr**2 / 0.81 * 3 / math.pi**2)


def test_compute_t_stat() -> None:
    result = compute_effect("t_stat", {"t_value": 2.1, "n_1": 20, "n_2": 22})
    assert_close(result.g, T["escalc_yi"][0])
    assert_close(result.vg, T["escalc_vi"][0])
    assert result.native_metric == "SMD"


def test_compute_f_stat_takes_the_sign_from_direction() -> None:
    base = {"f_value": 4.41, "n_1": 20, "n_2": 22}
    up = compute_effect("f_stat", {**base, "direction": 1})
    down = compute_effect("f_stat", {**base, "direction": -1})
    assert_close(up.g, T["escalc_yi"][0])  # F = 2.1^2
    assert_close(down.g, -T["escalc_yi"][0])
    assert_close(down.vg, T["escalc_vi"][0])


def test_compute_correlation() -> None:
    result = compute_effect("correlation", {"r_value": 0.5, "n_total": 80})
    assert result.native_metric == "ZCOR"
    assert_close(result.native_yi, math.atanh(0.5))
    assert_close(result.native_vi, 1 / 77)
    j78 = math.gamma(39) / (math.sqrt(39) * math.gamma(38.5))
    # d = 2(0.5)/sqrt(0.75); var(d) = 4 var(r)/0.75^3 with var(r) = 0.75^2/79.
    d = 1 / math.sqrt(0.75)
    vd = 4 * (0.75**2 / 79) / 0.75**3
    assert_close(result.g, j78 * d)
    assert_close(result.vg, j78**2 * vd)
    assert_close(d, R["d"][3])
    assert_close(vd, R["vd"][3])


def test_compute_es_se() -> None:
    result = compute_effect("es_se", {"es_value": 0.3, "es_se": 0.1})
    assert_close(result.g, 0.3)
    assert_close(result.vg, 0.01)
    assert_close(result.se_g, 0.1)
    assert result.native_metric == "SMD"
    low, high = result.ci()
    assert_close(low, 0.3 - Z975 * 0.1)
    assert_close(high, 0.3 + Z975 * 0.1)
    low90, high90 = result.ci(0.90)
    assert_close(high90 - low90, 2 * 1.6448536269514722 * 0.1)


def test_compute_es_ci() -> None:
    result = compute_effect("es_ci", {"es_value": 0.3, "ci_low": 0.1, "ci_high": 0.5})
    assert_close(result.g, 0.3)
    assert_close(result.se_g, 0.4 / (2 * Z975))
    result90 = compute_effect(
        "es_ci", {"es_value": 0.3, "ci_low": 0.1, "ci_high": 0.5, "ci_level": 90}
    )
    assert_close(result90.se_g, 0.4 / (2 * 1.6448536269514722))


def test_compute_es_p() -> None:
    result = compute_effect("es_p", {"es_value": 0.35, "p_value": 0.01})
    assert_close(result.g, 0.35)
    assert_close(result.se_g, P["sei"][0])


def test_compute_ignores_fields_of_other_kinds() -> None:
    result = compute_effect(
        "es_se", {"es_value": 0.3, "es_se": 0.1, "mean_1": None, "ratio": 7.0, "p_value": None}
    )
    assert_close(result.g, 0.3)


def test_effect_estimate_ci_rejects_percent_level() -> None:
    with pytest.raises(ValueError, match="proportion"):
        EffectEstimate(0.3, 0.01, "SMD", 0.3, 0.01).ci(95)


# --------------------------------------------------------------------------------------
# Validation: the right field, and a message a reviewer can act on
# --------------------------------------------------------------------------------------

MEANS_OK = {"mean_1": 10, "sd_1": 2, "n_1": 10, "mean_2": 9, "sd_2": 2, "n_2": 10}
COUNTS_OK = {"events_1": 5, "n_1": 10, "events_2": 3, "n_2": 10}
OR_OK = {"ratio": 1.2, "ci_low": 0.9, "ci_high": 1.6}
RR_OK = {**OR_OK, "baseline_risk": 0.3}

ERRORS = [
    # kind, values, field, exact message
    ("means", {**MEANS_OK, "sd_1": -1}, "sd_1", "sd_1 must be greater than 0 (got -1)"),
    ("means", {**MEANS_OK, "sd_2": 0}, "sd_2", "sd_2 must be greater than 0 (got 0)"),
    ("means", {**MEANS_OK, "n_1": 1}, "n_1", "n_1 must be at least 2 (got 1)"),
    ("means", {**MEANS_OK, "n_2": 10.5}, "n_2", "n_2 must be a whole number (got 10.5)"),
    ("means", {**MEANS_OK, "mean_1": math.nan}, "mean_1", "mean_1 must be a finite number (got nan)"),
    ("means", {**MEANS_OK, "mean_2": math.inf}, "mean_2", "mean_2 must be a finite number (got inf)"),
    (
        "means", {**MEANS_OK, "sd_2": None}, "sd_2",
        "sd_2 is missing: it is needed to compute an effect size from means and standard deviations",
    ),
    (
        "counts_2x2", {**COUNTS_OK, "events_1": 12}, "events_1",
        "events_1 (12) cannot be larger than the group size n_1 (10)",
    ),
    ("counts_2x2", {**COUNTS_OK, "events_2": -1}, "events_2", "events_2 cannot be negative (got -1)"),
    ("counts_2x2", {**COUNTS_OK, "n_2": 0}, "n_2", "n_2 must be at least 2 (got 0)"),
    (
        "odds_ratio_ci", {**OR_OK, "ratio": 0}, "ratio",
        "ratio must be greater than 0 (got 0): ratios are never negative",
    ),
    (
        "odds_ratio_ci", {**OR_OK, "ratio": -1.2}, "ratio",
        "ratio must be greater than 0 (got -1.2): ratios are never negative",
    ),
    (
        "odds_ratio_ci", {**OR_OK, "ci_low": 1.3}, "ci_low",
        "ci_low (1.3) is above the estimate ratio (1.2): a confidence interval must contain its estimate",
    ),
    (
        "odds_ratio_ci", {**OR_OK, "ci_high": 1.1}, "ci_high",
        "ci_high (1.1) is below the estimate ratio (1.2): a confidence interval must contain its estimate",
    ),
    (
        "odds_ratio_ci", {**OR_OK, "ci_low": 1.6, "ci_high": 0.9}, "ci_high",
        "ci_high (0.9) must be greater than ci_low (1.6)",
    ),
    ("odds_ratio_ci", {**OR_OK, "ci_low": 0}, "ci_low", "ci_low must be greater than 0 (got 0)"),
    (
        "odds_ratio_ci", {**OR_OK, "ci_level": 0.95}, "ci_level",
        "ci_level must be a percentage between 1 and 100, such as 95 (got 0.95)",
    ),
    (
        "odds_ratio_ci", {**OR_OK, "n_1": 40}, "n_2",
        "n_2 is missing: give both group sizes or neither",
    ),
    (
        "risk_ratio_ci", OR_OK, "baseline_risk",
        "baseline_risk is missing: a risk ratio can be put on the Hedges' g scale only through "
        "the odds ratio, which needs the comparison group's risk (events divided by "
        "participants, between 0 and 1)",
    ),
    (
        "risk_ratio_ci", {**RR_OK, "baseline_risk": 1.2}, "baseline_risk",
        "baseline_risk must be between 0 and 1, exclusive (got 1.2)",
    ),
    (
        "risk_ratio_ci", {"ratio": 3, "ci_low": 2, "ci_high": 4, "baseline_risk": 0.5},
        "baseline_risk",
        "baseline_risk (0.5) times the risk ratio (3) gives an intervention-group risk of 1.5, "
        "which is not below 1",
    ),
    ("t_stat", {"t_value": 2.0, "n_1": 10, "n_2": 1}, "n_2", "n_2 must be at least 2 (got 1)"),
    (
        "f_stat", {"f_value": -4, "n_1": 10, "n_2": 10, "direction": 1}, "f_value",
        "f_value cannot be negative (got -4)",
    ),
    (
        "f_stat", {"f_value": 4, "n_1": 10, "n_2": 10, "direction": 0}, "direction",
        "direction must be +1 (intervention group higher) or -1 (comparison group higher) (got 0)",
    ),
    (
        "correlation", {"r_value": 1, "n_total": 50}, "r_value",
        "r_value must be between -1 and 1, exclusive (got 1)",
    ),
    (
        "correlation", {"r_value": -1.5, "n_total": 50}, "r_value",
        "r_value must be between -1 and 1, exclusive (got -1.5)",
    ),
    ("correlation", {"r_value": 0.3, "n_total": 3}, "n_total", "n_total must be at least 4 (got 3)"),
    ("es_se", {"es_value": 0.3, "es_se": 0}, "es_se", "es_se must be greater than 0 (got 0)"),
    ("es_se", {"es_value": 0.3, "es_se": -0.1}, "es_se", "es_se must be greater than 0 (got -0.1)"),
    (
        "es_ci", {"es_value": 0.6, "ci_low": 0.1, "ci_high": 0.5}, "ci_high",
        "ci_high (0.5) is below the estimate es_value (0.6): a confidence interval must contain "
        "its estimate",
    ),
    (
        "es_p", {"es_value": 0.3, "p_value": 0}, "p_value",
        "p_value must be between 0 and 1, exclusive (got 0)",
    ),
    (
        "es_p", {"es_value": 0.3, "p_value": 1}, "p_value",
        "p_value must be between 0 and 1, exclusive (got 1)",
    ),
    (
        "es_p", {"es_value": 0.3, "p_value": 1.2}, "p_value",
        "p_value must be between 0 and 1, exclusive (got 1.2)",
    ),
    (
        "es_p", {"es_value": 0, "p_value": 0.2}, "es_value",
        "es_value is 0, so a p-value cannot give its standard error: report the standard error "
        "or the confidence interval instead",
    ),
    ("es_se", {"es_value": "abc", "es_se": 0.1}, "es_value", "es_value must be a number (got 'abc')"),
    ("es_se", {"es_value": True, "es_se": 0.1}, "es_value", "es_value must be a number (got True)"),
]


@pytest.mark.parametrize(("kind", "values", "field", "message"), ERRORS)
def test_validation_errors_name_the_field(
    kind: str, values: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ConversionError) as caught:
        compute_effect(kind, values)
    assert caught.value.field == field
    assert caught.value.message == message
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_unknown_kind() -> None:
    with pytest.raises(ConversionError) as caught:
        compute_effect("median_iqr", {})
    assert caught.value.field == "kind"
    assert "unknown input kind 'median_iqr'" in caught.value.message


def test_missing_field_is_reported_when_absent_as_well_as_none() -> None:
    with pytest.raises(ConversionError) as caught:
        compute_effect("correlation", {"r_value": 0.3})
    assert caught.value.field == "n_total"
    assert caught.value.message.startswith("n_total is missing")


def test_estimate_equal_to_a_rounded_bound_is_accepted() -> None:
    result = compute_effect("odds_ratio_ci", {"ratio": 1.0, "ci_low": 1.0, "ci_high": 1.32})
    assert_close(result.native_yi, 0.0)
    assert_close(result.native_vi, (math.log(1.32) / (2 * Z975)) ** 2)
