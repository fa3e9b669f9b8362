"""EPPI-Reviewer's outcome types: what Data1…Data14 hold for each, how each becomes one of our
input kinds (studies.effect_sizes.registry), and how EPPI-Reviewer computes its own SMD from
the same numbers, so that the importer can compare and explain every difference.

The meaning of each Data field is EPPI-Reviewer's (ER4, `Server/BusinessClasses/Outcome.cs`,
`SetCalculatedValues` and `SetEffectSizes`):

| type | EPPI-Reviewer's name | Data fields | our input kind |
|---|---|---|---|
| 0 | Manual entry | 1 SMD, 2 its SE; 3 r, 4 SE of z; 5 OR, 6 SE of log OR; 7 RR, 8 SE of log RR; 11 RD, 12 SE; 13 MD, 14 SE | es_se (SMD); odds_ratio_ci (OR, its 95 % CI from the SE); correlation (r, n = 1/SE² + 3) |
| 1 | Continuous: Ns, means, and SD | 1 N₁, 2 N₂, 3 mean₁, 4 mean₂, 5 SD₁, 6 SD₂ | means |
| 2 | Binary: 2 x 2 table | 1 events₁, 2 events₂, 3 no events₁, 4 no events₂ | counts_2x2 (n = events + no events) |
| 3 | Continuous: N, Mean, and SE | 1 N₁, 2 N₂, 3 mean₁, 4 mean₂, 5 SE₁, 6 SE₂ | means (SD = SE·√n of each group) |
| 4 | Continuous: N, Mean, and CI | 1 N₁, 2 N₂, 3 mean₁, 4 mean₂, 5 lower₁, 6 lower₂, 7 upper₁, 8 upper₂ | means (SD from the CI of each group's mean) |
| 5 | Continuous: N, t- or p-value | 1 N₁, 2 N₂, 3 t, 4 p | t_stat (t; or t from a two-sided p) |
| 6 | Diagnostic test: 2 x 2 table | 1 TP, 2 FP, 3 FN, 4 TN | not an intervention effect: left out |
| 7 | Correlation coefficient r | 1 N, 2 r | correlation |

Data9 and Data10 (average cluster size and intra-cluster correlation) make EPPI-Reviewer
inflate its standard errors by the design effect; the map's conversions do not, and the
importer warns where they are given. A manual risk ratio, risk difference or mean difference
cannot be put on the g scale from what the entry holds, and is left out with a warning.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from scipy import stats

from studies.effect_sizes.common import j_approx, normal_quantile

# Data fields by type: index (1-based) -> EPPI-Reviewer's description.
TYPE_NAMES: dict[int, str] = {
    0: "Manual entry",
    1: "Continuous: Ns, means, and SD",
    2: "Binary: 2 x 2 table",
    3: "Continuous: N, Mean, and SE",
    4: "Continuous: N, Mean, and CI",
    5: "Continuous: N, t- or p-value",
    6: "Diagnostic test: 2 x 2 table",
    7: "Correlation coefficient r",
}
_GROUPS = {1: "Group 1 N", 2: "Group 2 N", 3: "Group 1 mean", 4: "Group 2 mean"}
DATA_NAMES: dict[int, dict[int, str]] = {
    0: {1: "SMD", 2: "standard error", 3: "r", 4: "SE (Z transformed)", 5: "odds ratio", 6: "SE (log OR)",
        7: "risk ratio", 8: "SE (log RR)", 11: "risk difference", 12: "standard error", 13: "mean difference",
        14: "standard error"},
    1: {**_GROUPS, 5: "Group 1 SD", 6: "Group 2 SD"},
    2: {1: "Group 1 events", 2: "Group 2 events", 3: "Group 1 no events", 4: "Group 2 no events"},
    3: {**_GROUPS, 5: "Group 1 SE", 6: "Group 2 SE"},
    4: {**_GROUPS, 5: "Group 1 CI lower", 6: "Group 2 CI lower", 7: "Group 1 CI upper", 8: "Group 2 CI upper"},
    5: {1: "Group 1 N", 2: "Group 2 N", 3: "t-value", 4: "p-value"},
    6: {1: "True positive", 2: "False positive", 3: "False negative", 4: "True negative"},
    7: {1: "group(s) size", 2: "correlation"},
}
CLUSTER_DATA = {9: "average cluster size", 10: "intra-cluster correlation"}
# The types whose SMD EPPI-Reviewer computes (0 only when the SMD was entered).
SMD_TYPES = (0, 1, 3, 4, 5)
# Below this group size the CI of a mean is read with t, not 1.96 (Cochrane Handbook 6.5.2.2).
SMALL_GROUP = 60
Z95 = 1.96  # as the Cochrane Handbook's SD = √n·(upper − lower)/3.92, and as EPPI-Reviewer


@functools.lru_cache(maxsize=128)
def _t975(df: int) -> float:
    return float(stats.t.ppf(0.975, df))


def data_label(type_id: int, index: int) -> str:
    name = DATA_NAMES.get(type_id, {}).get(index) or CLUSTER_DATA.get(index)
    return f"Data{index} ({name})" if name else f"Data{index}"


class Skip(Exception):
    """The outcome cannot become an effect size of the map (not an error in the data)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Bad(Exception):
    """The outcome's data are wrong (an error: the import stops until it is fixed)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class Mapped:
    """An outcome as one of our input kinds."""

    input_kind: str
    inputs: dict[str, float | int]
    labels: dict[str, str]  # our field -> the Data field(s) it comes from
    derived: list[str] = field(default_factory=list)  # how inputs were derived, in words (for notes)
    caveats: list[str] = field(default_factory=list)  # what a reviewer should check (warnings)


def _show(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:.6g}"


def _count(type_id: int, data: Sequence[float], index: int) -> int:
    value = data[index - 1]
    if not float(value).is_integer() or value < 0:
        raise Bad(data_label(type_id, index), f"must be a whole number of 0 or more (got {_show(value)})")
    return int(value)


def _positive(type_id: int, data: Sequence[float], index: int) -> float:
    value = data[index - 1]
    if value <= 0:
        raise Bad(data_label(type_id, index), f"must be greater than 0 (got {_show(value)})")
    return value


def _sd_from_ci(type_id: int, data: Sequence[float], low: int, high: int, n: int, group: int) -> tuple[float, str]:
    lo, hi = data[low - 1], data[high - 1]
    if not hi > lo:
        raise Bad(
            data_label(type_id, high),
            f"must be above {data_label(type_id, low)} (got {_show(lo)} to {_show(hi)})",
        )
    if n < 2:
        raise Bad(data_label(type_id, group), f"must be at least 2 (got {n})")
    if n < SMALL_GROUP:
        crit = _t975(n - 1)
        how = f"t(0.975, {n - 1}) = {crit:.4f}"
    else:
        crit, how = Z95, "1.96"
    sd = math.sqrt(n) * (hi - lo) / (2.0 * crit)
    return sd, f"SD {group} = √{n} × ({_show(hi)} − {_show(lo)}) / (2 × {how}) = {sd:.6g}"


def to_input(type_id: int, data: Sequence[float]) -> Mapped:
    """The input kind and inputs of one outcome; raises Skip or Bad."""
    label = {i: data_label(type_id, i) for i in range(1, 15)}
    if type_id == 1:
        return Mapped("means", {
            "n_1": _count(1, data, 1), "n_2": _count(1, data, 2), "mean_1": data[2], "mean_2": data[3],
            "sd_1": data[4], "sd_2": data[5],
        }, {"n_1": label[1], "n_2": label[2], "mean_1": label[3], "mean_2": label[4], "sd_1": label[5], "sd_2": label[6]})
    if type_id == 2:
        e1, e2, ne1, ne2 = (_count(2, data, i) for i in (1, 2, 3, 4))
        return Mapped("counts_2x2", {"events_1": e1, "n_1": e1 + ne1, "events_2": e2, "n_2": e2 + ne2}, {
            "events_1": label[1], "events_2": label[2],
            "n_1": f"{label[1]} + {label[3]}", "n_2": f"{label[2]} + {label[4]}",
        })
    if type_id == 3:
        n1, n2 = _count(3, data, 1), _count(3, data, 2)
        se1, se2 = _positive(3, data, 5), _positive(3, data, 6)
        sd1, sd2 = se1 * math.sqrt(n1), se2 * math.sqrt(n2)
        return Mapped(
            "means", {"n_1": n1, "n_2": n2, "mean_1": data[2], "mean_2": data[3], "sd_1": sd1, "sd_2": sd2},
            {"n_1": label[1], "n_2": label[2], "mean_1": label[3], "mean_2": label[4],
             "sd_1": f"{label[5]} × √{label[1]}", "sd_2": f"{label[6]} × √{label[2]}"},
            derived=[f"SD 1 = {_show(se1)} × √{n1} = {sd1:.6g}", f"SD 2 = {_show(se2)} × √{n2} = {sd2:.6g}"],
        )
    if type_id == 4:
        n1, n2 = _count(4, data, 1), _count(4, data, 2)
        sd1, how1 = _sd_from_ci(4, data, 5, 7, n1, 1)
        sd2, how2 = _sd_from_ci(4, data, 6, 8, n2, 2)
        return Mapped(
            "means", {"n_1": n1, "n_2": n2, "mean_1": data[2], "mean_2": data[3], "sd_1": sd1, "sd_2": sd2},
            {"n_1": label[1], "n_2": label[2], "mean_1": label[3], "mean_2": label[4],
             "sd_1": f"{label[5]} and {label[7]}", "sd_2": f"{label[6]} and {label[8]}"},
            derived=[how1, how2],
        )
    if type_id == 5:
        n1, n2 = _count(5, data, 1), _count(5, data, 2)
        labels = {"n_1": label[1], "n_2": label[2], "t_value": label[3]}
        t, p = data[2], data[3]
        if t != 0:
            return Mapped("t_stat", {"t_value": t, "n_1": n1, "n_2": n2}, labels)
        if p == 0:
            raise Skip(label[3], "neither a t-value nor a p-value is given")
        if not 0 < p < 1:
            raise Bad(label[4], f"must lie between 0 and 1 (got {_show(p)})")
        if n1 + n2 < 3:
            raise Bad(label[1], f"the groups are too small for a t-value from p ({n1} and {n2})")
        t = float(stats.t.isf(p / 2.0, n1 + n2 - 2))
        labels["t_value"] = label[4]
        return Mapped(
            "t_stat", {"t_value": t, "n_1": n1, "n_2": n2}, labels,
            derived=[f"t = {t:.6g}, from the two-sided p = {_show(p)} with {n1 + n2 - 2} df"],
            caveats=["a p-value has no sign, so the effect is taken as positive (as EPPI-Reviewer does); check its direction"],
        )
    if type_id == 7:
        return Mapped("correlation", {"r_value": data[1], "n_total": _count(7, data, 1)},
                      {"r_value": label[2], "n_total": label[1]})
    if type_id == 6:
        raise Skip("OutcomeTypeId", "a diagnostic test's 2 x 2 table measures a test's accuracy, not an effect of an intervention")
    if type_id == 0:
        return _manual(data, label)
    raise Bad("OutcomeTypeId", f"{type_id} is not an EPPI-Reviewer outcome type (0 to 7)")


def _manual(data: Sequence[float], label: dict[int, str]) -> Mapped:
    smd, se, r, se_z, odds, se_log_or = data[0], data[1], data[2], data[3], data[4], data[5]
    if smd != 0 or se != 0:
        return Mapped("es_se", {"es_value": smd, "es_se": se}, {"es_value": label[1], "es_se": label[2]})
    if odds != 0:
        odds = _positive(0, data, 5)
        se_log_or = _positive(0, data, 6)
        z = normal_quantile(0.975)
        low, high = math.exp(math.log(odds) - z * se_log_or), math.exp(math.log(odds) + z * se_log_or)
        return Mapped(
            "odds_ratio_ci", {"ratio": odds, "ci_low": low, "ci_high": high, "ci_level": 95.0},
            {"ratio": label[5], "ci_low": label[6], "ci_high": label[6], "ci_level": label[6]},
            derived=[f"95% CI {low:.6g} to {high:.6g} = exp(log OR ± 1.95996 × SE {_show(se_log_or)})"],
        )
    if r != 0:
        se_z = _positive(0, data, 4)
        n = 1.0 / (se_z * se_z) + 3.0
        derived = [f"n = 1 / SE² + 3 = {n:.6g}"]
        caveats = []
        if abs(n - round(n)) > 0.05:
            caveats.append(f"the SE of z gives n = {n:.2f}, not a whole number; rounded to {round(n)}")
        return Mapped("correlation", {"r_value": r, "n_total": round(n)}, {"r_value": label[3], "n_total": label[4]},
                      derived=derived, caveats=caveats)
    for index, why in (
        (7, "a risk ratio needs the comparison group's risk to become Hedges' g, and a manual entry does not give it"),
        (11, "a risk difference needs the groups' risks to become Hedges' g, and a manual entry does not give them"),
        (13, "a mean difference needs the standard deviation to become Hedges' g, and a manual entry does not give it"),
    ):
        if data[index - 1] != 0:
            raise Skip(label[index], why)
    raise Skip("Data1", "no effect size is entered (every Data field is 0)")


def cluster_caveat(type_id: int, data: Sequence[float]) -> str | None:
    size, icc = data[8], data[9]
    if size == 0 or type_id not in (0, 1, 2, 3, 4, 5):
        return None
    return (
        f"EPPI-Reviewer widens its standard errors for clustering (Data9, average cluster size {_show(size)}; "
        f"Data10, intra-cluster correlation {_show(icc)}); the map's standard error is not adjusted"
    )


# --------------------------------------------------------------------------------------
# EPPI-Reviewer's own SMD, to explain where ours differs
# --------------------------------------------------------------------------------------


def _pooled(n1: float, n2: float, sd1: float, sd2: float) -> float:
    if n1 + n2 < 3:
        return 0.0
    return math.sqrt(((n1 - 1) * sd1 * sd1 + (n2 - 1) * sd2 * sd2) / (n1 + n2 - 2))


def _eppi_d(n1: float, n2: float, m1: float, m2: float, sd1: float, sd2: float) -> float:
    sd = _pooled(n1, n2, sd1, sd2)
    if sd == 0:
        return 0.0
    return (m1 - m2) / sd * j_approx(n1 + n2 - 2)


def _d_from_t(t: float, n1: float, n2: float) -> float:
    return 0.0 if n1 * n2 == 0 else t * math.sqrt((n1 + n2) / (n1 * n2))


def eppi_smd(type_id: int, data: Sequence[float]) -> float | None:
    """The SMD EPPI-Reviewer computes from these numbers, by its own formulas: the approximate
    small-sample correction 1 − 3/(4N − 9); for SE and CI inputs, both groups' SDs from group
    1's size and a CI read with 1.96; for a t-value, d without correction."""
    n1, n2 = data[0], data[1]
    if type_id == 0:
        return data[0]
    if type_id == 1:
        return _eppi_d(n1, n2, data[2], data[3], data[4], data[5])
    if type_id == 3:
        root = math.sqrt(max(n1, 0.0))
        return _eppi_d(n1, n2, data[2], data[3], data[4] * root, data[5] * root)
    if type_id == 4:
        root = math.sqrt(max(n1, 0.0))
        sd1 = root * abs(0.5 * (data[6] - data[4]) / Z95)
        sd2 = root * abs(0.5 * (data[7] - data[5]) / Z95)
        return _eppi_d(n1, n2, data[2], data[3], sd1, sd2)
    if type_id == 5:
        if data[3] != 0:
            if not 0 < data[3] < 1 or n1 + n2 <= 2:
                return None
            t = float(stats.t.isf(data[3] / 2.0, n1 + n2 - 2))
            return _d_from_t(t, n1, n2) * j_approx(n1 + n2 - 2)
        return _d_from_t(data[2], n1, n2)
    return None


def smd_method_differences(type_id: int, data: Sequence[float]) -> list[str]:
    """Why our g and EPPI-Reviewer's SMD from the same numbers can differ, for this outcome."""
    n1, n2 = data[0], data[1]
    reasons = []
    if type_id in (1, 3, 4) or (type_id == 5 and data[3] != 0 and data[2] == 0):
        reasons.append("EPPI-Reviewer's small-sample correction is the approximation 1 − 3/(4N − 9); ours is exact")
    if type_id in (3, 4) and n1 != n2:
        reasons.append("EPPI-Reviewer derives group 2's SD with group 1's size")
    if type_id == 4 and min(n1, n2) < SMALL_GROUP:
        reasons.append(
            f"for groups under {SMALL_GROUP} we read a mean's CI with t (Cochrane Handbook 6.5.2.2); EPPI-Reviewer uses 1.96"
        )
    if type_id == 5 and data[2] != 0:
        if data[3] != 0:
            reasons.append("we use the t-value, which has a sign; EPPI-Reviewer uses the p-value")
        else:
            reasons.append("EPPI-Reviewer gives d from a t-value without the small-sample correction; we give g")
    return reasons
