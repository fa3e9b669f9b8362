"""Correlations, Fisher's z, and the conversions between r and Cohen's d.

Here live r with its variance (metafor "COR"), Fisher's z (metafor "ZCOR", the scale on
which correlations are best pooled; Borenstein ch. 6), the two-way conversion between r
and d (Borenstein ch. 7), and the converter of the input kind "correlation".
"""

from __future__ import annotations

import math

from .common import (
    ConversionError,
    EffectEstimate,
    Estimate,
    Inputs,
    _finite,
    _g_from_d,
    _group_size,
    _open_interval,
    _positive,
    _show,
    _whole,
)

__all__ = [
    "convert_correlation",
    "correlation",
    "d_to_r",
    "fisher_z",
    "fisher_z_to_r",
    "r_to_d",
]


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
# Converter of the input kind (see registry.py)
# --------------------------------------------------------------------------------------


def convert_correlation(v: Inputs) -> EffectEstimate:
    """Input kind "correlation": r and the total sample size; native metric Fisher's z."""
    z = fisher_z(v["r_value"], v["n_total"])
    d = r_to_d(v["r_value"], correlation(v["r_value"], v["n_total"]).vi)
    g, vg = _g_from_d(d, v["n_total"] - 2.0)
    return EffectEstimate(
        g, vg, "ZCOR", z.yi, z.vi,
        f"d = 2r/√(1 - r²); small-sample correction J with {_show(v['n_total'] - 2.0)} df",
    )
