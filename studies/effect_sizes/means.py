"""Standardized mean differences from continuous outcomes (Borenstein ch. 4).

Here live Cohen's d and Hedges' g from two groups' means and SDs, from an
independent-samples t statistic, from a two-group F(1, df) statistic, or from a d
already computed; the raw mean difference; and the converters of the input kinds
"means", "t_stat" and "f_stat".  With the defaults (exact J, vtype "LS") the numbers are
those of metafor's escalc(measure="SMD").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from .common import (
    ConversionError,
    Correction,
    EffectEstimate,
    Estimate,
    Inputs,
    _finite,
    _group_size,
    _positive,
    _show,
    small_sample_correction,
)

__all__ = [
    "SmdResult",
    "VarianceType",
    "convert_f_stat",
    "convert_means",
    "convert_t_stat",
    "d_variance",
    "mean_difference",
    "pooled_sd",
    "smd_from_d",
    "smd_from_f",
    "smd_from_means",
    "smd_from_t",
]

VarianceType = Literal["LS", "LS2", "UB"]


@dataclass(frozen=True)
class SmdResult:
    """Every step of a standardized mean difference: Cohen's d, J and Hedges' g."""

    d: float
    vd: float
    j: float
    g: float
    vg: float


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
# Converters of the input kinds (see registry.py)
# --------------------------------------------------------------------------------------


def _smd(result: SmdResult, note: str) -> EffectEstimate:
    return EffectEstimate(result.g, result.vg, "SMD", result.g, result.vg, note)


def convert_means(v: Inputs) -> EffectEstimate:
    """Input kind "means": two groups' means, SDs and sizes."""
    result = smd_from_means(
        v["mean_1"], v["sd_1"], v["n_1"], v["mean_2"], v["sd_2"], v["n_2"]
    )
    return _smd(result, "Hedges' g from means and SDs (exact J; metafor escalc SMD, vtype LS)")


def convert_t_stat(v: Inputs) -> EffectEstimate:
    """Input kind "t_stat": an independent-samples t with both group sizes."""
    result = smd_from_t(v["t_value"], v["n_1"], v["n_2"])
    return _smd(result, "Hedges' g from an independent-samples t statistic (exact J, vtype LS)")


def convert_f_stat(v: Inputs) -> EffectEstimate:
    """Input kind "f_stat": F(1, df) with both group sizes and the sign of the effect."""
    result = smd_from_f(v["f_value"], v["n_1"], v["n_2"], v["direction"])
    return _smd(result, "Hedges' g from a two-group F(1, df) statistic (exact J, vtype LS)")
