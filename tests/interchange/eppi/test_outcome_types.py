"""Each EPPI-Reviewer outcome type becomes the right input kind, with the right numbers, and the
effect size's g is the one computed by hand from the Data fields."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from interchange.eppi.outcomes import Bad, Skip, eppi_smd, to_input
from studies.effect_sizes.registry import compute_effect
from studies.models import EffectSize
from tests.interchange.eppi.conftest import TINY, kinds, outcome, reference, run, tiny_export

pytestmark = pytest.mark.django_db


def j_exact(df: float) -> float:
    return math.exp(math.lgamma(df / 2) - 0.5 * math.log(df / 2) - math.lgamma((df - 1) / 2))


def g_from_means(n1: int, n2: int, m1: float, m2: float, sd1: float, sd2: float) -> float:
    pooled = math.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2))
    return (m1 - m2) / pooled * j_exact(n1 + n2 - 2)


def data(*values: float) -> list[float]:
    out = [0.0] * 14
    out[: len(values)] = values
    return out


# --- the mapping, type by type ----------------------------------------------------------------


def test_type_1_means_and_sds() -> None:
    mapped = to_input(1, data(50, 48, 0.8, 0.7, 0.3, 0.32))
    assert mapped.input_kind == "means"
    assert mapped.inputs == {"n_1": 50, "n_2": 48, "mean_1": 0.8, "mean_2": 0.7, "sd_1": 0.3, "sd_2": 0.32}
    assert mapped.labels["sd_1"] == "Data5 (Group 1 SD)"
    g = compute_effect(mapped.input_kind, mapped.inputs).g
    assert g == pytest.approx(g_from_means(50, 48, 0.8, 0.7, 0.3, 0.32), abs=1e-12)


def test_type_2_table_counts_events_and_non_events() -> None:
    mapped = to_input(2, data(12, 20, 28, 20))  # events 1, events 2, no events 1, no events 2
    assert mapped.input_kind == "counts_2x2"
    assert mapped.inputs == {"events_1": 12, "n_1": 40, "events_2": 20, "n_2": 40}
    estimate = compute_effect(mapped.input_kind, mapped.inputs)
    log_or = math.log(12 * 20 / (28 * 20))
    assert estimate.native_yi == pytest.approx(log_or, abs=1e-12)
    assert estimate.g == pytest.approx(log_or * math.sqrt(3) / math.pi * j_exact(78), abs=1e-12)


def test_type_3_standard_errors_become_each_groups_sd() -> None:
    mapped = to_input(3, data(50, 40, 10.0, 9.0, 0.05, 0.06))
    assert mapped.input_kind == "means"
    assert mapped.inputs["sd_1"] == pytest.approx(0.05 * math.sqrt(50), abs=1e-12)
    assert mapped.inputs["sd_2"] == pytest.approx(0.06 * math.sqrt(40), abs=1e-12)
    assert "SD 2 = 0.06 × √40" in mapped.derived[1]


def test_type_4_confidence_intervals_become_sds_with_z_or_t_by_group_size() -> None:
    # Group 1 (100) is large: the CI's width is 3.92 SEs; group 2 (30) is small: 2·t(0.975, 29).
    mapped = to_input(4, data(100, 30, 12.0, 10.5, 10.0, 9.0, 14.0, 12.0))
    assert mapped.input_kind == "means"
    assert mapped.inputs["sd_1"] == pytest.approx(math.sqrt(100) * 4.0 / 3.92, abs=1e-12)
    t = stats.t.ppf(0.975, 29)
    assert mapped.inputs["sd_2"] == pytest.approx(math.sqrt(30) * 3.0 / (2 * t), abs=1e-12)
    assert mapped.inputs["mean_1"] == 12.0 and mapped.inputs["mean_2"] == 10.5


def test_type_4_refuses_an_upper_bound_below_the_lower() -> None:
    with pytest.raises(Bad) as caught:
        to_input(4, data(100, 80, 12.0, 10.5, 14.0, 9.0, 10.0, 12.0))
    assert caught.value.field == "Data7 (Group 1 CI upper)"
    assert "must be above Data5 (Group 1 CI lower)" in caught.value.message


def test_type_5_t_value() -> None:
    mapped = to_input(5, data(30, 35, 2.5, 0))
    assert (mapped.input_kind, mapped.inputs) == ("t_stat", {"t_value": 2.5, "n_1": 30, "n_2": 35})
    g = compute_effect("t_stat", mapped.inputs).g
    assert g == pytest.approx(2.5 * math.sqrt(1 / 30 + 1 / 35) * j_exact(63), abs=1e-12)
    assert mapped.caveats == []


def test_type_5_p_value_gives_a_positive_t_and_a_caveat() -> None:
    mapped = to_input(5, data(30, 35, 0, 0.02))
    assert mapped.input_kind == "t_stat"
    assert mapped.inputs["t_value"] == pytest.approx(stats.t.isf(0.01, 63), abs=1e-12)
    assert "no sign" in mapped.caveats[0]


def test_type_7_correlation() -> None:
    mapped = to_input(7, data(120, 0.3))
    assert (mapped.input_kind, mapped.inputs) == ("correlation", {"r_value": 0.3, "n_total": 120})


def test_type_0_manual_smd_with_se_is_taken_as_given() -> None:
    mapped = to_input(0, data(0.25, 0.1))
    assert (mapped.input_kind, mapped.inputs) == ("es_se", {"es_value": 0.25, "es_se": 0.1})
    assert compute_effect("es_se", mapped.inputs).g == 0.25


def test_type_0_manual_odds_ratio_keeps_its_standard_error_through_the_ci() -> None:
    mapped = to_input(0, data(0, 0, 0, 0, 2.0, 0.3))
    assert mapped.input_kind == "odds_ratio_ci"
    estimate = compute_effect("odds_ratio_ci", mapped.inputs)
    assert estimate.native_yi == pytest.approx(math.log(2.0), abs=1e-12)
    assert estimate.native_vi == pytest.approx(0.09, abs=1e-12)


def test_type_0_manual_r_with_the_se_of_z_recovers_n() -> None:
    mapped = to_input(0, data(0, 0, 0.2, 1 / math.sqrt(97)))
    assert (mapped.input_kind, mapped.inputs) == ("correlation", {"r_value": 0.2, "n_total": 100})
    assert mapped.caveats == []


@pytest.mark.parametrize(
    ("type_id", "values", "field"),
    [
        (0, data(0, 0, 0, 0, 0, 0, 1.5, 0.2), "Data7 (risk ratio)"),
        (0, data(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.1, 0.02), "Data11 (risk difference)"),
        (0, data(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3.0, 1.0), "Data13 (mean difference)"),
        (0, data(), "Data1"),
        (6, data(40, 10, 5, 45), "OutcomeTypeId"),
        (5, data(30, 30, 0, 0), "Data3 (t-value)"),
    ],
)
def test_outcomes_that_cannot_become_g_are_skipped_with_the_reason(type_id: int, values: list[float], field: str) -> None:
    with pytest.raises(Skip) as caught:
        to_input(type_id, values)
    assert caught.value.field == field


def test_a_fractional_group_size_is_an_error() -> None:
    with pytest.raises(Bad) as caught:
        to_input(1, data(45.5, 48, 1, 2, 1, 1))
    assert caught.value.field == "Data1 (Group 1 N)"
    assert "whole number" in caught.value.message


# --- EPPI-Reviewer's own SMD ------------------------------------------------------------------


def test_eppis_smd_uses_the_approximate_correction() -> None:
    n1, n2, m1, m2, s1, s2 = 10, 12, 5.0, 4.0, 2.0, 2.5
    pooled = math.sqrt((9 * 4.0 + 11 * 6.25) / 20)
    assert eppi_smd(1, data(n1, n2, m1, m2, s1, s2)) == pytest.approx((m1 - m2) / pooled * (1 - 3 / (4 * 22 - 9)), abs=1e-15)


def test_eppis_smd_from_a_t_value_is_uncorrected() -> None:
    assert eppi_smd(5, data(20, 25, 2.0, 0)) == pytest.approx(2.0 * math.sqrt(45 / 500), abs=1e-15)


# --- end to end: one reference with an outcome of every type ----------------------------------


def test_an_outcome_of_every_type_is_imported_with_its_input_and_g() -> None:
    outcomes = [
        outcome(1, 0, {1: 0.25, 2: 0.1}),
        outcome(2, 1, {1: 50, 2: 48, 3: 0.8, 4: 0.7, 5: 0.3, 6: 0.32}),
        outcome(3, 2, {1: 12, 2: 20, 3: 28, 4: 20}),
        outcome(4, 3, {1: 50, 2: 40, 3: 10.0, 4: 9.0, 5: 0.05, 6: 0.06}),
        outcome(5, 4, {1: 100, 2: 80, 3: 12.0, 4: 10.5, 5: 10.0, 6: 9.0, 7: 14.0, 8: 12.0}),
        outcome(6, 5, {1: 30, 2: 35, 3: 2.5}),
        outcome(7, 6, {1: 40, 2: 10, 3: 5, 4: 45}),
        outcome(8, 7, {1: 120, 2: 0.3}),
    ]
    result = run(tiny_export(references=[reference(outcomes=outcomes)]), selection=TINY)
    assert not result.refused, result.report.errors
    stored = {e.external_id: e for e in EffectSize.objects.all()}
    assert {k: e.input_kind for k, e in stored.items()} == {
        "1": "es_se", "2": "means", "3": "counts_2x2", "4": "means", "5": "means", "6": "t_stat", "8": "correlation",
    }
    assert stored["2"].g == pytest.approx(g_from_means(50, 48, 0.8, 0.7, 0.3, 0.32), abs=1e-12)
    assert stored["4"].sd_2 == pytest.approx(0.06 * math.sqrt(40), abs=1e-12)
    assert stored["8"].r_value == 0.3 and stored["8"].n_total == 120
    assert "EPPI-Reviewer outcome 4 (Continuous: N, Mean, and SE)" in stored["4"].notes
    for effect in stored.values():
        assert (effect.intervention.external_id, effect.outcome.external_id) == ("1011", "201")
    skipped = kinds(result)["skipped_outcome"]
    assert skipped == [
        "ItemId 5001, outcome 7, OutcomeTypeId: a diagnostic test's 2 x 2 table measures a test's accuracy, "
        "not an effect of an intervention; not imported"
    ]
