"""Effect labels and cell confidence ratings (evidence.stats.interpret)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.stats.interpret import (
    CONFIDENCE_LEVELS,
    DEFAULT_RULES,
    EFFECT_LABEL_PRESETS,
    CellConfidence,
    ConfidenceRules,
    EffectLabel,
    LabelPreset,
    apply_override,
    cell_confidence,
    describe_preset,
    describe_rules,
    effect_label,
    median_confidence,
)

# --------------------------------------------------------------------------------------
# Effect labels
# --------------------------------------------------------------------------------------


def test_the_motivating_example_reads_moderate() -> None:
    assert effect_label(0.139) == EffectLabel(
        text="Moderate effect", band="Moderate", direction="positive", beneficial=True
    )


@pytest.mark.parametrize(
    ("g", "text"),
    [
        (0.0, "No effect"),
        (0.01, "Small effect"),
        (0.0499, "Small effect"),
        (0.05, "Moderate effect"),  # a threshold belongs to the band above it
        (0.1999, "Moderate effect"),
        (0.20, "Large effect"),
        (1.5, "Large effect"),
        (-0.0499, "Small negative effect"),
        (-0.05, "Moderate negative effect"),
        (-0.139, "Moderate negative effect"),
        (-0.20, "Large negative effect"),
    ],
)
def test_kraft_bands_and_boundaries(g: float, text: str) -> None:
    assert effect_label(g).text == text
    assert effect_label(g, preset="kraft2020").text == text


def test_negative_effect_is_harmful_when_higher_is_better() -> None:
    label = effect_label(-0.3)
    assert (label.band, label.direction, label.beneficial) == ("Large", "negative", False)


def test_direction_flips_when_lower_is_better() -> None:
    # For an outcome such as reoffending, a fall (negative g) is the good news.
    good = effect_label(-0.3, higher_is_better=False)
    assert (good.text, good.direction, good.beneficial) == ("Large effect", "positive", True)
    bad = effect_label(0.1, higher_is_better=False)
    assert (bad.text, bad.direction, bad.beneficial) == ("Moderate negative effect", "negative", False)


def test_zero_has_no_direction() -> None:
    label = effect_label(0.0, higher_is_better=False)
    assert (label.text, label.band, label.direction, label.beneficial) == (
        "No effect", "Small", "none", False,
    )


@pytest.mark.parametrize(
    ("g", "text"),
    [
        (0.1, "Negligible effect"),
        (0.2, "Small effect"),
        (0.49, "Small effect"),
        (0.5, "Medium effect"),
        (0.8, "Large effect"),
        (-0.19, "Negligible negative effect"),
        (-0.8, "Large negative effect"),
    ],
)
def test_cohen_preset(g: float, text: str) -> None:
    assert effect_label(g, preset="cohen1988").text == text


@pytest.mark.parametrize(
    ("g", "text"),
    [
        (0.149, "Very small effect"),
        (0.15, "Small effect"),
        (0.359, "Small effect"),
        (0.36, "Medium effect"),
        (0.65, "Large effect"),
        (-0.4, "Medium negative effect"),
    ],
)
def test_lovakov_preset(g: float, text: str) -> None:
    assert effect_label(g, preset="lovakov2021").text == text


def test_preset_table() -> None:
    assert {name: p.thresholds for name, p in EFFECT_LABEL_PRESETS.items()} == {
        "kraft2020": (0.05, 0.20),
        "cohen1988": (0.2, 0.5, 0.8),
        "lovakov2021": (0.15, 0.36, 0.65),
    }
    assert all(name == p.name for name, p in EFFECT_LABEL_PRESETS.items())


def test_custom_thresholds() -> None:
    preset = LabelPreset.custom((0.1, 0.3))
    assert preset.bands == ("Small", "Moderate", "Large")
    assert effect_label(0.09, preset=preset).text == "Small effect"
    assert effect_label(0.1, preset=preset).text == "Moderate effect"
    assert effect_label(-0.3, preset=preset).text == "Large negative effect"
    named = LabelPreset.custom((0.25,), ("Below benchmark", "Above benchmark"))
    assert effect_label(0.3, preset=named).text == "Above benchmark effect"
    assert LabelPreset.custom((0.1, 0.2, 0.4)).bands == ("Negligible", "Small", "Medium", "Large")


@pytest.mark.parametrize(
    ("thresholds", "bands", "message"),
    [
        ((0.2, 0.1), ("a", "b", "c"), "must increase"),
        ((0.1, 0.1), ("a", "b", "c"), "must increase"),
        ((-0.1, 0.2), ("a", "b", "c"), "positive"),
        ((0.1, 0.2), ("a", "b"), "need 3 band names"),
        ((), ("a",), "at least one threshold"),
        ((0.1,), ("a", " "), "cannot be empty"),
    ],
)
def test_invalid_custom_presets(
    thresholds: tuple[float, ...], bands: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LabelPreset(name="x", thresholds=thresholds, bands=bands)


def test_custom_without_names_needs_two_or_three_thresholds() -> None:
    with pytest.raises(ValueError, match="band names"):
        LabelPreset.custom((0.1, 0.2, 0.3, 0.4))


def test_unknown_preset_and_bad_g() -> None:
    with pytest.raises(ValueError, match="unknown effect-label preset 'hattie'"):
        effect_label(0.3, preset="hattie")
    with pytest.raises(ValueError, match="finite"):
        effect_label(float("nan"))


def test_confidence_interval_flag() -> None:
    assert effect_label(0.139).ci_includes_zero is None
    wide = effect_label(0.139, ci=(-0.02, 0.30))
    assert wide.ci_includes_zero is True
    assert wide.text == "Moderate effect"  # the label describes the point estimate
    assert wide.long_text == "Moderate effect; the confidence interval also includes no effect"
    narrow = effect_label(0.139, ci=(0.05, 0.23))
    assert narrow.ci_includes_zero is False
    assert narrow.long_text == "Moderate effect"
    assert effect_label(0.139, ci=(0.0, 0.3)).ci_includes_zero is True
    with pytest.raises(ValueError, match="low <= high"):
        effect_label(0.139, ci=(0.3, 0.0))


def test_display_rounding_keeps_label_and_number_consistent() -> None:
    assert effect_label(0.0496).text == "Small effect"
    assert effect_label(0.0496, decimals=2).text == "Moderate effect"  # shown as 0.05
    assert effect_label(-0.1996, decimals=2).text == "Large negative effect"  # shown as -0.20
    assert effect_label(0.004, decimals=2).text == "No effect"  # shown as 0.00


def test_describe_presets() -> None:
    assert describe_preset("kraft2020") == (
        "Effects are labelled by the size of Hedges' g, whatever its sign: below 0.05 small, "
        "0.05 to below 0.20 moderate, 0.20 and above large (Kraft 2020, benchmarks for "
        "education and social interventions). An effect in the direction that is bad for "
        "the outcome is called a negative effect."
    )
    assert (
        "below 0.20 negligible, 0.20 to below 0.50 small, 0.50 to below 0.80 medium, "
        "0.80 and above large (Cohen 1988)"
    ) in describe_preset("cohen1988")
    assert (
        "below 0.15 very small, 0.15 to below 0.36 small, 0.36 to below 0.65 medium, "
        "0.65 and above large"
    ) in describe_preset("lovakov2021")
    assert "below 0.125 small, 0.125 to below 0.30 moderate" in describe_preset(
        LabelPreset.custom((0.125, 0.3))
    )


# --------------------------------------------------------------------------------------
# Cell confidence
# --------------------------------------------------------------------------------------


def test_too_few_studies_is_low_whatever_their_ratings() -> None:
    conf = cell_confidence(n_studies=2, study_confidences=["high", "high"])
    assert conf == CellConfidence(
        level="low", reasons=("limited number of studies (2 < 3)",), computed_level="low"
    )
    assert conf.text == "Low confidence: limited number of studies (2 < 3)"
    assert conf.overridden is False
    assert cell_confidence(n_studies=0, study_confidences=[]).level == "low"


def test_enough_high_studies_and_no_concerns_is_high() -> None:
    conf = cell_confidence(
        n_studies=3, study_confidences=["high"] * 3, i2=10.0, ci_low=0.1, ci_high=0.4
    )
    assert conf.level == "high"
    assert conf.reasons == ("median study rating is high (3 studies)",)
    assert conf.text == "High confidence: median study rating is high (3 studies)"


@pytest.mark.parametrize(
    ("ratings", "median"),
    [
        (["high"], "high"),
        (["high", "low", "medium"], "medium"),
        (["low", "low", "high"], "low"),
        # Even counts: the lower of the two middle ratings.
        (["high", "high", "medium", "low"], "medium"),
        (["high", "high", "medium", "medium"], "medium"),
        (["high", "high", "high", "medium"], "high"),
        (["high", "low"], "low"),
    ],
)
def test_median_rule(ratings: list[str], median: str) -> None:
    assert median_confidence(ratings) == median
    n = max(len(ratings), 3)
    assert cell_confidence(n_studies=n, study_confidences=ratings).level == median


def test_inconsistency_lowers_one_level_from_the_threshold() -> None:
    ratings = ["high"] * 4
    at = cell_confidence(n_studies=4, study_confidences=ratings, i2=75.0)
    assert at.level == "medium"
    assert at.reasons[1] == "substantial inconsistency (I² = 75% ≥ 75%)"
    assert cell_confidence(n_studies=4, study_confidences=ratings, i2=74.9).level == "high"


@pytest.mark.parametrize(
    ("ci_low", "ci_high", "level"),
    [(-0.1, 0.3, "medium"), (0.0, 0.3, "medium"), (-0.4, 0.0, "medium"), (0.05, 0.3, "high"),
     (-0.4, -0.1, "high")],
)
def test_imprecision(ci_low: float, ci_high: float, level: str) -> None:
    conf = cell_confidence(
        n_studies=5, study_confidences=["high"] * 5, ci_low=ci_low, ci_high=ci_high
    )
    assert conf.level == level
    if level == "medium":
        assert conf.reasons[1] == (
            f"imprecision (the confidence interval, {ci_low:.2f} to {ci_high:.2f}, includes zero)"
        )


@pytest.mark.parametrize(
    ("egger_p", "k", "n_studies", "level"),
    [
        (0.05, 10, 10, "medium"),
        (0.05, 9, 10, "high"),  # too few effect sizes for Egger's test
        (0.10, 12, 12, "high"),  # p must be below alpha
        (0.099, 12, 12, "medium"),
        (0.01, None, 12, "medium"),  # k defaults to the number of studies
        (0.01, None, 9, "high"),
        (0.01, 14, 6, "medium"),  # several effect sizes per study
    ],
)
def test_small_study_effects(egger_p: float, k: int | None, n_studies: int, level: str) -> None:
    conf = cell_confidence(
        n_studies=n_studies, study_confidences=["high"] * n_studies, egger_p=egger_p, k=k
    )
    assert conf.level == level


def test_small_study_reason_wording() -> None:
    conf = cell_confidence(n_studies=12, study_confidences=["high"] * 12, egger_p=0.031)
    assert conf.reasons[-1] == "possible small-study effects (Egger's test p = 0.031 < 0.10, 12 effect sizes)"


def test_concerns_add_up_and_stop_at_low() -> None:
    high = ["high"] * 12
    two = cell_confidence(n_studies=12, study_confidences=high, i2=80.0, ci_low=-0.1, ci_high=0.2)
    assert two.level == "low"
    assert len(two.reasons) == 3
    three = cell_confidence(
        n_studies=12, study_confidences=high, i2=80.0, ci_low=-0.1, ci_high=0.2, egger_p=0.01
    )
    assert three.level == "low"
    assert three.text == (
        "Low confidence: median study rating is high (12 studies); substantial inconsistency "
        "(I² = 80% ≥ 75%); imprecision (the confidence interval, -0.10 to 0.20, includes "
        "zero); possible small-study effects (Egger's test p = 0.010 < 0.10, 12 effect sizes)"
    )
    medium = cell_confidence(
        n_studies=4, study_confidences=["medium"] * 4, i2=90.0, ci_low=-0.1, ci_high=0.2
    )
    assert medium.level == "low"
    one_from_medium = cell_confidence(n_studies=4, study_confidences=["medium"] * 4, i2=90.0)
    assert one_from_medium.level == "low"


def test_a_map_can_configure_the_rules() -> None:
    rules = ConfidenceRules(min_studies=5, i2_threshold=50.0, egger_alpha=0.05, egger_min_k=5)
    few = cell_confidence(n_studies=4, study_confidences=["high"] * 4, rules=rules)
    assert few.text == "Low confidence: limited number of studies (4 < 5)"
    ratings = ["high"] * 6
    assert cell_confidence(n_studies=6, study_confidences=ratings, i2=60.0, rules=rules).level == "medium"
    assert cell_confidence(n_studies=6, study_confidences=ratings, i2=60.0).level == "high"
    assert cell_confidence(n_studies=6, study_confidences=ratings, egger_p=0.04, rules=rules).level == "medium"
    assert cell_confidence(n_studies=6, study_confidences=ratings, egger_p=0.06, rules=rules).level == "high"
    one = ConfidenceRules(min_studies=1)
    assert cell_confidence(n_studies=1, study_confidences=["high"], rules=one).reasons == (
        "median study rating is high (1 study)",
    )


def test_unrated_studies() -> None:
    conf = cell_confidence(n_studies=4, study_confidences=[])
    assert conf.text == "Low confidence: no study has a confidence rating"
    partly = cell_confidence(n_studies=4, study_confidences=["high", "high", "medium"])
    assert partly.level == "high"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"study_confidences": ["high", "very high", "low"]}, "got 'very high'"),
        ({"study_confidences": ["High", "high", "low"]}, "got 'High'"),
        ({"study_confidences": ["high"] * 5}, "5 study ratings given for 4 studies"),
        ({"ci_low": -0.1}, "both ci_low and ci_high"),
        ({"ci_low": 0.5, "ci_high": 0.1}, "ci_low <= ci_high"),
        ({"i2": 150.0}, "i2 must be between 0 and 100"),
        ({"i2": float("nan")}, "i2 must be between 0 and 100"),
        ({"egger_p": 1.5}, "egger_p must be between 0 and 1"),
        ({"k": -1}, "k must be a whole number"),
    ],
)
def test_cell_confidence_rejects_bad_input(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"n_studies": 4, "study_confidences": ["high"] * 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        cell_confidence(**arguments)  # type: ignore[arg-type]


def test_n_studies_must_be_a_whole_number() -> None:
    with pytest.raises(ValueError, match="n_studies"):
        cell_confidence(n_studies=-1, study_confidences=[])
    with pytest.raises(ValueError, match="n_studies"):
        cell_confidence(n_studies=3.5, study_confidences=[])  # type: ignore[arg-type]


@given(
    st.lists(st.sampled_from(CONFIDENCE_LEVELS), min_size=3, max_size=12),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_level_is_median_less_one_per_concern(
    ratings: list[str], inconsistent: bool, imprecise: bool, small_study: bool
) -> None:
    conf = cell_confidence(
        n_studies=len(ratings),
        study_confidences=ratings,
        i2=90.0 if inconsistent else 10.0,
        ci_low=-0.1 if imprecise else 0.1,
        ci_high=0.3,
        egger_p=0.01 if small_study else 0.5,
        k=10,
    )
    start = CONFIDENCE_LEVELS.index(median_confidence(ratings))
    expected = max(0, start - inconsistent - imprecise - small_study)
    assert conf.level == CONFIDENCE_LEVELS[expected]
    assert len(conf.reasons) == 1 + inconsistent + imprecise + small_study


# --------------------------------------------------------------------------------------
# Overrides
# --------------------------------------------------------------------------------------


def test_override_wins_and_shows_the_justification() -> None:
    computed = cell_confidence(n_studies=2, study_confidences=["high", "high"])
    why = "Two large, preregistered trials with consistent results."
    overridden = apply_override(computed, "medium", f"  {why}\n")
    assert overridden == CellConfidence(
        level="medium", reasons=(why,), overridden=True, justification=why, computed_level="low"
    )
    assert overridden.text == f"Medium confidence: {why}"


def test_override_of_an_override_keeps_the_computed_level() -> None:
    computed = cell_confidence(n_studies=5, study_confidences=["high"] * 5)
    once = apply_override(computed, "low", "Serious concerns about outcome measurement.")
    twice = apply_override(once, "medium", "Measurement checked with the authors.")
    assert (twice.level, twice.computed_level) == ("medium", "high")


@pytest.mark.parametrize("justification", ["", "   ", "\n\t"])
def test_override_needs_a_justification(justification: str) -> None:
    computed = cell_confidence(n_studies=5, study_confidences=["high"] * 5)
    with pytest.raises(ValueError, match="justification"):
        apply_override(computed, "low", justification)


def test_override_level_must_be_known() -> None:
    computed = cell_confidence(n_studies=5, study_confidences=["high"] * 5)
    with pytest.raises(ValueError, match="got 'moderate'"):
        apply_override(computed, "moderate", "Because.")


def test_cell_confidence_level_is_checked() -> None:
    with pytest.raises(ValueError, match="level"):
        CellConfidence(level="great", reasons=())  # type: ignore[arg-type]
    assert CellConfidence(level="medium", reasons=()).text == "Medium confidence"


# --------------------------------------------------------------------------------------
# Rules: validation, storage, description
# --------------------------------------------------------------------------------------


def test_default_rules() -> None:
    assert DEFAULT_RULES.to_dict() == {
        "min_studies": 3, "i2_threshold": 75.0, "egger_alpha": 0.10, "egger_min_k": 10,
    }


def test_rules_round_trip_through_json() -> None:
    rules = ConfidenceRules(min_studies=4, i2_threshold=60.0, egger_alpha=0.05, egger_min_k=12)
    stored = json.dumps(rules.to_dict())
    assert ConfidenceRules.from_dict(json.loads(stored)) == rules
    assert ConfidenceRules.from_dict(DEFAULT_RULES.to_dict()) == DEFAULT_RULES


def test_rules_from_partial_or_loose_json() -> None:
    assert ConfidenceRules.from_dict({}) == DEFAULT_RULES
    assert ConfidenceRules.from_dict({"i2_threshold": 50}) == ConfidenceRules(i2_threshold=50.0)
    assert ConfidenceRules.from_dict({"min_studies": 4.0}).min_studies == 4


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"min_studys": 3}, "unknown confidence rule"),
        ({"min_studies": "3"}, "min_studies must be a whole number"),
        ({"min_studies": 2.5}, "min_studies must be a whole number"),
        ({"egger_alpha": "0.1"}, "egger_alpha must be a number"),
        ({"egger_min_k": True}, "egger_min_k must be a whole number"),
        ({"min_studies": 0}, "min_studies must be at least 1"),
        ({"egger_min_k": 2}, "egger_min_k must be at least 3"),
        ({"i2_threshold": 120}, "i2_threshold is a percentage"),
        ({"egger_alpha": 1.5}, "egger_alpha must be between 0 and 1"),
    ],
)
def test_invalid_rules(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ConfidenceRules.from_dict(data)


def test_describe_default_rules() -> None:
    assert describe_rules() == (
        "Each cell's confidence rating (high, medium or low) starts from the median of its "
        "studies' own ratings; with an even number of studies, the lower of the two middle "
        "ratings is used. Cells with fewer than 3 studies are rated low confidence. The "
        "rating is lowered one level, but not below low, for each of these concerns: "
        "substantial inconsistency between studies (I² of 75% or more); imprecision (the "
        "confidence interval of the pooled effect includes zero); and possible small-study "
        "effects (Egger's test p below 0.10, checked only when the cell has at least 10 "
        "effect sizes). Reviewers may override a rating, and must say why."
    )


def test_describe_custom_rules() -> None:
    text = describe_rules(
        ConfidenceRules(min_studies=5, i2_threshold=62.5, egger_alpha=0.05, egger_min_k=12)
    )
    assert "fewer than 5 studies" in text
    assert "I² of 62.5% or more" in text
    assert "p below 0.05, checked only when the cell has at least 12 effect sizes" in text
    assert "fewer than" not in describe_rules(ConfidenceRules(min_studies=1))


def test_ratings_may_be_given_as_counts() -> None:
    """The map gives each cell's study ratings as counts: the same median and rating as a list."""
    from evidence.stats.interpret import cell_confidence, median_confidence

    listed = ["high", "high", "medium", "low"]
    assert median_confidence({"high": 2, "medium": 1, "low": 1}) == median_confidence(listed) == "medium"
    assert median_confidence({"high": 3, "low": 0}) == "high"
    as_list = cell_confidence(n_studies=5, study_confidences=listed, ci_low=0.1, ci_high=0.5)
    as_counts = cell_confidence(n_studies=5, study_confidences={"high": 2, "medium": 1, "low": 1},
                                ci_low=0.1, ci_high=0.5)
    assert as_counts == as_list
    with pytest.raises(ValueError, match="ratings given for 3 studies"):
        cell_confidence(n_studies=3, study_confidences={"high": 4})
    with pytest.raises(ValueError, match="whole number"):
        cell_confidence(n_studies=3, study_confidences={"high": -1})
    with pytest.raises(ValueError, match='"high", "medium" or "low"'):
        median_confidence({"great": 1})
    with pytest.raises(ValueError, match="at least one rating"):
        median_confidence({"high": 0})
