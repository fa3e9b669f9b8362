""""Why do the studies differ?": one cell's effect sizes split by a study characteristic.

The reader picks a characteristic (study design, region, study confidence, publication
year, or a code set the map offers as a filter: each study in the group of its most
specific code of the set, a study with several such codes in none). For a categorical one, each level is
pooled on its own, the way the cell itself is pooled (the map's working model and
within-study correlation when a study contributes several effect sizes, else the map's
tau² method and test), and the levels are compared: with the fixed-effect Q between
the level estimates for independent effect sizes, and with the cluster-robust (CR2)
HTZ Wald test of a meta-regression on the characteristic when studies contribute
several. Publication year is a continuous moderator: a meta-regression slope per year.

The rule for showing a comparison (``RULE``) is stated to the reader with the reason
when it is not met. Reads go through evidence.selectors; the statistics are
evidence.stats; the page and the API both take ``SubgroupView`` as it is.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from evidence import selectors
from evidence.models import EvidenceMap
from evidence.stats import (
    StatsError,
    meta_regression,
    meta_regression_clustered,
    pool_clustered,
    subgroup_analysis,
)
from evidence.stats.metareg import REGRESSION_METHODS
from evidence.stats.phrases import _, ngettext
from evidence.synthesis.cells import Cell
from evidence.synthesis.presenter import finite
from studies.models import Confidence, Region, StudyDesign

MIN_STUDIES_PER_LEVEL = 2
MIN_LEVELS = 2
MIN_STUDIES_YEAR = 3
# The cluster-robust tests (CHE meta-regression with CR2 and HTZ) work on the cell's full
# effect-size covariance, whose cost grows with the cube of k: a page computes them for cells
# of up to this many effect sizes (0.1 to 0.5 s on one core), and says so beyond.
CLUSTERED_MAX_K = 400
RULE = _(
    "Groups are compared only when at least %(levels)s groups each hold at least "
    "%(per_level)s studies with effect sizes; smaller groups are left out of the "
    "comparison. A trend over publication years needs at least %(year)s studies "
    "from at least two different years. Where studies give several effect sizes, the groups "
    "are tested for cells of up to %(max_k)s effect sizes.",
    levels=MIN_LEVELS, per_level=MIN_STUDIES_PER_LEVEL, year=MIN_STUDIES_YEAR, max_k=CLUSTERED_MAX_K,
)

BUILT_IN = (
    ("design", "Study design"),
    ("region", "Region"),
    ("confidence", "Study confidence"),
    ("year", "Publication year"),
)
BUILT_IN_FACTORS = frozenset(value for value, _ in BUILT_IN)


@dataclass(frozen=True)
class SubgroupLevel:
    label: str
    n_studies: int
    k: int
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    tau2: float | None
    included: bool = True


@dataclass(frozen=True)
class SubgroupView:
    """What the cell page and the API say about one characteristic."""

    factor: str
    factor_label: str
    choices: list[tuple[str, str]]
    rule: str
    shown: bool
    reason: str = ""
    kind: str = "subgroups"  # or "trend" (publication year)
    clustered: bool = False
    levels: list[SubgroupLevel] = field(default_factory=list)
    test: str = ""  # the test's name
    statistic: float | None = None
    df: float | None = None
    df_denom: float | None = None
    p_value: float | None = None
    slope: float | None = None
    slope_ci_low: float | None = None
    slope_ci_high: float | None = None
    text: str = ""  # the test in plain words


def factor_choices(evidence_map: EvidenceMap) -> list[tuple[str, str]]:
    """(value, label) of every characteristic the reader may choose."""
    sets = [(f"code:{tree.slug}", tree.name) for tree in selectors.code_set_trees(evidence_map, filters_only=True)]
    return [*BUILT_IN, *sets]


def _study_levels(evidence_map: EvidenceMap, factor: str, study_ids: list[int]) -> dict[int, Any]:
    """Study id -> its level (or year) for the characteristic; studies without one are absent."""
    if factor.startswith("code:"):
        slug = factor.partition(":")[2]
        tree = next(t for t in selectors.code_set_trees(evidence_map, filters_only=True) if t.slug == slug)
        coded: dict[int, set[int]] = defaultdict(set)
        for study_id, code_id in selectors.study_codes(study_ids, tree.id):
            if code_id in tree.codes:
                coded[study_id].add(code_id)
        by_code: dict[int, Any] = {}
        for study_id, ids in coded.items():
            # Its most specific codes (a code that is an ancestor of another of its codes says
            # less); a study with several of them belongs to no single group.
            broader = {a for code_id in ids for a in tree.codes[code_id].ancestors[:-1]}
            specific = ids - broader
            if len(specific) == 1:
                by_code[study_id] = tree.codes[specific.pop()].name
        return by_code
    values = selectors.study_characteristics(study_ids)
    labels: dict[str, dict[str, str]] = {
        "design": dict(StudyDesign.choices),
        "region": dict(Region.choices),
        "confidence": dict(Confidence.choices),
    }
    out: dict[int, Any] = {}
    for sid, row in values.items():
        value = row[factor]
        if value in (None, ""):
            continue
        out[sid] = value if factor == "year" else str(labels[factor].get(value, value))
    return out


def explain_cell(evidence_map: EvidenceMap, cell: Cell, factor: str | None) -> SubgroupView | None:
    """The comparison of the cell's studies by ``factor`` (default: study design), or None
    when the cell was not pooled (no effect sizes, or the reason it gives). An unknown factor
    falls back to the default. The effect sizes are taken as the cell pooled them (oriented
    for an aggregate, see membership)."""
    if cell.result is None:
        return None
    choices = factor_choices(evidence_map)
    names = dict(choices)
    factor = factor if factor in names else "design"
    base = {"factor": factor, "factor_label": names[factor], "choices": choices, "rule": RULE}
    level_of = _study_levels(evidence_map, factor, sorted(set(cell.clusters.tolist())))
    keep = np.isin(cell.clusters, np.fromiter(level_of, dtype=np.int64, count=len(level_of))) & (cell.vi > 0)
    cluster, yi, vi = cell.clusters[keep], cell.yi[keep], cell.vi[keep]
    clustered = bool(cluster.size) and np.unique(cluster).size < cluster.size
    if factor == "year":
        return _trend(evidence_map, base, yi, vi, cluster, level_of, clustered)
    return _subgroups(evidence_map, base, yi, vi, cluster, level_of, clustered)


def _pool_level(evidence_map: EvidenceMap, yi: Any, vi: Any, cluster: Any) -> Any:
    return pool_clustered(
        yi, vi, cluster, rho=evidence_map.within_study_correlation,
        method=evidence_map.pooling_method, test=evidence_map.pooling_test,
    )


def _subgroups(
    evidence_map: EvidenceMap, base: dict[str, Any], yi: Any, vi: Any, cluster: Any,
    level_of: dict[int, Any], clustered: bool,
) -> SubgroupView:
    groups = np.array([level_of[int(sid)] for sid in cluster.tolist()], dtype=object)
    levels: list[SubgroupLevel] = []
    usable: list[Hashable] = []
    for label in sorted(set(groups.tolist())):
        rows = groups == label
        n_studies = int(np.unique(cluster[rows]).size)
        if n_studies < MIN_STUDIES_PER_LEVEL:
            levels.append(SubgroupLevel(str(label), n_studies, int(rows.sum()), None, None, None, None, False))
            continue
        res = _pool_level(evidence_map, yi[rows], vi[rows], cluster[rows])
        levels.append(SubgroupLevel(
            str(label), n_studies, int(rows.sum()), finite(res.estimate), finite(res.ci_low),
            finite(res.ci_high), finite(res.tau2),
        ))
        usable.append(label)
    if len(usable) < MIN_LEVELS:
        return SubgroupView(
            **base, shown=False, clustered=clustered, levels=levels,
            reason=ngettext(
                "Not enough data to compare groups by %(factor)s: %(count)s group with at least "
                "%(per_level)s studies, and a comparison needs %(levels)s.",
                "Not enough data to compare groups by %(factor)s: %(count)s groups with at least "
                "%(per_level)s studies, and a comparison needs %(levels)s.",
                len(usable), factor=_(base["factor_label"].lower()), per_level=MIN_STUDIES_PER_LEVEL, levels=MIN_LEVELS,
            ),
        )
    keep = np.isin(groups, np.array(usable, dtype=object))
    name = _(base["factor_label"].lower())
    if clustered and int(keep.sum()) > CLUSTERED_MAX_K:
        return SubgroupView(**base, shown=False, clustered=clustered, levels=levels, reason=_too_big(int(keep.sum())))
    try:
        if clustered:
            reg = meta_regression_clustered(
                yi[keep], vi[keep], cluster[keep], list(groups[keep]), categorical=True,
                rho=evidence_map.within_study_correlation,
            )
            test = _("HTZ Wald test with cluster-robust (CR2) standard errors")
            stat, df, df_denom, p = reg.wald_f, float(reg.wald_df_num), reg.wald_df_denom, reg.wald_p
            stat_text = f"F({reg.wald_df_num}, {reg.wald_df_denom:.1f}) = {stat:.2f}"
        else:
            sub = subgroup_analysis(yi[keep], vi[keep], list(groups[keep]), method=evidence_map.pooling_method)
            test = _("test of subgroup differences (Q between groups)")
            stat, df, df_denom, p = sub.q_between, float(sub.df), None, sub.p_value
            stat_text = _("Q = %(q)s on %(df)s df", q=f"{stat:.2f}", df=sub.df)
    except StatsError as error:
        return SubgroupView(**base, shown=False, clustered=clustered, levels=levels,
                            reason=_("The groups could not be compared: %(error)s", error=str(error)))
    if p < 0.05:
        text = _(
            "The groups differ: %(statistic)s, p = %(p)s. The effect appears to depend on %(name)s; this is an "
            "observational comparison between studies, not proof of cause.",
            statistic=stat_text, p=_p_text(p), name=name,
        )
    else:
        text = _(
            "No clear difference between the groups: %(statistic)s, p = %(p)s. The data do not show that the "
            "effect depends on %(name)s; with few studies a real difference can go undetected.",
            statistic=stat_text, p=_p_text(p), name=name,
        )
    return SubgroupView(
        **base, shown=True, clustered=clustered, levels=levels, test=test, statistic=finite(stat),
        df=df, df_denom=finite(df_denom), p_value=finite(p), text=text,
    )


def _trend(
    evidence_map: EvidenceMap, base: dict[str, Any], yi: Any, vi: Any, cluster: Any,
    level_of: dict[int, Any], clustered: bool,
) -> SubgroupView:
    years = np.array([float(level_of[int(sid)]) for sid in cluster.tolist()])
    n_studies = int(np.unique(cluster).size)
    if n_studies < MIN_STUDIES_YEAR or np.unique(years).size < 2:
        return SubgroupView(
            **base, kind="trend", shown=False, clustered=clustered,
            reason=_(
                "Not enough data for a trend over publication years: %(studies)s studies with a "
                "year, in %(years)s different year(s).",
                studies=n_studies, years=int(np.unique(years).size),
            ),
        )
    centred = years - float(np.round(years.mean()))
    if clustered and yi.size > CLUSTERED_MAX_K:
        return SubgroupView(**base, kind="trend", shown=False, clustered=clustered, reason=_too_big(int(yi.size)))
    try:
        if clustered:
            reg = meta_regression_clustered(
                yi, vi, cluster, centred, rho=evidence_map.within_study_correlation
            )
            slope, low, high = float(reg.b[1]), float(reg.ci_low[1]), float(reg.ci_high[1])
            p, stat, df = float(reg.p_value[1]), float(reg.statistic[1]), float(reg.df[1])
            test = _("meta-regression with cluster-robust (CR2) t test")
        else:
            method = evidence_map.pooling_method if evidence_map.pooling_method in REGRESSION_METHODS else "REML"
            test_name = "knha" if evidence_map.pooling_test == "knha" else "z"
            fit = meta_regression(yi, vi, centred, method=method, test=test_name)
            slope, low, high = float(fit.b[1]), float(fit.ci_low[1]), float(fit.ci_high[1])
            p, stat = float(fit.p_value[1]), float(fit.statistic[1])
            df = fit.df if fit.df is not None else math.nan
            test = _("meta-regression (%(method)s, %(test)s test)", method=method,
                     test="Knapp-Hartung" if test_name == "knha" else "z")
    except StatsError as error:
        return SubgroupView(**base, kind="trend", shown=False, clustered=clustered,
                            reason=_("The trend could not be estimated: %(error)s", error=str(error)))
    per_decade = 10 * slope
    numbers = {"g": f"{per_decade:+.3f}", "low": f"{10 * low:+.3f}", "high": f"{10 * high:+.3f}", "p": _p_text(p)}
    if p < 0.05:
        text = _(
            "Each ten years later, the effect changes by g = %(g)s (95%% CI %(low)s to %(high)s), p = %(p)s. "
            "Newer studies report different effects from older ones.", **numbers,
        )
    else:
        text = _(
            "Each ten years later, the effect changes by g = %(g)s (95%% CI %(low)s to %(high)s), p = %(p)s. "
            "The data do not show that newer studies report different effects.", **numbers,
        )
    return SubgroupView(
        **base, kind="trend", shown=True, clustered=clustered, test=test, statistic=finite(stat),
        df=finite(df), p_value=finite(p), slope=slope, slope_ci_low=low, slope_ci_high=high, text=text,
    )


def _too_big(k: int) -> str:
    return _(
        "The cluster-robust test is run for cells of up to %(max_k)s effect sizes; this comparison "
        "has %(k)s. Narrow the map with its filters to compare these studies.", max_k=CLUSTERED_MAX_K, k=k,
    )


def _p_text(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def subgroup_record(view: SubgroupView | None) -> dict[str, Any] | None:
    """The comparison as the API returns it."""
    if view is None:
        return None
    data = asdict(view)
    data["choices"] = [{"value": value, "name": label} for value, label in view.choices]
    return data


def subgroup_plot(view: SubgroupView | None) -> dict[str, Any] | None:
    """The data of the subgroup forest plot (the levels that were pooled), or None."""
    if view is None or not view.shown or view.kind != "subgroups":
        return None
    return {
        "factor": view.factor_label,
        "levels": [
            {"label": lv.label, "g": lv.estimate, "ci": [lv.ci_low, lv.ci_high], "studies": lv.n_studies, "k": lv.k}
            for lv in view.levels if lv.included
        ],
    }
