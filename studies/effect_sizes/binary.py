"""Binary outcomes: 2x2 tables, odds ratios, risk ratios and risk differences.

Here live the effect measures of a 2x2 table (log odds ratio, log risk ratio, risk
difference; Borenstein ch. 5, metafor escalc "OR", "RR", "RD"), the conversions between
a log odds ratio and Cohen's d (Borenstein 7.1-7.4) and from a log risk ratio to a log
odds ratio given the comparison group's risk, and the converters of the input kinds
"counts_2x2", "odds_ratio_ci" and "risk_ratio_ci".  Each of those kinds reaches Hedges'
g through the log odds ratio.
"""

from __future__ import annotations

import math
from typing import Literal

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
    ci_level,
)
from .reported import ratio_from_ci

__all__ = [
    "LogOddsMethod",
    "convert_counts_2x2",
    "convert_odds_ratio_ci",
    "convert_risk_ratio_ci",
    "d_to_log_odds_ratio",
    "log_odds_ratio",
    "log_odds_ratio_to_d",
    "log_risk_ratio",
    "log_risk_ratio_to_log_odds_ratio",
    "risk_difference",
]

LogOddsMethod = Literal["logit", "normal"]

# Cox's constant for the "normal" log odds ratio <-> d conversion (metafor's OR2DN/D2ORN).
_COX_FACTOR = 1.65


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
# Converters of the input kinds (see registry.py)
# --------------------------------------------------------------------------------------


def _optional_groups(v: Inputs) -> tuple[float, float] | None:
    """Both group sizes, or neither: one alone cannot give the df of J."""
    n1 = v.optional("n_1")
    n2 = v.optional("n_2")
    if n1 is None and n2 is None:
        return None
    if n1 is None:
        raise ConversionError("n_1", "n_1 is missing: give both group sizes or neither")
    if n2 is None:
        raise ConversionError("n_2", "n_2 is missing: give both group sizes or neither")
    return _group_size("n_1", n1), _group_size("n_2", n2)


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


def convert_counts_2x2(v: Inputs) -> EffectEstimate:
    """Input kind "counts_2x2": events and sizes of both groups."""
    log_or = log_odds_ratio(v["events_1"], v["n_1"], v["events_2"], v["n_2"])
    groups = (v["n_1"], v["n_2"])
    return _from_log_odds(log_or, groups, "logOR", log_or, "log odds ratio from the 2x2 table")


def convert_odds_ratio_ci(v: Inputs) -> EffectEstimate:
    """Input kind "odds_ratio_ci": an odds ratio with its CI; group sizes optional."""
    level = ci_level(v)
    groups = _optional_groups(v)
    log_or = ratio_from_ci(v["ratio"], v["ci_low"], v["ci_high"], level=level)
    return _from_log_odds(log_or, groups, "logOR", log_or, "log odds ratio, SE from its CI")


def convert_risk_ratio_ci(v: Inputs) -> EffectEstimate:
    """Input kind "risk_ratio_ci": a risk ratio with its CI and the comparison group's risk."""
    level = ci_level(v)
    groups = _optional_groups(v)
    log_rr = ratio_from_ci(v["ratio"], v["ci_low"], v["ci_high"], level=level)
    log_or = log_risk_ratio_to_log_odds_ratio(log_rr.yi, log_rr.vi, v["baseline_risk"])
    return _from_log_odds(
        log_or, groups, "logRR", log_rr,
        "log risk ratio (SE from its CI) converted to a log odds ratio with the baseline risk",
    )
