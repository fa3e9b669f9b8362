"""The one presenter of a cell: what a reader is told about it, as typed records.

The API's cell serializers are derived from these dataclasses (their help texts are the
schema's), the API and the cell CSV return `cell_record`, and the map page's data.json
carries `compact_cell`, a shorter form of the same record. Nothing else turns a Cell into
JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import Any, Literal, cast, get_args, get_type_hints

from django.utils.translation import gettext, ngettext

from evidence.columns import flat
from evidence.models import EvidenceMap
from evidence.stats import ClusteredResult, stopping_tolerance
from evidence.stats.interpret import Direction, Level
from evidence.stats.phrases import Phrase, _
from evidence.stats.results import PoolResult
from evidence.synthesis.cells import Cell, MapEvidence
from evidence.synthesis.pooling import plain_reason
from evidence.synthesis.sensitivity import Sensitivity
from studies.models import StudyDesign


def _help(text: str) -> Any:
    """Field metadata that the API's dataclass serializers read as the field's help text."""
    return field(metadata={"serializer_kwargs": {"help_text": text}})


def finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: report them as null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def rounded(value: float | None, digits: int = 4) -> float | None:
    value = finite(value)
    return None if value is None else round(value, digits)


# The band names of every effect-label preset (evidence.stats.interpret; a test checks that
# they agree), so that the schema can list them.
Band = Literal["Negligible", "Very small", "Small", "Moderate", "Medium", "Large"]


@dataclass(frozen=True)
class LabelView:
    """The effect's size and direction in words; every member null when the cell has no
    pooled estimate (the object itself is always there, so that flattening names its
    members the same for every cell)."""

    text: str | None = _help('e.g. "Small positive effect".')
    band: Band | None = _help("The size band of |g| under the map's label preset.")
    direction: Direction | None = _help("positive (desirable), negative (undesirable) or none.")
    beneficial: bool | None = _help("True when the effect goes the outcome's desirable way.")
    ci_includes_zero: bool | None = _help("True when the confidence interval also includes no effect.")


@dataclass(frozen=True)
class ConfidenceView:
    """How far the pooled effect can be trusted, and why; every member null (no reasons)
    when the cell has no rating."""

    level: Level | None = _help("high, medium or low.")
    reasons: list[str] = _help("Why the rating is what it is.")
    overridden: bool | None = _help("True when a reviewer overrode the computed rating.")
    computed_level: Level | None = _help("The rating the map's rules give, before any override.")
    justification: str | None = _help("The reviewer's reason for an override; null without one.")
    text: str | None = _help("The sentence the map shows.")


NO_LABEL = LabelView(text=None, band=None, direction=None, beneficial=None, ci_includes_zero=None)
NO_CONFIDENCE = ConfidenceView(
    level=None, reasons=[], overridden=None, computed_level=None, justification=None, text=None
)


# How each I² is defined, by the `i2_definition` code a cell carries.
I2_DEFINITIONS: dict[str, str] = {
    "higgins_thompson": "100·τ²/(τ² + ṽ), ṽ = (k − 1)/tr(P) the typical sampling variance "
    "(Higgins & Thompson 2002; metafor rma.uni's I2).",
    "q_based": "100·(Q − (k − 1))/Q, at least 0 (equal-effects model; metafor rma.uni's I2).",
    "nakagawa_santos_total": "100·(τ² + ω²)/(τ² + ω² + (k − 1)/tr(P)), P = V⁻¹ − V⁻¹11ᵀV⁻¹/(1ᵀV⁻¹1) "
    "with V the imputed sampling covariance (the total I² of Nakagawa & Santos 2012, as the "
    "metafor website computes it for rma.mv).",
}

Model = Literal["univariate", "CHE"]
# The map's pooling methods (evidence.models.PoolingMethod; a test checks that they agree).
Method = Literal["REML", "DL", "PM", "ML", "HE", "SJ", "HS", "EB", "EE"]
Vcov = Literal["model", "CR2"]
Test = Literal["z", "t", "knha"]
I2Definition = Literal["higgins_thompson", "q_based", "nakagawa_santos_total"]
# The values of each, for the API schema's named enums (config.settings ENUM_NAME_OVERRIDES).
BANDS, LABEL_DIRECTIONS, LEVELS = get_args(Band), get_args(Direction), get_args(Level)
MODELS, VCOVS, I2_CODES = get_args(Model), get_args(Vcov), get_args(I2Definition)


@dataclass(frozen=True)
class CellView:
    intervention_id: int
    outcome_id: int
    aggregate: bool = _help("True when the row or the column is a category with sub-categories.")
    n_studies: int = _help("Published studies in the cell.")
    n_effects: int = _help("Their effect sizes in the cell.")
    designs: dict[str, int] = _help("Study design -> number of studies.")
    region: str | None = _help("UN M49 region of the studies, or Global; null when none is known.")
    k: int | None = _help("Effect sizes pooled; null when none.")
    n_clusters: int | None = _help("Studies the pooled effect sizes come from (the CHE model's clusters).")
    model: Model | None = _help(
        "How the cell was pooled: univariate (every study gives one effect size: a random-effects "
        "model, metafor rma.uni) or CHE (some study gives several: the correlated and hierarchical "
        "effects working model, metafor rma.mv with clubSandwich CR2 inference); null when not pooled."
    )
    method: Method | None = _help(
        "Estimator of the variance components: REML for CHE, the map's pooling method for univariate "
        "cells (metafor's method names: REML, DL, PM, ML, HE, SJ, HS, EB, EE)."
    )
    test: Test | None = _help(
        "Distribution of the test and the intervals: z (normal), t (Student t on df) or knha "
        "(Hartung-Knapp-Sidik-Jonkman: t on k − 1 df with the variance rescaled)."
    )
    vcov: Vcov | None = _help(
        "Variance of the estimate: model (model based) or CR2 (cluster-robust, bias-reduced "
        "linearisation, with Satterthwaite df: clubSandwich coef_test(vcov = \"CR2\", test = \"Satterthwaite\"))."
    )
    df: float | None = _help("Degrees of freedom of the t distribution; null for z.")
    level: float | None = _help("Confidence level of the confidence and prediction intervals (e.g. 0.95).")
    rho: float | None = _help(
        "Assumed correlation between the effect sizes of one study, used to impute the sampling "
        "covariance of CHE cells (clubSandwich impute_covariance_matrix); null for univariate cells."
    )
    tolerance: float | None = _help(
        "Stopping rule of the iterative estimators: iterations stopped when no step changed a variance "
        "component by more than this fraction of it (univariate: of τ² plus a typical sampling "
        "variance). null for closed-form estimators. Solve as tightly to reproduce τ² beyond metafor's "
        "default stopping rule."
    )
    iterations: int | None = _help("Iterations the estimator took (0 for closed forms).")
    estimate: float | None = _help("Pooled Hedges' g (positive means improvement where `harmonised`).")
    se: float | None = _help("Standard error of the pooled g (cluster-robust for vcov CR2).")
    statistic: float | None = _help("Test statistic of the pooled g (z or t).")
    p_value: float | None = _help("p-value of the pooled estimate.")
    ci_low: float | None = _help("Lower bound of the confidence interval: estimate − q·se, q the test's quantile.")
    ci_high: float | None = _help("Upper bound of the confidence interval.")
    tau2: float | None = _help(
        "Between-study variance τ² (CHE: the study level, rma.mv's sigma2[1])."
    )
    omega2: float | None = _help(
        "Within-study variance ω² between effect sizes of one study (CHE: the effect-size level, "
        "rma.mv's sigma2[2]); null for univariate cells."
    )
    pi_low: float | None = _help("Lower bound of the prediction interval (see pi_definition).")
    pi_high: float | None = _help("Upper bound of the prediction interval.")
    pi_definition: str | None = _help(
        "What the prediction interval uses: estimate ± q·√(se² + the variance components), q the "
        "quantile of the test's distribution (metafor predict()); null without a random effect."
    )
    q: float | None = _help(
        "Cochran's Q (CHE: metafor's QE under the imputed sampling covariance)."
    )
    q_df: int | None = _help("Degrees of freedom of Q: k − 1.")
    q_p: float | None = _help("p-value of Q (chi-squared on q_df).")
    i2: float | None = _help("I² (%), as i2_definition says.")
    i2_definition: I2Definition | None = _help(
        "How I² is defined: " + " ".join(f"{code}: {text}" for code, text in I2_DEFINITIONS.items())
    )
    egger_p: float | None = _help(
        "p-value of Egger's regression test (metafor regtest: yi ~ sei, mixed-effects, z test), "
        "computed with at least the map's egger_min_k effect sizes; else null."
    )
    harmonised: bool = _help(
        "True when the column is a category of outcomes: its effect sizes are pooled so that "
        "positive means improvement, whichever way each outcome is better."
    )
    direction_note: str | None = _help(
        'Which effect sizes were reversed to pool them, e.g. "Effects on political imprisonment '
        'are reversed so that positive means improvement."; null when none were.'
    )
    reversed_outcomes: list[int] = _help(
        "Ids of the outcomes whose effect sizes this cell reverses (their g times -1) before pooling."
    )
    not_pooled_reason: str | None = _help("Why a cell with effect sizes has no pooled effect; null otherwise.")
    label: LabelView | None = None
    confidence: ConfidenceView | None = None


@dataclass(frozen=True)
class PooledEffectView:
    """One effect size as it entered the cell's pooled estimate."""

    effect_size_id: int
    study_id: int = _help("Its study: the cluster of the CHE model.")
    yi: float = _help("Hedges' g as pooled (after orienting it to the cell's outcome direction).")
    vi: float = _help("Its sampling variance.")
    reversed: bool = _help(
        "True when its sign was turned to match the cell's outcome direction before pooling."
    )


_NUMBERS = (
    "df", "estimate", "se", "statistic", "p_value", "ci_low", "ci_high", "tau2", "omega2",
    "pi_low", "pi_high", "q", "q_p", "i2",
)


def _pi_definition(result: ClusteredResult) -> str | None:
    if not math.isfinite(result.pi_low):
        return None
    components = "τ² + ω²" if result.omega2 is not None else "τ²"
    tail = f"{(1 + result.level) / 2:g}"
    quantile = f"z({tail})" if result.df is None else f"t({tail}, df)"
    return f"estimate ± {quantile}·√(se² + {components})"


def _i2_definition(result: ClusteredResult) -> str | None:
    if not math.isfinite(result.i2):
        return None
    if result.model != "univariate":
        return "nakagawa_santos_total"
    return "q_based" if result.method in ("EE", "FE") else "higgins_thompson"


def _model_fields(cell: Cell) -> dict[str, Any]:
    """How the cell was pooled and everything the fit reports (all null when it was not)."""
    result = cell.result
    if result is None:
        names = ("n_clusters", "model", "method", "test", "vcov", "level", "rho", "tolerance",
                 "iterations", "pi_definition", "q_df", "i2_definition", "egger_p", *_NUMBERS)
        return dict.fromkeys(names)
    return {
        "n_clusters": result.n_clusters,
        "model": result.model,
        "method": result.method,
        "test": result.test,
        "vcov": result.vcov,
        "level": result.level,
        "rho": result.rho,
        "tolerance": stopping_tolerance(result),
        "iterations": int(result.iterations),
        "pi_definition": _pi_definition(result),
        "q_df": int(result.q_df),
        "i2_definition": _i2_definition(result),
        "egger_p": finite(cell.egger_p),
        **{name: finite(getattr(result, name)) for name in _NUMBERS},
    }


def present_cell(evidence: MapEvidence, cell: Cell) -> CellView:
    node_i = evidence.interventions.get(cell.intervention_id)
    node_o = evidence.outcomes.get(cell.outcome_id)
    label = confidence = None
    if cell.label is not None:
        label = LabelView(
            text=cell.label.text, band=cast(Band, cell.label.band), direction=cell.label.direction,
            beneficial=cell.label.beneficial, ci_includes_zero=cell.label.ci_includes_zero,
        )
    if cell.confidence is not None:
        c = cell.confidence
        confidence = ConfidenceView(
            level=c.level, reasons=list(c.reasons), overridden=bool(c.overridden),
            computed_level=cast(Level, c.computed_level or c.level), justification=str(c.justification) or None,
            text=c.text,
        )
    return CellView(
        intervention_id=cell.intervention_id,
        outcome_id=cell.outcome_id,
        aggregate=bool((node_i and node_i.children) or (node_o and node_o.children)),
        n_studies=cell.n_studies,
        n_effects=cell.n_effects,
        designs=dict(sorted(cell.designs.items())),
        region=cell.region or None,
        k=cell.result.k if cell.result is not None else None,
        not_pooled_reason=cell.not_pooled_reason or None,
        label=label,
        confidence=confidence,
        harmonised=cell.harmonised,
        direction_note=direction_note(evidence, cell) or None,
        reversed_outcomes=list(cell.reversed_outcomes),
        **_model_fields(cell),
    )


def _lower_first(name: str) -> str:
    """A node's name inside a sentence: "Political imprisonment" -> "political imprisonment";
    an acronym ("NGO funding") stays."""
    if len(name) > 1 and name[0].isupper() and not name[1].isupper():
        return name[0].lower() + name[1:]
    return name


def direction_note(evidence: MapEvidence, cell: Cell) -> str:
    """The sentence that says which outcomes' effect sizes a cell reverses, or ""."""
    names = [_lower_first(evidence.outcomes[o].name) for o in cell.reversed_outcomes if o in evidence.outcomes]
    if not names:
        return ""
    listed: str = names[0]
    if len(names) > 1:
        listed = _("%(first)s and %(last)s", first=", ".join(names[:-1]), last=names[-1])
    return _("Effects on %(outcomes)s are reversed so that positive means improvement.", outcomes=listed)


def pooled_effects(cell: Cell) -> list[dict[str, Any]]:
    """The effect sizes of a pooled cell as they were pooled, in that order (none if it was not)."""
    if cell.result is None:
        return []
    return [
        asdict(PooledEffectView(effect_size_id=es, study_id=study, yi=yi, vi=vi, reversed=bool(turned)))
        for es, study, yi, vi, turned in zip(
            cell.effects.tolist(), cell.clusters.tolist(), cell.yi.tolist(), cell.vi.tolist(), cell.reversed.tolist(),
            strict=True,
        )
    ]


def cell_record(view: CellView) -> dict[str, Any]:
    """The cell as the API returns it: `label` and `confidence` are always objects."""
    return asdict(replace(view, label=view.label or NO_LABEL, confidence=view.confidence or NO_CONFIDENCE))


def compact_cell(view: CellView, *, segments: Sequence[int] | None = None) -> dict[str, Any]:
    """The cell as the map page's script reads it: short keys, rounded numbers; `segments`
    are its studies per segment of the map's segmenting code set (evidence.synthesis.segments),
    sent as `seg` with the trailing zeros left out."""
    data: dict[str, Any] = {
        "i": view.intervention_id,
        "o": view.outcome_id,
        "studies": view.n_studies,
        "effects": view.n_effects,
        "designs": dict(sorted(view.designs.items(), key=lambda kv: (-kv[1], kv[0]))),
        "region": view.region or "",
        "g": None,
    }
    if view.k is not None:
        data.update(
            g=rounded(view.estimate),
            se=rounded(view.se),
            ci=[rounded(view.ci_low), rounded(view.ci_high)],
            pi=[rounded(view.pi_low), rounded(view.pi_high)],
            i2=rounded(view.i2, 1),
        )
    if view.label is not None:
        data.update(
            label=view.label.text, band=view.label.band, direction=view.label.direction,
            beneficial=view.label.beneficial,
        )
    if view.confidence is not None:
        data.update(confidence=view.confidence.level, confidence_text=view.confidence.text)
    if view.direction_note:
        data["note"] = view.direction_note
    if view.not_pooled_reason:
        data["not_pooled"] = view.not_pooled_reason
    if segments is not None:
        counts = list(segments)
        while counts and counts[-1] == 0:
            counts.pop()
        data["seg"] = counts
    return data


# --- Sensitivity (evidence.synthesis.sensitivity) ----------------------------------------


@dataclass(frozen=True)
class AlternativeView:
    """The cell pooled once more under one sensitivity analysis, and whether its label holds."""

    name: str  # "Without Smith (2014)", "Within-study correlation 0.5", "With 2 filled-in effect sizes"
    k: int | None = None
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    label: str = ""  # "" when there is no fit
    keeps_label: bool | None = None  # None when there is no fit
    note: str = ""  # why there is no fit
    rho: str = ""  # the correlation assumed, for a correlation's refit
    nothing_filled: bool = False  # trim-and-fill found nothing missing


@dataclass(frozen=True)
class SensitivityView:
    label: str  # the cell's own
    leave_one_out: list[AlternativeView]
    leave_one_out_reason: str
    changed_by: list[str]  # the studies whose removal changes the label
    trim_and_fill: AlternativeView | None
    trim_and_fill_side: str
    trim_and_fill_reason: str
    correlations: list[AlternativeView]
    correlations_reason: str
    summary: str


def _refit(
    cell: Cell, evidence_map: EvidenceMap, name: str, k: int, estimate: float, ci: tuple[float, float], **more: Any
) -> AlternativeView:
    label = cell.label_of(evidence_map, estimate, ci).text
    return AlternativeView(
        name=name, k=k, estimate=finite(estimate), ci_low=finite(ci[0]), ci_high=finite(ci[1]),
        label=gettext(label), keeps_label=cell.label is not None and label == cell.label.text, **more,
    )


def _alternative(
    cell: Cell, evidence_map: EvidenceMap, name: str, result: PoolResult | str, **more: Any
) -> AlternativeView:
    if isinstance(result, str) or not math.isfinite(result.estimate):
        return AlternativeView(name=name, note=plain_reason(result) if isinstance(result, str) else "", **more)
    return _refit(cell, evidence_map, name, result.k, result.estimate, (result.ci_low, result.ci_high), **more)


def present_sensitivity(
    evidence_map: EvidenceMap, cell: Cell, sensitivity: Sensitivity, *, citations: dict[int, str]
) -> SensitivityView:
    """The sensitivity analyses in words, in the reader's language (the cell page alone shows
    them): each refit with its label, and whether the cell's label holds (`citations`: the
    short citation of each study of the cell, by id)."""
    own = gettext(cell.label.text) if cell.label is not None else ""
    rows: list[AlternativeView] = []
    names: dict[int, str] = {}  # row -> the study left out
    loo = sensitivity.leave_one_out
    if loo is not None:
        for j, study in enumerate(loo.clusters):
            study_name = citations.get(int(str(study)), gettext("study %(id)s") % {"id": study})
            names[len(rows)] = study_name
            name = gettext("Without %(study)s") % {"study": study_name}
            if not math.isfinite(loo.estimate[j]):
                rows.append(AlternativeView(name=name, note=plain_reason(loo.errors.get(study, ""))))
                continue
            ci = (float(loo.ci_low[j]), float(loo.ci_high[j]))
            rows.append(_refit(cell, evidence_map, name, int(loo.k[j]), float(loo.estimate[j]), ci))
    changed_by = [names[i] for i, row in enumerate(rows) if row.keeps_label is False]
    filled = sensitivity.trim_and_fill
    trim = None
    if filled is not None:
        added = ngettext(
            "With %(k)s filled-in effect size", "With %(k)s filled-in effect sizes", filled.k0
        ) % {"k": filled.k0}
        trim = _alternative(
            cell, evidence_map, added if filled.k0 else gettext("Nothing to fill in"), filled.pooled,
            nothing_filled=not filled.k0,
        )
    correlations = [
        _alternative(
            cell, evidence_map, gettext("Within-study correlation %(rho)s") % {"rho": f"{rho:g}"}, result,
            rho=f"{rho:g}",
        )
        for rho, result in sensitivity.correlations.items()
    ]
    failing = [a.name.lower() for a in [trim, *correlations] if a is not None and a.keeps_label is False]
    checks = [a for a in [*rows, trim, *correlations] if a is not None and a.keeps_label is not None]
    if not checks:
        summary = gettext("No sensitivity analysis could be run for this cell.")
    elif not changed_by and not failing:
        summary = gettext("The label (%(label)s) holds in every check below.") % {"label": own}
    else:
        parts = [gettext("without %(studies)s") % {"studies": ", ".join(changed_by)}] if changed_by else []
        summary = gettext("The label (%(label)s) changes %(where)s: read it with care.") % {
            "label": own, "where": "; ".join([*parts, *failing])}
    return SensitivityView(
        label=own, leave_one_out=rows, leave_one_out_reason=say_reason(sensitivity.leave_one_out_reason),
        changed_by=changed_by,
        trim_and_fill=trim, trim_and_fill_side=filled.side if filled is not None else "",
        trim_and_fill_reason=say_reason(sensitivity.trim_and_fill_reason), correlations=correlations,
        correlations_reason=say_reason(sensitivity.correlations_reason), summary=summary,
    )


def say_reason(reason: str) -> str:
    """A phrase of the synthesis layer in the reader's language (plain text stays as it is)."""
    if not isinstance(reason, Phrase):
        return reason
    params = {k: say_reason(v) if isinstance(v, str) else v for k, v in reason.params.items()}
    template = ngettext(reason.message, reason.plural, reason.number) if reason.number is not None else gettext(reason.message)
    return template % params if params else template


def _columns(view: type[Any], prefix: str = "") -> list[str]:
    """The flat names of a record's fields, as pandas.json_normalize and the CSV name them:
    a nested record's members as `label.text`, the designs as `designs.rct`, ..."""
    hints = get_type_hints(view)
    names: list[str] = []
    for item in fields(view):
        nested = [t for t in getattr(hints[item.name], "__args__", (hints[item.name],)) if isinstance(t, type) and is_dataclass(t)]
        if nested:
            names += _columns(nested[0], f"{prefix}{item.name}.")
        elif item.name == "designs":
            names += [f"{prefix}designs.{design}" for design in StudyDesign.values]
        else:
            names.append(prefix + item.name)
    return names


CELL_CSV_COLUMNS = tuple(_columns(CellView))


def cell_csv_row(record: dict[str, Any]) -> dict[str, Any]:
    """A cell record as one flat row with the same columns for every cell (a design without
    studies in the cell counts 0)."""
    row = {f"designs.{design}": 0 for design in StudyDesign.values}
    row.update(flat(record))
    return row
