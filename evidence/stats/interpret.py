"""Plain-language reading of pooled results: effect-size labels and cell confidence.

Pure Python (no Django, no numpy needed) and configurable per map: a map chooses an
effect-label preset and its own confidence thresholds (`ConfidenceRules`, stored as JSON
or as model fields).  The wording produced here is what the public pages show, so it is
kept short and free of jargon where possible.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

from evidence.stats.phrases import _, ngettext

__all__ = [
    "CONFIDENCE_LEVELS",
    "DEFAULT_RULES",
    "EFFECT_LABEL_PRESETS",
    "CellConfidence",
    "ConfidenceRules",
    "EffectLabel",
    "LabelPreset",
    "apply_override",
    "cell_confidence",
    "describe_preset",
    "describe_rules",
    "effect_label",
    "median_confidence",
]

# --------------------------------------------------------------------------------------
# Effect labels
# --------------------------------------------------------------------------------------


def _number(value: float, decimals: int = 2) -> str:
    """0.2 -> "0.20", but keep extra digits when a custom threshold needs them."""
    text = f"{value:.{decimals}f}"
    return text if float(text) == value else f"{value:g}"


@dataclass(frozen=True)
class LabelPreset:
    """Bands of |g|: `thresholds` are the lower edges of every band but the first.

    A value equal to a threshold belongs to the band above it ("0.20 and above").
    """

    name: str
    thresholds: tuple[float, ...]
    bands: tuple[str, ...]
    source: str = ""

    def __post_init__(self) -> None:
        if not self.thresholds:
            raise ValueError("a label preset needs at least one threshold")
        if len(self.bands) != len(self.thresholds) + 1:
            raise ValueError(
                f"{len(self.thresholds)} thresholds need {len(self.thresholds) + 1} band names, "
                f"got {len(self.bands)}"
            )
        if not all(math.isfinite(t) and t > 0 for t in self.thresholds):
            raise ValueError(f"thresholds must be positive numbers (got {self.thresholds})")
        if any(b <= a for a, b in zip(self.thresholds, self.thresholds[1:], strict=False)):
            raise ValueError(f"thresholds must increase (got {self.thresholds})")
        if not all(band.strip() for band in self.bands):
            raise ValueError("band names cannot be empty")

    @classmethod
    def custom(
        cls, thresholds: Sequence[float], bands: Sequence[str] | None = None, *, name: str = "custom"
    ) -> LabelPreset:
        """A map's own bands.  Without names, two thresholds read Small/Moderate/Large and
        three read Negligible/Small/Medium/Large, like the built-in presets."""
        edges = tuple(float(t) for t in thresholds)
        if bands is None:
            defaults = {2: ("Small", "Moderate", "Large"), 3: ("Negligible", "Small", "Medium", "Large")}
            if len(edges) not in defaults:
                raise ValueError("give band names for other than two or three thresholds")
            bands = defaults[len(edges)]
        return cls(name=name, thresholds=edges, bands=tuple(bands))

    def band(self, magnitude: float) -> str:
        return self.bands[bisect_right(self.thresholds, magnitude)]


EFFECT_LABEL_PRESETS: dict[str, LabelPreset] = {
    # Kraft (2020) "Interpreting effect sizes of education interventions", Educational
    # Researcher 49(4): field trials of education and social interventions rarely reach
    # Cohen's benchmarks, so smaller edges.  Kraft calls the middle band "medium"; the
    # map says "Moderate".
    "kraft2020": LabelPreset(
        name="kraft2020",
        thresholds=(0.05, 0.20),
        bands=("Small", "Moderate", "Large"),
        source="Kraft 2020, benchmarks for education and social interventions",
    ),
    # Cohen (1988) Statistical Power Analysis for the Behavioral Sciences, 2nd ed.
    # Below his "small" (0.2) is commonly read as negligible.
    "cohen1988": LabelPreset(
        name="cohen1988",
        thresholds=(0.2, 0.5, 0.8),
        bands=("Negligible", "Small", "Medium", "Large"),
        source="Cohen 1988",
    ),
    # Lovakov & Agadullina (2021) "Empirically derived guidelines for effect size
    # interpretation in social psychology", Eur. J. Soc. Psychol. 51(3): the 25th, 50th
    # and 75th percentiles of published effects.  Below the 25th percentile is called
    # "Very small" rather than negligible, since a quarter of published effects are.
    "lovakov2021": LabelPreset(
        name="lovakov2021",
        thresholds=(0.15, 0.36, 0.65),
        bands=("Very small", "Small", "Medium", "Large"),
        source="Lovakov & Agadullina 2021, percentiles of effects in social psychology",
    ),
}

Direction = Literal["positive", "negative", "none"]


@dataclass(frozen=True)
class EffectLabel:
    """How an effect reads on the page.

    `direction` is relative to the outcome's desirable direction, not to the sign of g:
    "positive" means the intervention moved the outcome the desirable way (so
    `beneficial` is True), "negative" the undesirable way (harmful), "none" exactly 0.
    `ci_includes_zero` is None when no interval was given.
    """

    text: str
    band: str
    direction: Direction
    beneficial: bool
    ci_includes_zero: bool | None = None

    @property
    def long_text(self) -> str:
        """The label, with a warning when the interval cannot rule out no effect."""
        if self.ci_includes_zero:
            return f"{self.text}; the confidence interval also includes no effect"
        return self.text


def _preset(preset: str | LabelPreset) -> LabelPreset:
    if isinstance(preset, LabelPreset):
        return preset
    try:
        return EFFECT_LABEL_PRESETS[preset]
    except KeyError:
        known = ", ".join(EFFECT_LABEL_PRESETS)
        raise ValueError(f"unknown effect-label preset {preset!r}; expected one of: {known}") from None


def effect_label(
    g: float,
    *,
    preset: str | LabelPreset = "kraft2020",
    higher_is_better: bool = True,
    ci: tuple[float, float] | None = None,
    decimals: int | None = None,
) -> EffectLabel:
    """Label Hedges' g by the size of |g| and whether it went the desirable way.

    With the default Kraft (2020) bands, g = 0.139 on an outcome where higher is better
    reads "Moderate effect", and g = -0.139 reads "Moderate negative effect".  When lower
    is better (for example, offending), the reading flips: a negative g is beneficial.

    The label describes the point estimate; a `ci` only sets `ci_includes_zero`, because
    the confidence rating (see `cell_confidence`) is where imprecision is judged.
    `decimals`, if given, bands |g| as rounded for display, so that a g shown as 0.05 is
    never called "Small" because it was really 0.0496.
    """
    if not math.isfinite(g):
        raise ValueError(f"g must be a finite number (got {g})")
    bands = _preset(preset)
    magnitude = abs(g) if decimals is None else round(abs(g), decimals)
    band = bands.band(magnitude)

    ci_includes_zero: bool | None = None
    if ci is not None:
        low, high = ci
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise ValueError(f"ci must be a finite (low, high) pair with low <= high (got {ci})")
        ci_includes_zero = low <= 0 <= high

    if magnitude == 0:
        return EffectLabel("No effect", band, "none", False, ci_includes_zero)
    beneficial = (g > 0) == higher_is_better
    if beneficial:
        return EffectLabel(f"{band} effect", band, "positive", True, ci_includes_zero)
    return EffectLabel(f"{band} negative effect", band, "negative", False, ci_includes_zero)


def describe_preset(name: str | LabelPreset) -> str:
    """The label bands in words, for a map's methods page."""
    bands = _preset(name)
    edges = [_number(t) for t in bands.thresholds]
    parts = [_("below %(edge)s %(band)s", edge=edges[0], band=_band_word(bands.bands[0]))]
    for i in range(1, len(edges)):
        parts.append(_("%(low)s to below %(high)s %(band)s", low=edges[i - 1], high=edges[i], band=_band_word(bands.bands[i])))
    parts.append(_("%(edge)s and above %(band)s", edge=edges[-1], band=_band_word(bands.bands[-1])))
    # The parts as one parameter each, so that a translation may join them its own way.
    joined = parts[0]
    for part in parts[1:]:
        joined = _("%(first)s, %(rest)s", first=joined, rest=part)
    text = _(
        "Effects are labelled by the size of Hedges' g, whatever its sign: %(bands)s. An effect in the "
        "direction that is bad for the outcome is called a negative effect.", bands=joined,
    )
    if bands.source:
        text = _(
            "Effects are labelled by the size of Hedges' g, whatever its sign: %(bands)s (%(source)s). An effect "
            "in the direction that is bad for the outcome is called a negative effect.", bands=joined, source=bands.source,
        )
    return text


def _band_word(band: str) -> str:
    """A band's name within a sentence ("moderate"), as a phrase the interface can translate."""
    return _(band.lower())


# --------------------------------------------------------------------------------------
# Cell confidence
# --------------------------------------------------------------------------------------

Level = Literal["high", "medium", "low"]
CONFIDENCE_LEVELS: tuple[Level, ...] = ("low", "medium", "high")  # worst to best
# Each level as a word within a sentence (a phrase, so that the interface can translate it).
LEVEL_WORDS = {"low": _("low"), "medium": _("medium"), "high": _("high")}


def _level_index(value: str, what: str) -> int:
    for index, level in enumerate(CONFIDENCE_LEVELS):
        if value == level:
            return index
    raise ValueError(f'{what} must be "high", "medium" or "low" (got {value!r})')


@dataclass(frozen=True)
class ConfidenceRules:
    """A map's thresholds for rating confidence in a cell's pooled effect.

    `i2_threshold` is a percentage, as I² is reported.  Egger's test is considered only
    with at least `egger_min_k` effect sizes, because it has little power below about 10
    (Sterne et al. 2011, BMJ 343:d4002).
    """

    min_studies: int = 3
    i2_threshold: float = 75.0
    egger_alpha: float = 0.10
    egger_min_k: int = 10

    def __post_init__(self) -> None:
        for name in ("min_studies", "egger_min_k"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be a whole number (got {value!r})")
        if self.min_studies < 1:
            raise ValueError(f"min_studies must be at least 1 (got {self.min_studies})")
        if self.egger_min_k < 3:
            raise ValueError(f"egger_min_k must be at least 3 (got {self.egger_min_k})")
        if not 0 <= self.i2_threshold <= 100:
            raise ValueError(f"i2_threshold is a percentage, 0 to 100 (got {self.i2_threshold})")
        if not 0 <= self.egger_alpha <= 1:
            raise ValueError(f"egger_alpha must be between 0 and 1 (got {self.egger_alpha})")

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ConfidenceRules:
        """Rules from stored JSON; keys left out take their defaults, unknown keys fail
        (a typo would otherwise silently fall back to a default)."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown confidence rule(s): {', '.join(sorted(unknown))}")
        default = cls()

        def whole(name: str, fallback: int) -> int:
            raw = data.get(name, fallback)
            # JSON may hold 3.0 for 3.
            if isinstance(raw, float) and raw.is_integer():
                raw = int(raw)
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise ValueError(f"{name} must be a whole number (got {raw!r})")
            return raw

        def real(name: str, fallback: float) -> float:
            raw = data.get(name, fallback)
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                raise ValueError(f"{name} must be a number (got {raw!r})")
            return float(raw)

        return cls(
            min_studies=whole("min_studies", default.min_studies),
            i2_threshold=real("i2_threshold", default.i2_threshold),
            egger_alpha=real("egger_alpha", default.egger_alpha),
            egger_min_k=whole("egger_min_k", default.egger_min_k),
        )


DEFAULT_RULES = ConfidenceRules()


@dataclass(frozen=True)
class CellConfidence:
    """A cell's confidence rating and why.

    `reasons` are plain-language phrases; `text` joins them into the sentence the page
    shows, e.g. "Low confidence: limited number of studies (2 < 3)".  After a reviewer's
    override, `computed_level` keeps the rating the rules gave.
    """

    level: Level
    reasons: tuple[str, ...]
    overridden: bool = False
    justification: str = ""
    computed_level: str = ""

    def __post_init__(self) -> None:
        _level_index(self.level, "level")
        if not self.computed_level:
            object.__setattr__(self, "computed_level", self.level)

    @property
    def text(self) -> str:
        label = f"{self.level.capitalize()} confidence"
        return f"{label}: {'; '.join(self.reasons)}" if self.reasons else label


def median_confidence(ratings: Sequence[str] | Mapping[str, int]) -> Level:
    """The median of ordinal ratings (a list, or how many of each).  With an even count
    there is no middle rating, so take the lower (more cautious) of the two middle ones:
    high, high, medium, low gives medium rather than something between."""
    counts = _rating_counts(ratings)
    total = sum(counts)
    if not total:
        raise ValueError("median_confidence needs at least one rating")
    middle = (total - 1) // 2
    for index, count in enumerate(counts):
        if middle < count:
            return CONFIDENCE_LEVELS[index]
        middle -= count
    raise AssertionError("unreachable: the middle rating lies within the counts")


def _rating_counts(ratings: Sequence[str] | Mapping[str, int]) -> list[int]:
    """How many ratings of each level, worst to best; every rating checked."""
    counts = [0] * len(CONFIDENCE_LEVELS)
    if isinstance(ratings, Mapping):
        for rating, count in ratings.items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"the number of {rating!r} ratings must be a whole number, 0 or more (got {count!r})")
            counts[_level_index(rating, "each study confidence")] += count
    else:
        for rating in ratings:
            counts[_level_index(rating, "each study confidence")] += 1
    return counts


def _check_optional(name: str, value: float | None, low: float, high: float) -> None:
    if value is not None and not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be between {low:g} and {high:g} (got {value})")


def cell_confidence(
    *,
    n_studies: int,
    study_confidences: Sequence[str] | Mapping[str, int],
    i2: float | None = None,
    ci_low: float | None = None,
    ci_high: float | None = None,
    egger_p: float | None = None,
    k: int | None = None,
    rules: ConfidenceRules = DEFAULT_RULES,
) -> CellConfidence:
    """Rate confidence in a cell's pooled effect.

    A cell with fewer than `rules.min_studies` studies is rated low.  Otherwise the
    rating starts from the median of the studies' own confidence ratings (see
    `median_confidence` for an even number) and drops one level, to no lower than low,
    for each concern:

    * inconsistency: I² (percent) at or above `rules.i2_threshold`;
    * imprecision: the pooled effect's confidence interval includes zero (an end exactly
      at zero counts);
    * small-study effects: Egger's test p below `rules.egger_alpha`, considered only with
      at least `rules.egger_min_k` effect sizes (`k`; defaults to `n_studies`).

    This follows the spirit of GRADE's downgrading for inconsistency, imprecision and
    publication bias (Guyatt et al. 2011, J Clin Epidemiol 64), simplified to rules that
    a computer can apply and a reviewer can override (`apply_override`).
    `study_confidences` (the ratings, or how many of each: {"high": 3, "low": 1}) may
    count fewer than `n_studies` when some studies are unrated;
    the median is over those rated.
    """
    if isinstance(n_studies, bool) or not isinstance(n_studies, int) or n_studies < 0:
        raise ValueError(f"n_studies must be a whole number, 0 or more (got {n_studies!r})")
    counts = _rating_counts(study_confidences)
    n_rated = sum(counts)
    if n_rated > n_studies:
        raise ValueError(f"{n_rated} study ratings given for {n_studies} studies")
    _check_optional("i2", i2, 0.0, 100.0)
    _check_optional("egger_p", egger_p, 0.0, 1.0)
    if (ci_low is None) != (ci_high is None):
        raise ValueError("give both ci_low and ci_high, or neither")
    if (
        ci_low is not None
        and ci_high is not None
        and (not (math.isfinite(ci_low) and math.isfinite(ci_high)) or ci_low > ci_high)
    ):
        raise ValueError(
            f"ci_low and ci_high must be finite with ci_low <= ci_high (got {ci_low}, {ci_high})"
        )
    n_effects = n_studies if k is None else k
    if isinstance(n_effects, bool) or not isinstance(n_effects, int) or n_effects < 0:
        raise ValueError(f"k must be a whole number, 0 or more (got {k!r})")

    if n_studies < rules.min_studies:
        reason = _("limited number of studies (%(n)s < %(min)s)", n=n_studies, min=rules.min_studies)
        return CellConfidence(level="low", reasons=(reason,))
    if not n_rated:
        return CellConfidence(level="low", reasons=(_("no study has a confidence rating"),))

    start = median_confidence(dict(zip(CONFIDENCE_LEVELS, counts, strict=True)))
    reasons = [ngettext(
        "median study rating is %(level)s (%(count)s study)", "median study rating is %(level)s (%(count)s studies)",
        n_rated, level=LEVEL_WORDS[start],
    )]
    if i2 is not None and i2 >= rules.i2_threshold:
        reasons.append(_(
            "substantial inconsistency (I² = %(i2)s%% ≥ %(threshold)s%%)",
            i2=f"{i2:.0f}", threshold=_number(rules.i2_threshold, 0),
        ))
    if ci_low is not None and ci_high is not None and ci_low <= 0 <= ci_high:
        reasons.append(_(
            "imprecision (the confidence interval, %(low)s to %(high)s, includes zero)",
            low=f"{ci_low:.2f}", high=f"{ci_high:.2f}",
        ))
    if egger_p is not None and n_effects >= rules.egger_min_k and egger_p < rules.egger_alpha:
        reasons.append(_(
            "possible small-study effects (Egger's test p = %(p)s < %(alpha)s, %(k)s effect sizes)",
            p=f"{egger_p:.3f}", alpha=_number(rules.egger_alpha), k=n_effects,
        ))
    concerns = len(reasons) - 1
    index = max(0, CONFIDENCE_LEVELS.index(start) - concerns)
    return CellConfidence(level=CONFIDENCE_LEVELS[index], reasons=tuple(reasons))


def apply_override(conf: CellConfidence, level: str, justification: str) -> CellConfidence:
    """A reviewer's rating replaces the computed one; their justification becomes the
    reason shown.  The justification is required: an unexplained override is not
    transparent."""
    new_level = CONFIDENCE_LEVELS[_level_index(level, "level")]
    why = justification.strip()
    if not why:
        raise ValueError("an override needs a justification saying why")
    return CellConfidence(
        level=new_level,
        reasons=(why,),
        overridden=True,
        justification=why,
        computed_level=conf.computed_level,
    )


def describe_rules(rules: ConfidenceRules = DEFAULT_RULES) -> str:
    """The confidence rules in plain words, for a map's methods page."""
    few = (
        ngettext(
            "Cells with fewer than %(count)s study are rated low confidence. ",
            "Cells with fewer than %(count)s studies are rated low confidence. ", rules.min_studies,
        )
        if rules.min_studies > 1
        else ""
    )
    return _(
        "Each cell's confidence rating (high, medium or low) starts from the median of "
        "its studies' own ratings; with an even number of studies, the lower of the two "
        "middle ratings is used. %(few)sThe rating is lowered one level, but not below "
        "low, for each of these concerns: substantial inconsistency between studies (I² "
        "of %(i2)s%% or more); imprecision (the confidence "
        "interval of the pooled effect includes zero); and possible small-study effects "
        "(Egger's test p below %(alpha)s, checked only when the cell "
        "has at least %(min_k)s effect sizes). Reviewers may override a "
        "rating, and must say why.",
        few=few, i2=_number(rules.i2_threshold, 0), alpha=_number(rules.egger_alpha), min_k=rules.egger_min_k,
    )
