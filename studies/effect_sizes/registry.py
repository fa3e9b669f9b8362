"""The input kinds of an effect size, each declared once, and the dispatch to their converters.

A reviewer enters an effect size as one *input kind* (means and SDs, a 2x2 table, an odds
ratio with its CI, ...), filling the numeric boxes that kind reads.  This module is the one
place that says which boxes exist and what each kind reads:

* `INPUT_FIELD_SPECS`: every numeric input box once (an `InputField`), in the order the
  admin shows them, with whether it holds a whole number;
* `INPUT_KIND_SPECS`: every input kind once (an `InputKindSpec`): its stored name, the
  label the admin shows, the words used in messages, its required and optional boxes and
  its converter.

Derived from them here: `INPUT_FIELDS`, `INTEGER_INPUTS`, `INPUT_KINDS`, `OPTIONAL_INPUTS`,
`accepted_fields` and `compute_effect`.  Derived from them on the Django side:
studies.models (`InputKind` choices, `INPUT_FIELDS`, `accepted_fields`), so the admin's
fieldsets and the CSV export; and the API's input serializer (which boxes are integers).

Adding an input kind takes: a converter in the module of its family (a function from
`Inputs` to `EffectEstimate`), one `InputKindSpec` below, a worked example in
tests/studies/test_input_kind_registry.py, and a migration for the model's new choice.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from .binary import convert_counts_2x2, convert_odds_ratio_ci, convert_risk_ratio_ci
from .common import (
    G_BOUND,
    VAR_G_MAX,
    VAR_G_MIN,
    ConversionError,
    EffectEstimate,
    Inputs,
    Values,
    _finite,
)
from .correlations import convert_correlation
from .means import convert_f_stat, convert_means, convert_t_stat
from .reported import convert_es_ci, convert_es_p, convert_es_se

__all__ = [
    "INPUT_FIELDS",
    "INPUT_FIELD_SPECS",
    "INPUT_KINDS",
    "INPUT_KIND_SPECS",
    "INTEGER_INPUTS",
    "OPTIONAL_INPUTS",
    "Converter",
    "InputField",
    "InputKindSpec",
    "accepted_fields",
    "compute_effect",
]

Converter = Callable[[Inputs], EffectEstimate]

_KIND_NAME = re.compile(r"[a-z][a-z0-9_]*")
_MEMBER_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


@dataclass(frozen=True)
class InputField:
    """One numeric input box (a field of studies.models.EffectSize of the same name).

    `integer` boxes hold counts or a sign and are integer fields in the model and the API;
    the others hold real numbers.
    """

    name: str
    integer: bool = False


@dataclass(frozen=True)
class InputKindSpec:
    """One kind of reported result that can be turned into Hedges' g.

    * `name`: the value stored in EffectSize.input_kind (at most 16 characters);
    * `member`: the constant's name in studies.models.InputKind (InputKind.MEANS);
    * `label`: what the admin's drop-down shows;
    * `words`: how a message names the kind ("... needed to compute an effect size from
      <words>");
    * `required`, `optional`: the input boxes the kind reads, by field name; the required
      ones are checked present and finite, in this order, before `converter` runs;
    * `converter`: computes the estimate from an `Inputs` view of those boxes;
    * `missing_help`: for a required box that needs more explanation when left empty,
      the whole message to give instead of the generic one.
    """

    name: str
    member: str
    label: str
    words: str
    required: tuple[str, ...]
    converter: Converter
    optional: tuple[str, ...] = ()
    missing_help: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _KIND_NAME.fullmatch(self.name):
            raise ValueError(f"input kind name {self.name!r} must be lower-case letters, digits and _")
        if not _MEMBER_NAME.fullmatch(self.member):
            raise ValueError(f"{self.name}: member {self.member!r} must be an upper-case identifier")
        if not self.label.strip() or not self.words.strip():
            raise ValueError(f"{self.name}: label and words cannot be empty")
        if not self.required:
            raise ValueError(f"{self.name}: an input kind needs at least one required field")
        fields = self.required + self.optional
        if len(set(fields)) != len(fields):
            raise ValueError(f"{self.name}: a field is listed twice in {fields}")
        stray = set(self.missing_help) - set(self.required)
        if stray:
            raise ValueError(f"{self.name}: missing_help for fields that are not required: {sorted(stray)}")

    @property
    def accepted(self) -> tuple[str, ...]:
        """Every box the kind reads: required first, then optional."""
        return self.required + self.optional


# --------------------------------------------------------------------------------------
# The declarations
# --------------------------------------------------------------------------------------

# Group 1 is the intervention group, group 2 the comparison group.
_FIELDS = (
    InputField("mean_1"),
    InputField("sd_1"),
    InputField("n_1", integer=True),
    InputField("mean_2"),
    InputField("sd_2"),
    InputField("n_2", integer=True),
    InputField("events_1", integer=True),
    InputField("events_2", integer=True),
    InputField("ratio"),
    InputField("ci_low"),
    InputField("ci_high"),
    InputField("ci_level"),
    InputField("baseline_risk"),
    InputField("t_value"),
    InputField("f_value"),
    InputField("direction", integer=True),
    InputField("r_value"),
    InputField("n_total", integer=True),
    InputField("es_value"),
    InputField("es_se"),
    InputField("p_value"),
)

# ci_level, where optional, defaults to 95; group sizes, optional for ratios, allow the
# small-sample correction of the g derived from them when both are given.
_KINDS = (
    InputKindSpec(
        name="means",
        member="MEANS",
        label="Means, SDs and group sizes",
        words="means and standard deviations",
        required=("mean_1", "sd_1", "n_1", "mean_2", "sd_2", "n_2"),
        converter=convert_means,
    ),
    InputKindSpec(
        name="counts_2x2",
        member="COUNTS",
        label="2×2 counts (events and group sizes)",
        words="event counts",
        required=("events_1", "n_1", "events_2", "n_2"),
        converter=convert_counts_2x2,
    ),
    InputKindSpec(
        name="odds_ratio_ci",
        member="ODDS_RATIO",
        label="Odds ratio with confidence interval",
        words="an odds ratio with its confidence interval",
        required=("ratio", "ci_low", "ci_high"),
        optional=("ci_level", "n_1", "n_2"),
        converter=convert_odds_ratio_ci,
    ),
    InputKindSpec(
        name="risk_ratio_ci",
        member="RISK_RATIO",
        label="Risk ratio with confidence interval",
        words="a risk ratio with its confidence interval",
        required=("ratio", "ci_low", "ci_high", "baseline_risk"),
        optional=("ci_level", "n_1", "n_2"),
        converter=convert_risk_ratio_ci,
        missing_help={
            "baseline_risk": (
                "baseline_risk is missing: a risk ratio can be put on the Hedges' g scale "
                "only through the odds ratio, which needs the comparison group's risk "
                "(events divided by participants, between 0 and 1)"
            ),
        },
    ),
    InputKindSpec(
        name="t_stat",
        member="T_STAT",
        label="t statistic with group sizes",
        words="a t statistic",
        required=("t_value", "n_1", "n_2"),
        converter=convert_t_stat,
    ),
    InputKindSpec(
        name="f_stat",
        member="F_STAT",
        label="F(1, df) with group sizes",
        words="an F statistic",
        required=("f_value", "n_1", "n_2", "direction"),
        converter=convert_f_stat,
    ),
    InputKindSpec(
        name="correlation",
        member="CORRELATION",
        label="Correlation r with sample size",
        words="a correlation",
        required=("r_value", "n_total"),
        converter=convert_correlation,
    ),
    InputKindSpec(
        name="es_se",
        member="ES_SE",
        label="Hedges' g with its standard error",
        words="an effect size with its standard error",
        required=("es_value", "es_se"),
        converter=convert_es_se,
    ),
    InputKindSpec(
        name="es_ci",
        member="ES_CI",
        label="Hedges' g with its confidence interval",
        words="an effect size with its confidence interval",
        required=("es_value", "ci_low", "ci_high"),
        optional=("ci_level",),
        converter=convert_es_ci,
    ),
    InputKindSpec(
        name="es_p",
        member="ES_P",
        label="Hedges' g with its p-value",
        words="an effect size with its p-value",
        required=("es_value", "p_value"),
        converter=convert_es_p,
    ),
)


# --------------------------------------------------------------------------------------
# What derives from them
# --------------------------------------------------------------------------------------


def _unique(what: str, names: Iterable[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} {name!r} is declared twice")
        seen.add(name)


def _checked(
    fields: tuple[InputField, ...], kinds: tuple[InputKindSpec, ...]
) -> tuple[dict[str, InputField], dict[str, InputKindSpec]]:
    """Index the declarations by name, refusing any that do not fit together."""
    _unique("input field", (f.name for f in fields))
    _unique("input kind", (k.name for k in kinds))
    _unique("InputKind member", (k.member for k in kinds))
    declared = {f.name for f in fields}
    for kind in kinds:
        unknown = [name for name in kind.accepted if name not in declared]
        if unknown:
            raise ValueError(f"input kind {kind.name!r} reads undeclared fields {unknown}")
    unused = declared.difference(*(k.accepted for k in kinds))
    if unused:
        raise ValueError(f"input fields {sorted(unused)} are read by no input kind")
    return {f.name: f for f in fields}, {k.name: k for k in kinds}


INPUT_FIELD_SPECS, INPUT_KIND_SPECS = _checked(_FIELDS, _KINDS)

# Every numeric input field, in the order the admin shows them.
INPUT_FIELDS: tuple[str, ...] = tuple(INPUT_FIELD_SPECS)
# The fields that hold whole numbers (counts, or the sign of an F statistic).
INTEGER_INPUTS: frozenset[str] = frozenset(f.name for f in _FIELDS if f.integer)
# Required and optional inputs of each kind, by the Django model's field names.
INPUT_KINDS: dict[str, tuple[str, ...]] = {k.name: k.required for k in _KINDS}
OPTIONAL_INPUTS: dict[str, tuple[str, ...]] = {k.name: k.optional for k in _KINDS}


def accepted_fields(kind: str) -> tuple[str, ...]:
    """The input fields that an input kind reads: required first, then optional."""
    spec = INPUT_KIND_SPECS.get(kind)
    return () if spec is None else spec.accepted


def _required(spec: InputKindSpec, values: Values, name: str) -> float:
    value = values.get(name)
    if value is None:
        message = spec.missing_help.get(name) or (
            f"{name} is missing: it is needed to compute an effect size from {spec.words}"
        )
        raise ConversionError(name, message)
    return _finite(name, value)


def compute_effect(kind: str, values: Values) -> EffectEstimate:
    """Hedges' g and its variance from one kind of reported result.

    `values` maps field names to numbers; fields that do not belong to `kind` are
    ignored, and a missing required field (absent or None) raises ConversionError.

    Choices a reader should know about:

    * means, t, F: exact J and metafor's default variance (vtype "LS"), so the numbers
      are those of escalc(measure="SMD").
    * counts_2x2 and odds_ratio_ci: the native metric is the log odds ratio.  It becomes
      d by the logistic method (d = log OR·√3/π, var·3/π²; Hasselblad & Hedges 1995,
      Chinn 2000), which is metafor's "OR2DL", and d then becomes g = J·d with
      var(g) = J²·var(d) and df = n_1 + n_2 - 2, as Borenstein (2009, ch. 7) recommends
      for any d.  Without group sizes (allowed for odds_ratio_ci) J is taken as 1.
      Zero cells: 0.5 is added to every cell of a table with a zero (metafor's default).
    * risk_ratio_ci: the native metric is the log risk ratio.  A risk ratio is turned
      into an odds ratio exactly with the comparison group's risk (baseline_risk), then
      handled as an odds ratio.  baseline_risk is required: treating log RR as if it
      were log OR is only close when the outcome is rare, and biases g towards zero
      (by a factor that grows with the risk) when it is common.  A reviewer can nearly
      always find the comparison group's risk, so the tool asks for it rather than
      guessing silently.
    * correlation: the native metric is Fisher's z (the scale on which correlations are
      best pooled, Borenstein ch. 6); g comes from r by Borenstein 7.5-7.6 with
      J on n_total - 2 df.
    * es_se, es_ci, es_p: the value is taken to be Hedges' g already; es_ci and es_p
      assume a normal sampling distribution.
    """
    spec = INPUT_KIND_SPECS.get(kind)
    if spec is None:
        known = ", ".join(INPUT_KIND_SPECS)
        raise ConversionError("kind", f"unknown input kind {kind!r}; expected one of: {known}")
    required = {name: _required(spec, values, name) for name in spec.required}
    given = tuple(name for name in (*spec.required, *spec.optional) if values.get(name) is not None)
    try:
        estimate = spec.converter(Inputs(required, values, spec.optional))
    except ConversionError as exc:
        if exc.field in spec.required or exc.field in spec.optional or not given:
            raise
        # A step of the conversion (d, df, a log) failed: the inputs together are at fault.
        raise ConversionError(given[0], f"these values cannot give an effect size: {exc.message}", fields=given) from exc
    except (ArithmeticError, ValueError) as exc:  # an overflow or a domain error inside the arithmetic
        if not given:
            raise
        message = f"these values cannot give an effect size (the arithmetic fails: {exc}); check them"
        raise ConversionError(given[0], message, fields=given) from exc
    return _within_bounds(estimate, given)


def _within_bounds(estimate: EffectEstimate, inputs: tuple[str, ...]) -> EffectEstimate:
    """The estimate, if g and its variance are finite and within the bounds of common.py;
    else a ConversionError on every input, since it is their combination that is wrong."""
    g, vg = estimate.g, estimate.vg
    if not (math.isfinite(g) and -G_BOUND <= g <= G_BOUND):
        message = (
            f"these values give Hedges' g = {g:.4g}, outside the accepted range "
            f"-{G_BOUND:g} ≤ g ≤ {G_BOUND:g}; check them"
        )
        raise ConversionError(inputs[0], message, fields=inputs)
    if not (math.isfinite(vg) and VAR_G_MIN <= vg <= VAR_G_MAX):
        message = (
            f"these values give a sampling variance of g of {vg:.4g}, outside the accepted range "
            f"{VAR_G_MIN:g} ≤ var(g) ≤ {VAR_G_MAX:g} (a standard error of g between "
            f"{math.sqrt(VAR_G_MIN):g} and {math.sqrt(VAR_G_MAX):g}); check them"
        )
        raise ConversionError(inputs[0], message, fields=inputs)
    return estimate
