"""Convert what a study reports into Hedges' g and its sampling variance.

Pure functions (math and scipy only, no Django) so that the conversions can be checked
against R's metafor (tests/data/metafor/conversions.json) without a database.

Conventions used throughout:

* Group 1 is the intervention group and group 2 the comparison group, so a positive g,
  log odds ratio or risk difference means the intervention group scored higher or had
  more events.  Whether that is good news is decided later, by the outcome's desirable
  direction (see evidence.stats.interpret).
* Confidence levels given as input (`level`, `ci_level`) are percentages, as in metafor
  and as reviewers type them: 95, not 0.95.
* Every invalid input raises `ConversionError`, which names the offending input and says
  in plain words what is wrong, so the admin can show the message next to the field.

Main sources: Borenstein, Hedges, Higgins & Rothstein (2009) *Introduction to
Meta-Analysis*, chapters 4-7 (equation numbers below refer to it); Hedges (1981) for the
exact small-sample correction; Viechtbauer's metafor `escalc()` documentation for its
defaults (exact J, vtype "LS", adding 1/2 to tables with a zero cell).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple

from scipy import stats

__all__ = [
    "INPUT_KINDS",
    "NATIVE_METRICS",
    "OPTIONAL_INPUTS",
    "ConversionError",
    "EffectEstimate",
    "Estimate",
    "SmdResult",
    "compute_effect",
    "correlation",
    "d_to_log_odds_ratio",
    "d_to_r",
    "d_variance",
    "estimate_from_ci",
    "fisher_z",
    "fisher_z_to_r",
    "j_approx",
    "j_exact",
    "log_odds_ratio",
    "log_odds_ratio_to_d",
    "log_risk_ratio",
    "log_risk_ratio_to_log_odds_ratio",
    "mean_difference",
    "pooled_sd",
    "r_to_d",
    "ratio_from_ci",
    "risk_difference",
    "se_from_ci",
    "se_from_p",
    "small_sample_correction",
    "smd_from_d",
    "smd_from_f",
    "smd_from_means",
    "smd_from_t",
    "z_critical",
]

Correction = Literal["exact", "approx"]
VarianceType = Literal["LS", "LS2", "UB"]
LogOddsMethod = Literal["logit", "normal"]

NATIVE_METRICS: tuple[str, ...] = ("SMD", "logOR", "logRR", "RD", "COR", "ZCOR")

# Cox's constant for the "normal" log odds ratio <-> d conversion (metafor's OR2DN/D2ORN).
_COX_FACTOR = 1.65


class ConversionError(ValueError):
    """A reported value that cannot be turned into an effect size.

    `field` is the name of the input at fault (for `compute_effect`, the Django model's
    field name) and `message` a sentence a reviewer can act on.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Estimate(NamedTuple):
    """An effect size `yi` on its own scale, with its sampling variance `vi`."""

    yi: float
    vi: float

    @property
    def se(self) -> float:
        return math.sqrt(self.vi)


@dataclass(frozen=True)
class SmdResult:
    """Every step of a standardized mean difference: Cohen's d, J and Hedges' g."""

    d: float
    vd: float
    j: float
    g: float
    vg: float


# --------------------------------------------------------------------------------------
# Input checks.  Each names the parameter so the caller's error points at the right box.
# --------------------------------------------------------------------------------------


def _show(value: float) -> str:
    """Write a number the way a reviewer typed it: -1 rather than -1.0."""
    number = float(value)
    if math.isfinite(number) and number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def _finite(field: str, value: float) -> float:
    if isinstance(value, bool | str | bytes):
        raise ConversionError(field, f"{field} must be a number (got {value!r})")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConversionError(field, f"{field} must be a number (got {value!r})") from None
    if not math.isfinite(number):
        raise ConversionError(field, f"{field} must be a finite number (got {_show(number)})")
    return number


def _positive(field: str, value: float) -> float:
    number = _finite(field, value)
    if number <= 0:
        raise ConversionError(field, f"{field} must be greater than 0 (got {_show(number)})")
    return number


def _whole(field: str, value: float) -> float:
    number = _finite(field, value)
    if not number.is_integer():
        raise ConversionError(field, f"{field} must be a whole number (got {_show(number)})")
    return number


def _group_size(field: str, value: float) -> float:
    number = _whole(field, value)
    if number < 2:
        raise ConversionError(field, f"{field} must be at least 2 (got {_show(number)})")
    return number


def _events(field: str, value: float, group_field: str, group_size: float) -> float:
    number = _whole(field, value)
    if number < 0:
        raise ConversionError(field, f"{field} cannot be negative (got {_show(number)})")
    if number > group_size:
        raise ConversionError(
            field,
            f"{field} ({_show(number)}) cannot be larger than the group size "
            f"{group_field} ({_show(group_size)})",
        )
    return number


def _open_interval(field: str, value: float, low: float, high: float) -> float:
    number = _finite(field, value)
    if not low < number < high:
        raise ConversionError(
            field,
            f"{field} must be between {_show(low)} and {_show(high)}, exclusive "
            f"(got {_show(number)})",
        )
    return number


def _level(field: str, value: float) -> float:
    """A confidence level in percent.  Values of 1 or less are almost surely proportions
    (0.95 meant as 95%), which would silently give absurd standard errors, so refuse them."""
    number = _finite(field, value)
    if not 1 < number < 100:
        raise ConversionError(
            field,
            f"{field} must be a percentage between 1 and 100, such as 95 (got {_show(number)})",
        )
    return number


def _interval(estimate_field: str, estimate: float, low: float, high: float) -> None:
    """A reported interval must be ordered and contain its point estimate.  Equality is
    allowed because reports round (for example OR 1.00, 95% CI 1.00 to 1.32)."""
    if not high > low:
        raise ConversionError(
            "ci_high", f"ci_high ({_show(high)}) must be greater than ci_low ({_show(low)})"
        )
    if low > estimate:
        raise ConversionError(
            "ci_low",
            f"ci_low ({_show(low)}) is above the estimate {estimate_field} ({_show(estimate)}): "
            "a confidence interval must contain its estimate",
        )
    if high < estimate:
        raise ConversionError(
            "ci_high",
            f"ci_high ({_show(high)}) is below the estimate {estimate_field} "
            f"({_show(estimate)}): a confidence interval must contain its estimate",
        )


def z_critical(level: float = 95.0) -> float:
    """Two-sided normal critical value for a `level` percent interval (1.96 for 95)."""
    checked = _level("level", level)
    return float(stats.norm.ppf(0.5 + checked / 200.0))


# --------------------------------------------------------------------------------------
# Standardized mean difference (Borenstein ch. 4; Hedges 1981; metafor escalc "SMD")
# --------------------------------------------------------------------------------------


def j_exact(df: float) -> float:
    """Hedges' (1981) exact bias correction J(m) = Γ(m/2) / (√(m/2) Γ((m-1)/2)).

    Computed through log-gamma so large df do not overflow.  J is 0 at m = 1 and
    undefined below; metafor returns NA for m ≤ 1, so we refuse it too.
    """
    m = _finite("df", df)
    if m <= 1:
        raise ConversionError("df", f"df must be greater than 1 (got {_show(m)})")
    log_j = math.lgamma(m / 2) - 0.5 * math.log(m / 2) - math.lgamma((m - 1) / 2)
    return math.exp(log_j)


def j_approx(df: float) -> float:
    """The usual approximation J ≈ 1 - 3/(4m - 1) (Borenstein eq. 4.22; Hedges 1981)."""
    m = _finite("df", df)
    if m < 1:
        raise ConversionError("df", f"df must be at least 1 (got {_show(m)})")
    return 1.0 - 3.0 / (4.0 * m - 1.0)


def small_sample_correction(df: float, correction: Correction = "exact") -> float:
    """J for `df` degrees of freedom, exact (metafor's choice) or approximate."""
    if correction == "exact":
        return j_exact(df)
    if correction == "approx":
        return j_approx(df)
    raise ConversionError("correction", f'correction must be "exact" or "approx" (got {correction!r})')


def d_variance(d: float, n_1: float, n_2: float) -> float:
    """Large-sample variance of Cohen's d: (n1+n2)/(n1 n2) + d²/(2(n1+n2)) (Borenstein 4.20)."""
    d = _finite("d", d)
    n1 = _group_size("n_1", n_1)
    n2 = _group_size("n_2", n_2)
    return (n1 + n2) / (n1 * n2) + d * d / (2.0 * (n1 + n2))


def smd_from_d(
    d: float,
    n_1: float,
    n_2: float,
    *,
    correction: Correction = "exact",
    vtype: VarianceType = "LS",
) -> SmdResult:
    """Hedges' g = J·d with df = n1 + n2 - 2 (Borenstein 4.23), and its variance.

    `vtype` follows metafor's escalc:
    * "LS" (metafor's default): 1/n1 + 1/n2 + g²/(2(n1+n2)), the large-sample variance
      with g in place of d.  This is what the pooling tests' reference data use.
    * "LS2": J²·var(d), Borenstein eq. 4.24.
    * "UB": Hedges' (1983) unbiased estimate 1/n1 + 1/n2 + (1 - (m-2)/(m J²))·g².
    """
    d = _finite("d", d)
    n1 = _group_size("n_1", n_1)
    n2 = _group_size("n_2", n_2)
    df = n1 + n2 - 2.0
    j = small_sample_correction(df, correction)
    vd = d_variance(d, n1, n2)
    g = j * d
    if vtype == "LS":
        vg = 1.0 / n1 + 1.0 / n2 + g * g / (2.0 * (n1 + n2))
    elif vtype == "LS2":
        vg = j * j * vd
    elif vtype == "UB":
        vg = 1.0 / n1 + 1.0 / n2 + (1.0 - (df - 2.0) / (df * j * j)) * g * g
    else:
        raise ConversionError("vtype", f'vtype must be "LS", "LS2" or "UB" (got {vtype!r})')
    return SmdResult(d=d, vd=vd, j=j, g=g, vg=vg)


def pooled_sd(sd_1: float, n_1: float, sd_2: float, n_2: float) -> float:
    """Within-groups SD, pooling the two variances on n - 1 df each (Borenstein 4.19)."""
    s1 = _positive("sd_1", sd_1)
    s2 = _positive("sd_2", sd_2)
    n1 = _group_size("n_1", n_1)
    n2 = _group_size("n_2", n_2)
    return math.sqrt(((n1 - 1.0) * s1 * s1 + (n2 - 1.0) * s2 * s2) / (n1 + n2 - 2.0))


def smd_from_means(
    mean_1: float,
    sd_1: float,
    n_1: float,
    mean_2: float,
    sd_2: float,
    n_2: float,
    *,
    correction: Correction = "exact",
    vtype: VarianceType = "LS",
) -> SmdResult:
    """d = (mean_1 - mean_2)/S_within (Borenstein 4.18), then g as in `smd_from_d`.

    With the defaults this reproduces metafor's escalc(measure="SMD").
    """
    m1 = _finite("mean_1", mean_1)
    m2 = _finite("mean_2", mean_2)
    s_within = pooled_sd(sd_1, n_1, sd_2, n_2)
    return smd_from_d((m1 - m2) / s_within, n_1, n_2, correction=correction, vtype=vtype)


def mean_difference(
    mean_1: float, sd_1: float, n_1: float, mean_2: float, sd_2: float, n_2: float
) -> Estimate:
    """Raw mean difference with unequal-variance variance s1²/n1 + s2²/n2 (metafor "MD")."""
    m1 = _finite("mean_1", mean_1)
    m2 = _finite("mean_2", mean_2)
    s1 = _positive("sd_1", sd_1)
    s2 = _positive("sd_2", sd_2)
    n1 = _group_size("n_1", n_1)
    n2 = _group_size("n_2", n_2)
    return Estimate(m1 - m2, s1 * s1 / n1 + s2 * s2 / n2)


def smd_from_t(
    t_value: float,
    n_1: float,
    n_2: float,
    *,
    correction: Correction = "exact",
    vtype: VarianceType = "LS",
) -> SmdResult:
    """d from an independent-samples t statistic: d = t·√(1/n1 + 1/n2) (Borenstein ch. 4).

    This inverts t = d / √(1/n1 + 1/n2), which holds for the pooled-variance t test.
    """
    t = _finite("t_value", t_value)
    n1 = _group_size("n_1", n_1)
    n2 = _group_size("n_2", n_2)
    return smd_from_d(t * math.sqrt(1.0 / n1 + 1.0 / n2), n1, n2, correction=correction, vtype=vtype)


def smd_from_f(
    f_value: float,
    n_1: float,
    n_2: float,
    direction: float,
    *,
    correction: Correction = "exact",
    vtype: VarianceType = "LS",
) -> SmdResult:
    """d from a two-group one-way ANOVA F(1, n1 + n2 - 2), where F = t².

    F carries no sign, so the reviewer says which group was higher: `direction` +1 when
    the intervention group's mean is higher, -1 when the comparison group's is.
    """
    f = _finite("f_value", f_value)
    if f < 0:
        raise ConversionError("f_value", f"f_value cannot be negative (got {_show(f)})")
    sign = _finite("direction", direction)
    if sign not in (1.0, -1.0):
        raise ConversionError(
            "direction",
            "direction must be +1 (intervention group higher) or -1 (comparison group "
            f"higher) (got {_show(sign)})",
        )
    return smd_from_t(sign * math.sqrt(f), n_1, n_2, correction=correction, vtype=vtype)


# --------------------------------------------------------------------------------------
# 2x2 tables (Borenstein ch. 5; metafor escalc "OR", "RR", "RD")
# --------------------------------------------------------------------------------------


def _table(
    events_1: float, n_1: float, events_2: float, n_2: float, add: float
) -> tuple[float, float, float, float]:
    """Cells (a, b, c, d) = (events, non-events) of group 1 then group 2.

    metafor's default (add = 1/2, to = "only0") adds `add` to every cell of a table that
    has a zero cell, and to no other table: without it log OR and log RR are infinite.
    """
    n1 = _group_size("n_1", n_1)
    n2 = _group_size("n_2", n_2)
    e1 = _events("events_1", events_1, "n_1", n1)
    e2 = _events("events_2", events_2, "n_2", n2)
    add = _finite("add", add)
    if add < 0:
        raise ConversionError("add", f"add cannot be negative (got {_show(add)})")
    cells = (e1, n1 - e1, e2, n2 - e2)
    if min(cells) == 0:
        cells = (cells[0] + add, cells[1] + add, cells[2] + add, cells[3] + add)
        if min(cells) == 0:
            raise ConversionError(
                "add", "the table has a zero cell, so add must be greater than 0"
            )
    return cells


def log_odds_ratio(
    events_1: float, n_1: float, events_2: float, n_2: float, *, add: float = 0.5
) -> Estimate:
    """log(ad/bc) with variance 1/a + 1/b + 1/c + 1/d (Borenstein 5.8-5.10)."""
    a, b, c, d = _table(events_1, n_1, events_2, n_2, add)
    return Estimate(math.log(a * d / (b * c)), 1 / a + 1 / b + 1 / c + 1 / d)


def log_risk_ratio(
    events_1: float, n_1: float, events_2: float, n_2: float, *, add: float = 0.5
) -> Estimate:
    """log((a/n1)/(c/n2)) with variance 1/a - 1/n1 + 1/c - 1/n2 (Borenstein 5.1-5.3).

    n1 and n2 are the group totals after any zero-cell addition, as in metafor.
    """
    a, b, c, d = _table(events_1, n_1, events_2, n_2, add)
    n1, n2 = a + b, c + d
    return Estimate(math.log((a / n1) / (c / n2)), 1 / a - 1 / n1 + 1 / c - 1 / n2)


def risk_difference(
    events_1: float, n_1: float, events_2: float, n_2: float, *, add: float = 0.5
) -> Estimate:
    """p1 - p2 with variance p1(1-p1)/n1 + p2(1-p2)/n2 (Borenstein 5.13-5.14).

    A zero-cell table is adjusted like the ratio measures, matching the reference data.
    """
    a, b, c, d = _table(events_1, n_1, events_2, n_2, add)
    n1, n2 = a + b, c + d
    p1, p2 = a / n1, c / n2
    return Estimate(p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)


def log_odds_ratio_to_d(
    log_or: float, v_log_or: float, *, method: LogOddsMethod = "logit"
) -> Estimate:
    """Cohen's d from a log odds ratio.

    "logit" (default): d = log OR·√3/π, var = var(log OR)·3/π² (Hasselblad & Hedges 1995;
    Chinn 2000; Borenstein 7.1-7.2), which assumes a logistic latent variable.
    "normal": Cox's d = log OR / 1.65 (metafor's "OR2DN").
    """
    y = _finite("log_or", log_or)
    v = _positive("v_log_or", v_log_or)
    if method == "logit":
        return Estimate(y * math.sqrt(3.0) / math.pi, v * 3.0 / math.pi**2)
    if method == "normal":
        return Estimate(y / _COX_FACTOR, v / _COX_FACTOR**2)
    raise ConversionError("method", f'method must be "logit" or "normal" (got {method!r})')


def d_to_log_odds_ratio(d: float, vd: float, *, method: LogOddsMethod = "logit") -> Estimate:
    """The inverse of `log_odds_ratio_to_d` (Borenstein 7.3-7.4; metafor "D2ORL"/"D2ORN")."""
    y = _finite("d", d)
    v = _positive("vd", vd)
    if method == "logit":
        return Estimate(y * math.pi / math.sqrt(3.0), v * math.pi**2 / 3.0)
    if method == "normal":
        return Estimate(y * _COX_FACTOR, v * _COX_FACTOR**2)
    raise ConversionError("method", f'method must be "logit" or "normal" (got {method!r})')


def log_risk_ratio_to_log_odds_ratio(
    log_rr: float, v_log_rr: float, baseline_risk: float
) -> Estimate:
    """Exact RR → OR given the comparison group's risk p0: OR = RR(1 - p0)/(1 - RR·p0).

    This inverts Zhang & Yu's (1998, JAMA 280:1690) RR = OR/(1 - p0 + p0·OR).  The
    variance uses the delta method with p0 taken as known: d log OR / d log RR =
    1/(1 - RR·p0), so var(log OR) = var(log RR)/(1 - RR·p0)².  RR·p0 is the intervention
    group's risk, so it must be below 1.
    """
    y = _finite("log_rr", log_rr)
    v = _positive("v_log_rr", v_log_rr)
    p0 = _open_interval("baseline_risk", baseline_risk, 0.0, 1.0)
    p1 = math.exp(y) * p0
    if p1 >= 1:
        raise ConversionError(
            "baseline_risk",
            f"baseline_risk ({_show(p0)}) times the risk ratio ({math.exp(y):.4g}) gives "
            f"an intervention-group risk of {p1:.3g}, which is not below 1",
        )
    return Estimate(y + math.log(1.0 - p0) - math.log(1.0 - p1), v / (1.0 - p1) ** 2)


# --------------------------------------------------------------------------------------
# Intervals and p-values (Cochrane Handbook v6, section 6.3; Altman & Bland 2011, BMJ)
# --------------------------------------------------------------------------------------


def se_from_ci(
    ci_low: float, ci_high: float, *, level: float = 95.0, log_scale: bool = False
) -> float:
    """SE = (upper - lower)/(2·z), z the normal quantile at (1 + level/100)/2.

    With `log_scale` the bounds are ratios, and their logarithms are used.
    """
    low = _finite("ci_low", ci_low)
    high = _finite("ci_high", ci_high)
    if log_scale:
        low = math.log(_positive("ci_low", low))
        high = math.log(_positive("ci_high", high))
    if not high > low:
        raise ConversionError(
            "ci_high", f"ci_high ({_show(high)}) must be greater than ci_low ({_show(low)})"
        )
    return (high - low) / (2.0 * z_critical(level))


def ratio_from_ci(ratio: float, ci_low: float, ci_high: float, *, level: float = 95.0) -> Estimate:
    """An odds or risk ratio with its CI → log ratio and its variance."""
    est = _finite("ratio", ratio)
    if est <= 0:
        raise ConversionError(
            "ratio", f"ratio must be greater than 0 (got {_show(est)}): ratios are never negative"
        )
    low = _positive("ci_low", ci_low)
    high = _positive("ci_high", ci_high)
    _interval("ratio", est, low, high)
    se = se_from_ci(low, high, level=level, log_scale=True)
    return Estimate(math.log(est), se * se)


def estimate_from_ci(
    es_value: float, ci_low: float, ci_high: float, *, level: float = 95.0
) -> Estimate:
    """An estimate on a raw scale (for example an SMD) with a symmetric normal CI."""
    est = _finite("es_value", es_value)
    low = _finite("ci_low", ci_low)
    high = _finite("ci_high", ci_high)
    _interval("es_value", est, low, high)
    se = se_from_ci(low, high, level=level)
    return Estimate(est, se * se)


def se_from_p(estimate: float, p_value: float) -> float:
    """SE = |estimate|/z with z the normal quantile of a two-sided p (Altman & Bland 2011).

    An estimate of exactly 0 carries no information about its SE, so it is refused.
    """
    est = _finite("estimate", estimate)
    p = _open_interval("p_value", p_value, 0.0, 1.0)
    if est == 0:
        raise ConversionError(
            "estimate", "an estimate of 0 with a p-value does not determine a standard error"
        )
    # isf(p/2) is the upper-tail quantile; it stays accurate for very small p.
    z = float(stats.norm.isf(p / 2.0))
    return abs(est) / z


# --------------------------------------------------------------------------------------
# Correlations (Borenstein ch. 6 and 7)
# --------------------------------------------------------------------------------------


def _sample_size(field: str, value: float, minimum: float) -> float:
    number = _whole(field, value)
    if number < minimum:
        raise ConversionError(field, f"{field} must be at least {_show(minimum)} (got {_show(number)})")
    return number


def correlation(r_value: float, n_total: float) -> Estimate:
    """r with variance (1 - r²)²/(n - 1) (Borenstein 6.1; metafor "COR")."""
    r = _open_interval("r_value", r_value, -1.0, 1.0)
    n = _sample_size("n_total", n_total, 2)
    return Estimate(r, (1.0 - r * r) ** 2 / (n - 1.0))


def fisher_z(r_value: float, n_total: float) -> Estimate:
    """Fisher's z = atanh(r) with variance 1/(n - 3) (Borenstein 6.2-6.3; metafor "ZCOR")."""
    r = _open_interval("r_value", r_value, -1.0, 1.0)
    n = _sample_size("n_total", n_total, 4)
    return Estimate(math.atanh(r), 1.0 / (n - 3.0))


def fisher_z_to_r(z: float) -> float:
    """Back from Fisher's z to r = tanh(z) (Borenstein 6.5)."""
    return math.tanh(_finite("z", z))


def r_to_d(r_value: float, vr: float) -> Estimate:
    """d = 2r/√(1 - r²), var(d) = 4·var(r)/(1 - r²)³ (Borenstein 7.5-7.6)."""
    r = _open_interval("r_value", r_value, -1.0, 1.0)
    v = _positive("vr", vr)
    one_minus = 1.0 - r * r
    return Estimate(2.0 * r / math.sqrt(one_minus), 4.0 * v / one_minus**3)


def d_to_r(d: float, vd: float, n_1: float, n_2: float) -> Estimate:
    """r = d/√(d² + a), var(r) = a²·var(d)/(d² + a)³, a = (n1+n2)²/(n1 n2) (Borenstein 7.7-7.8).

    `a` corrects for unequal group sizes; it is 4 when n1 = n2.
    """
    y = _finite("d", d)
    v = _positive("vd", vd)
    n1 = _group_size("n_1", n_1)
    n2 = _group_size("n_2", n_2)
    a = (n1 + n2) ** 2 / (n1 * n2)
    return Estimate(y / math.sqrt(y * y + a), a * a * v / (y * y + a) ** 3)


# --------------------------------------------------------------------------------------
# The entry point used by the Django side
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectEstimate:
    """One study's effect as Hedges' g (what the map pools) plus its native metric.

    `native_metric` is one of NATIVE_METRICS; for inputs that are already standardized
    mean differences it is "SMD" and the native values equal g and its variance.
    `note` says in words how g was obtained, for the study page.
    """

    g: float
    vg: float
    native_metric: str
    native_yi: float
    native_vi: float
    note: str = ""

    @property
    def se_g(self) -> float:
        return math.sqrt(self.vg)

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        """Normal (Wald) interval g ± z·SE; `level` is a proportion here, e.g. 0.95."""
        if not 0 < level < 1:
            raise ValueError(f"level must be a proportion between 0 and 1 (got {level})")
        half_width = float(stats.norm.ppf(0.5 + level / 2.0)) * self.se_g
        return (self.g - half_width, self.g + half_width)


# Required inputs of each kind, by the Django model's field names.
INPUT_KINDS: dict[str, tuple[str, ...]] = {
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

# Inputs that may be left empty: ci_level defaults to 95; group sizes, when both are
# given, allow the small-sample correction of a g derived from a ratio.
OPTIONAL_INPUTS: dict[str, tuple[str, ...]] = {
    "means": (),
    "counts_2x2": (),
    "odds_ratio_ci": ("ci_level", "n_1", "n_2"),
    "risk_ratio_ci": ("ci_level", "n_1", "n_2"),
    "t_stat": (),
    "f_stat": (),
    "correlation": (),
    "es_se": (),
    "es_ci": ("ci_level",),
    "es_p": (),
}

_KIND_WORDS: dict[str, str] = {
    "means": "means and standard deviations",
    "counts_2x2": "event counts",
    "odds_ratio_ci": "an odds ratio with its confidence interval",
    "risk_ratio_ci": "a risk ratio with its confidence interval",
    "t_stat": "a t statistic",
    "f_stat": "an F statistic",
    "correlation": "a correlation",
    "es_se": "an effect size with its standard error",
    "es_ci": "an effect size with its confidence interval",
    "es_p": "an effect size with its p-value",
}

_Values = Mapping[str, float | int | None]


def _required(kind: str, values: _Values, field: str) -> float:
    value = values.get(field)
    if value is None:
        if field == "baseline_risk":
            raise ConversionError(
                field,
                "baseline_risk is missing: a risk ratio can be put on the Hedges' g scale "
                "only through the odds ratio, which needs the comparison group's risk "
                "(events divided by participants, between 0 and 1)",
            )
        raise ConversionError(
            field, f"{field} is missing: it is needed to compute an effect size from "
            f"{_KIND_WORDS[kind]}"
        )
    return _finite(field, value)


def _optional(values: _Values, field: str) -> float | None:
    value = values.get(field)
    return None if value is None else _finite(field, value)


def _optional_groups(values: _Values) -> tuple[float, float] | None:
    """Both group sizes, or neither: one alone cannot give the df of J."""
    n1 = _optional(values, "n_1")
    n2 = _optional(values, "n_2")
    if n1 is None and n2 is None:
        return None
    if n1 is None:
        raise ConversionError("n_1", "n_1 is missing: give both group sizes or neither")
    if n2 is None:
        raise ConversionError("n_2", "n_2 is missing: give both group sizes or neither")
    return _group_size("n_1", n1), _group_size("n_2", n2)


def _g_from_d(d: Estimate, df: float | None) -> tuple[float, float]:
    """g = J·d, var(g) = J²·var(d) (Borenstein 4.23-4.24); J = 1 when df is unknown."""
    j = 1.0 if df is None else j_exact(df)
    return j * d.yi, j * j * d.vi


def _smd(result: SmdResult, note: str) -> EffectEstimate:
    return EffectEstimate(result.g, result.vg, "SMD", result.g, result.vg, note)


def _from_log_odds(
    log_or: Estimate,
    groups: tuple[float, float] | None,
    native_metric: str,
    native: Estimate,
    route: str,
) -> EffectEstimate:
    d = log_odds_ratio_to_d(log_or.yi, log_or.vi)
    df = None if groups is None else groups[0] + groups[1] - 2.0
    g, vg = _g_from_d(d, df)
    correction = (
        "no small-sample correction (group sizes unknown)"
        if df is None
        else f"small-sample correction J with {_show(df)} df"
    )
    return EffectEstimate(
        g, vg, native_metric, native.yi, native.vi,
        f"{route}; logistic conversion d = log OR·√3/π; {correction}",
    )


def _means(values: _Values) -> EffectEstimate:
    v = {f: _required("means", values, f) for f in INPUT_KINDS["means"]}
    result = smd_from_means(
        v["mean_1"], v["sd_1"], v["n_1"], v["mean_2"], v["sd_2"], v["n_2"]
    )
    return _smd(result, "Hedges' g from means and SDs (exact J; metafor escalc SMD, vtype LS)")


def _counts(values: _Values) -> EffectEstimate:
    v = {f: _required("counts_2x2", values, f) for f in INPUT_KINDS["counts_2x2"]}
    log_or = log_odds_ratio(v["events_1"], v["n_1"], v["events_2"], v["n_2"])
    groups = (v["n_1"], v["n_2"])
    return _from_log_odds(log_or, groups, "logOR", log_or, "log odds ratio from the 2x2 table")


def _ci_level(values: _Values) -> float:
    level = _optional(values, "ci_level")
    return 95.0 if level is None else _level("ci_level", level)


def _odds_ratio_ci(values: _Values) -> EffectEstimate:
    v = {f: _required("odds_ratio_ci", values, f) for f in INPUT_KINDS["odds_ratio_ci"]}
    level = _ci_level(values)
    groups = _optional_groups(values)
    log_or = ratio_from_ci(v["ratio"], v["ci_low"], v["ci_high"], level=level)
    return _from_log_odds(log_or, groups, "logOR", log_or, "log odds ratio, SE from its CI")


def _risk_ratio_ci(values: _Values) -> EffectEstimate:
    v = {f: _required("risk_ratio_ci", values, f) for f in INPUT_KINDS["risk_ratio_ci"]}
    level = _ci_level(values)
    groups = _optional_groups(values)
    log_rr = ratio_from_ci(v["ratio"], v["ci_low"], v["ci_high"], level=level)
    log_or = log_risk_ratio_to_log_odds_ratio(log_rr.yi, log_rr.vi, v["baseline_risk"])
    return _from_log_odds(
        log_or, groups, "logRR", log_rr,
        "log risk ratio (SE from its CI) converted to a log odds ratio with the baseline risk",
    )


def _t_stat(values: _Values) -> EffectEstimate:
    v = {f: _required("t_stat", values, f) for f in INPUT_KINDS["t_stat"]}
    result = smd_from_t(v["t_value"], v["n_1"], v["n_2"])
    return _smd(result, "Hedges' g from an independent-samples t statistic (exact J, vtype LS)")


def _f_stat(values: _Values) -> EffectEstimate:
    v = {f: _required("f_stat", values, f) for f in INPUT_KINDS["f_stat"]}
    result = smd_from_f(v["f_value"], v["n_1"], v["n_2"], v["direction"])
    return _smd(result, "Hedges' g from a two-group F(1, df) statistic (exact J, vtype LS)")


def _correlation(values: _Values) -> EffectEstimate:
    v = {f: _required("correlation", values, f) for f in INPUT_KINDS["correlation"]}
    z = fisher_z(v["r_value"], v["n_total"])
    d = r_to_d(v["r_value"], correlation(v["r_value"], v["n_total"]).vi)
    g, vg = _g_from_d(d, v["n_total"] - 2.0)
    return EffectEstimate(
        g, vg, "ZCOR", z.yi, z.vi,
        f"d = 2r/√(1 - r²); small-sample correction J with {_show(v['n_total'] - 2.0)} df",
    )


def _es_se(values: _Values) -> EffectEstimate:
    es = _required("es_se", values, "es_value")
    se = _positive("es_se", _required("es_se", values, "es_se"))
    return EffectEstimate(es, se * se, "SMD", es, se * se, "Hedges' g as reported, with its SE")


def _es_ci(values: _Values) -> EffectEstimate:
    v = {f: _required("es_ci", values, f) for f in INPUT_KINDS["es_ci"]}
    est = estimate_from_ci(v["es_value"], v["ci_low"], v["ci_high"], level=_ci_level(values))
    return EffectEstimate(est.yi, est.vi, "SMD", est.yi, est.vi, "Hedges' g as reported, SE from its CI")


def _es_p(values: _Values) -> EffectEstimate:
    es = _required("es_p", values, "es_value")
    p = _required("es_p", values, "p_value")
    if es == 0:
        raise ConversionError(
            "es_value",
            "es_value is 0, so a p-value cannot give its standard error: "
            "report the standard error or the confidence interval instead",
        )
    se = se_from_p(es, p)
    return EffectEstimate(es, se * se, "SMD", es, se * se, "Hedges' g as reported, SE from its two-sided p-value")


_CONVERTERS: dict[str, Callable[[_Values], EffectEstimate]] = {
    "means": _means,
    "counts_2x2": _counts,
    "odds_ratio_ci": _odds_ratio_ci,
    "risk_ratio_ci": _risk_ratio_ci,
    "t_stat": _t_stat,
    "f_stat": _f_stat,
    "correlation": _correlation,
    "es_se": _es_se,
    "es_ci": _es_ci,
    "es_p": _es_p,
}


def compute_effect(kind: str, values: Mapping[str, float | int | None]) -> EffectEstimate:
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
    converter = _CONVERTERS.get(kind)
    if converter is None:
        known = ", ".join(INPUT_KINDS)
        raise ConversionError("kind", f"unknown input kind {kind!r}; expected one of: {known}")
    return converter(values)
