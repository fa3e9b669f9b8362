"""Estimates that a study reports ready-made, with an interval, a standard error or a p.

Here live the standard error recovered from a confidence interval (`se_from_ci`, on a raw
or a log scale) or from a two-sided p-value (`se_from_p`); a ratio or an estimate with its
interval turned into a value and a variance (`ratio_from_ci`, `estimate_from_ci`); and the
converters of the input kinds "es_se", "es_ci" and "es_p", which take the reported value
to be Hedges' g already.  Sources: Cochrane Handbook v6, section 6.3; Altman & Bland
(2011, BMJ).
"""

from __future__ import annotations

import math

from scipy import stats

from .common import (
    ConversionError,
    EffectEstimate,
    Estimate,
    Inputs,
    _finite,
    _open_interval,
    _positive,
    _show,
    ci_level,
    z_critical,
)

__all__ = [
    "convert_es_ci",
    "convert_es_p",
    "convert_es_se",
    "estimate_from_ci",
    "ratio_from_ci",
    "se_from_ci",
    "se_from_p",
]


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
# Converters of the input kinds (see registry.py)
# --------------------------------------------------------------------------------------


def convert_es_se(v: Inputs) -> EffectEstimate:
    """Input kind "es_se": Hedges' g as reported, with its standard error."""
    es = v["es_value"]
    se = _positive("es_se", v["es_se"])
    return EffectEstimate(es, se * se, "SMD", es, se * se, "Hedges' g as reported, with its SE")


def convert_es_ci(v: Inputs) -> EffectEstimate:
    """Input kind "es_ci": Hedges' g with a normal confidence interval (95% unless given)."""
    est = estimate_from_ci(v["es_value"], v["ci_low"], v["ci_high"], level=ci_level(v))
    return EffectEstimate(est.yi, est.vi, "SMD", est.yi, est.vi, "Hedges' g as reported, SE from its CI")


def convert_es_p(v: Inputs) -> EffectEstimate:
    """Input kind "es_p": Hedges' g with its two-sided p-value."""
    es = v["es_value"]
    if es == 0:
        raise ConversionError(
            "es_value",
            "es_value is 0, so a p-value cannot give its standard error: "
            "report the standard error or the confidence interval instead",
        )
    se = se_from_p(es, v["p_value"])
    return EffectEstimate(es, se * se, "SMD", es, se * se, "Hedges' g as reported, SE from its two-sided p-value")
