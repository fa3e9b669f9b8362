"""Synthetic evidence maps of a chosen size, for benchmarks and tests (`manage.py generate_map`).

`generate_map` writes one published map with a two-level framework, studies, their coding,
appraisal and effect sizes, all in one transaction. The same seed gives the same rows
(database ids and timestamps aside): every random draw is made first by `plan_map`, which
touches no database, from one `random.Random(seed)`.

What the data look like, and why:

* **Cells are heavy-tailed.** A study's first cell is drawn from a popularity over the leaf
  cells (`_cell_popularity`): a power-law head of "hub" cells with a steep edge, plus a
  thin even spread over the whole grid. Real maps look like that: a few topics with a
  lot of evidence, many gaps, and most non-empty cells with one to three studies. With
  20,000 studies and 100,000 effect sizes on the default grid the busiest leaf cell holds
  about 1,500 effect sizes, nearly 300 cells hold 100 or more, about 60 % of the non-empty
  cells hold one to three studies and about a quarter of the cells are empty.
* **Studies** report 1 to 20 effect sizes (a log-normal "richness" shares out the total),
  usually for one intervention and one or more of its outcomes, sometimes for a sibling
  intervention too; about 10 % are coded but report none (qualitative studies). About 5 %
  are drafts; about 70 % carry a study confidence with its appraisal items.
* **Code sets**: a nested "Setting" (offered as a filter) and a flat "Population group" (which
  segments the bubbles); about 85 % and 75 % of the studies are coded in them, with one or
  two codes each. Their draws come from a second random stream, so that everything else is
  the same as without them.
* **Effect sizes** use every input kind of the registry, with inputs made from a plausible
  effect (the cell's typical effect, the study's deviation, sampling error from the group
  sizes) and rounded as reports round them; for "lower is better" outcomes a beneficial
  effect is negative.

Writes: the map and its framework go through `evidence.services.framework_save`, the
audited write. Studies, appraisal items and effect sizes are built in memory and each is
validated by the model's `full_clean()`: field validators and choices, `clean()`, and so
for an effect size the conversion of its input to Hedges' g through the registry, exactly
as `studies.services.save_validated` runs it. Two parts are left to the database, which
checks them on insert, because each costs a query per row: the foreign keys' existence
(the rows they point to were created a moment before, in the same transaction) and
`validate_constraints()` (the model's check and unique constraints are the database's).
Then the rows are inserted in bulk (`_insert`). Generated rows have no history: see
`generate_map`.
"""

from __future__ import annotations

import math
import random
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Model

from evidence import versions
from evidence.models import Code, CodeSet, Direction, EvidenceMap, Intervention, Outcome
from evidence.services import framework_save
from interchange.dbstats import refresh_statistics
from interchange.generate_words import (
    APPRAISAL_NOTES,
    ARMS,
    COUNTRIES,
    DELIVERERS,
    INTERVENTION_VOCABULARY,
    OUTCOME_VOCABULARY,
    POPULATIONS,
    REGION_WEIGHTS,
    SOURCES,
    SUBGROUPS,
    SURNAMES,
    THEMES,
    TIMINGS,
)
from studies.models import (
    AppraisalCriterion,
    AppraisalItem,
    AppraisalRating,
    EffectSize,
    Status,
    Study,
    StudyDesign,
    region_for,
)
from studies.services import delete_recorded

__all__ = [
    "GENERATED_MARKER",
    "MAX_EFFECTS_PER_STUDY",
    "CellCount",
    "GenerateError",
    "MapSummary",
    "Plan",
    "generate_map",
    "plan_map",
    "summarise_map",
]

MAX_EFFECTS_PER_STUDY = 20
# The first words of a generated map's description: --replace deletes only such maps.
GENERATED_MARKER = "**Synthetic data** made by `manage.py generate_map`"
BATCH_SIZE = 2000

QUALITATIVE_SHARE = 0.10
DRAFT_SHARE = 0.05
APPRAISED_SHARE = 0.70
YEARS = (1990, 2025)
# Leaf-cell popularity (see _cell_popularity) and how unevenly studies report effect sizes.
POPULARITY_EXPONENT = 0.3
POPULARITY_CUTOFF = 0.12
POPULARITY_SHARPNESS = 3.0
POPULARITY_BACKGROUND = 0.05
RICHNESS_SIGMA = 0.7


_H = Direction.HIGHER.value


class GenerateError(Exception):
    """A request that cannot be carried out (bad sizes, a slug that is taken)."""


# --------------------------------------------------------------------------------------
# What the studies look like (the words are in interchange.generate_words)
# --------------------------------------------------------------------------------------


# design: weight among studies with effect sizes; phrase used in titles and abstracts.
QUANTITATIVE_DESIGNS: dict[str, tuple[int, str]] = {
    StudyDesign.RCT.value: (36, "a randomised controlled trial"),
    StudyDesign.DID.value: (18, "a difference-in-differences analysis"),
    StudyDesign.MATCHING.value: (10, "propensity score matching"),
    StudyDesign.OTHER_QED.value: (9, "a quasi-experimental comparison"),
    StudyDesign.IV.value: (6, "an instrumental variables analysis"),
    StudyDesign.RDD.value: (5, "a regression discontinuity design"),
    StudyDesign.ITS.value: (5, "an interrupted time series"),
    StudyDesign.MIXED.value: (6, "a mixed-methods evaluation"),
    StudyDesign.SYSTEMATIC_REVIEW.value: (2, "a systematic review of trials"),
    StudyDesign.OTHER.value: (3, "a before-and-after comparison"),
}
QUALITATIVE_DESIGNS: dict[str, tuple[int, str]] = {
    StudyDesign.QUALITATIVE.value: (80, "in-depth interviews and focus groups"),
    StudyDesign.MIXED.value: (20, "a mixed-methods process evaluation"),
}

# input kind: share of studies that report mainly in that form.
KIND_WEIGHTS: dict[str, int] = {
    "means": 24, "es_se": 14, "es_ci": 10, "counts_2x2": 10, "odds_ratio_ci": 10,
    "t_stat": 8, "risk_ratio_ci": 6, "correlation": 6, "f_stat": 5, "es_p": 7,
}


# Ratings by study confidence: (yes, partly, no, unclear, not applicable).
RATING_WEIGHTS: dict[str, tuple[int, int, int, int, int]] = {
    "high": (70, 20, 2, 5, 3),
    "medium": (40, 35, 10, 10, 5),
    "low": (18, 30, 30, 17, 5),
}
RATINGS = [
    AppraisalRating.YES.value, AppraisalRating.PARTLY.value, AppraisalRating.NO.value,
    AppraisalRating.UNCLEAR.value, AppraisalRating.NOT_APPLICABLE.value,
]
CRITERIA = [c.value for c in AppraisalCriterion]


# The code sets: (name, slug, offered as a filter, segments the bubbles, share of studies
# coded, [(code, children)]).
CODE_SETS: list[tuple[str, str, bool, bool, float, list[tuple[str, list[str]]]]] = [
    ("Setting", "setting", True, False, 0.85, [
        ("Urban", ["Capital city", "Secondary cities", "Informal settlements"]),
        ("Rural", ["Villages", "Remote areas"]),
        ("Peri-urban", []),
    ]),
    ("Population group", "population-group", False, True, 0.75, [
        ("Women and girls", []), ("Children and youth", []), ("People with disabilities", []),
        ("Refugees and displaced people", []), ("Older people", []), ("General population", []),
    ]),
]


def _flat_codes() -> list[tuple[int, str, int | None]]:
    """Every code: (code set index, name, index of its parent or None), parents first."""
    out: list[tuple[int, str, int | None]] = []
    for set_index, (_, _, _, _, _, tree) in enumerate(CODE_SETS):
        for code, children in tree:
            parent = len(out)
            out.append((set_index, code, None))
            out.extend((set_index, child, parent) for child in children)
    return out


CODES = _flat_codes()


def _plan_codes(seed: int, studies: int) -> list[list[int]]:
    """Each study's codes (indexes into CODES), from their own random stream: one or two codes
    of each set for most studies, at any level of the tree."""
    rnd = random.Random(f"{seed}:codes")
    by_set = [[i for i, (s, _, _) in enumerate(CODES) if s == set_index] for set_index in range(len(CODE_SETS))]
    out: list[list[int]] = []
    for _ in range(studies):
        codes: set[int] = set()
        for set_index, (_, _, _, _, share, _) in enumerate(CODE_SETS):
            if rnd.random() < share:
                codes.update(rnd.sample(by_set[set_index], 1 if rnd.random() < 0.8 else 2))
        out.append(sorted(codes))
    return out


# --------------------------------------------------------------------------------------
# The plan: every random draw, no database
# --------------------------------------------------------------------------------------


@dataclass
class Plan:
    """Everything `generate_map` writes, as plain values (leaf rows and columns by index)."""

    slug: str
    seed: int
    rows: tuple[int, int]
    columns: tuple[int, int]
    # (name, description, [(child name, child description)])
    interventions: list[tuple[str, str, list[tuple[str, str]]]]
    # (name, description, [(child name, child description, desirable direction)])
    outcomes: list[tuple[str, str, list[tuple[str, str, str]]]]
    studies: list[dict[str, Any]] = field(default_factory=list)
    # per study: its leaf rows and leaf columns (the study is coded with each)
    codings: list[tuple[list[int], list[int]]] = field(default_factory=list)
    # per study: (criterion, rating, note)
    appraisals: list[list[tuple[str, str, str]]] = field(default_factory=list)
    # (study index, leaf row, leaf column, EffectSize field values)
    effects: list[tuple[int, int, int, dict[str, Any]]] = field(default_factory=list)
    # per study: its codes, as indexes into CODES
    study_codes: list[list[int]] = field(default_factory=list)


def _numbered(names: Sequence[str], count: int, prefix: str) -> list[str]:
    return [names[i] if i < len(names) else f"{prefix} {i + 1}" for i in range(count)]


def _framework(rows: tuple[int, int], columns: tuple[int, int]) -> tuple[
    list[tuple[str, str, list[tuple[str, str]]]], list[tuple[str, str, list[tuple[str, str, str]]]]
]:
    interventions = []
    categories = _numbered([c for c, _ in INTERVENTION_VOCABULARY], rows[0], "Intervention category")
    for i, category in enumerate(categories):
        known = INTERVENTION_VOCABULARY[i][1] if i < len(INTERVENTION_VOCABULARY) else []
        children = _numbered(known, rows[1], f"{category}: programme")
        interventions.append((
            category, f"Programmes of the category “{category.lower()}”.",
            [(child, f"Studies of {child.lower()}.") for child in children],
        ))
    outcomes = []
    groups = _numbered([g for g, _ in OUTCOME_VOCABULARY], columns[0], "Outcome group")
    for i, group in enumerate(groups):
        vocabulary = OUTCOME_VOCABULARY[i][1] if i < len(OUTCOME_VOCABULARY) else []
        names = _numbered([o for o, _ in vocabulary], columns[1], f"{group}: outcome")
        directions = [d for _, d in vocabulary] + [_H] * columns[1]
        outcomes.append((
            group, f"Outcomes of the group “{group.lower()}”.",
            [(name, f"Measures of {name.lower()}.", directions[j]) for j, name in enumerate(names)],
        ))
    return interventions, outcomes


def _cell_popularity(rnd: random.Random, rows: tuple[int, int], columns: tuple[int, int]) -> list[float]:
    """Probability of each leaf cell (row-major) being a study's first cell.

    Cells are ranked by a score (category and row effects, group and column effects, and
    noise, so that busy cells cluster in rows and columns as in real maps). A cell of rank r
    among n gets r^-0.3 · exp(-(r / 0.12n)^3): a power-law head of a few hundred "hub"
    cells with a steep edge. Mixed in, 5 % of first cells are spread evenly over the grid:
    the scattered studies of neglected topics that make most non-empty cells small.
    """
    n_rows, n_cols = rows[0] * rows[1], columns[0] * columns[1]
    category = [rnd.gauss(0, 0.6) for _ in range(rows[0])]
    group = [rnd.gauss(0, 0.4) for _ in range(columns[0])]
    row_score = [category[r // rows[1]] + rnd.gauss(0, 0.8) for r in range(n_rows)]
    col_score = [group[c // columns[1]] + rnd.gauss(0, 0.6) for c in range(n_cols)]
    score = [row_score[r] + col_score[c] + rnd.gauss(0, 0.8) for r in range(n_rows) for c in range(n_cols)]
    n = len(score)
    cutoff = POPULARITY_CUTOFF * n
    hubs = [0.0] * n
    for rank, cell in enumerate(sorted(range(n), key=lambda k: -score[k]), start=1):
        hubs[cell] = rank**-POPULARITY_EXPONENT * math.exp(-((rank / cutoff) ** POPULARITY_SHARPNESS))
    total = sum(hubs)
    return [(1.0 - POPULARITY_BACKGROUND) * w / total + POPULARITY_BACKGROUND / n for w in hubs]


def _effect_counts(rnd: random.Random, studies: int, effect_sizes: int) -> list[int]:
    """Effect sizes per study: 0 for the studies without (about 10 %), else 1 to 20, summing
    to `effect_sizes` exactly."""
    quantitative = studies - round(QUALITATIVE_SHARE * studies)
    quantitative = max(quantitative, math.ceil(effect_sizes / MAX_EFFECTS_PER_STUDY))
    quantitative = min(quantitative, effect_sizes, studies)
    counts = [0] * studies
    which = rnd.sample(range(studies), quantitative)
    richness = [rnd.lognormvariate(0, RICHNESS_SIGMA) for _ in which]
    extra = [0] * quantitative
    cap = MAX_EFFECTS_PER_STUDY - 1
    to_share = effect_sizes - quantitative
    while to_share:
        open_ = [i for i in range(quantitative) if extra[i] < cap]
        cumulative = _cumulative([richness[i] for i in open_])
        for pick in rnd.choices(open_, cum_weights=cumulative, k=to_share):
            extra[pick] += 1
        to_share = sum(max(0, e - cap) for e in extra)
        extra = [min(e, cap) for e in extra]
    for study, e in zip(which, extra, strict=True):
        counts[study] = 1 + e
    return counts


def _cumulative(weights: Iterable[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def _round_down(x: float, decimals: int) -> float:
    scale = 10.0**decimals
    return math.floor(x * scale) / scale


def _round_up(x: float, decimals: int) -> float:
    scale = 10.0**decimals
    return math.ceil(x * scale) / scale


def _reported_interval(estimate: float, low: float, high: float, decimals: int) -> tuple[float, float, float]:
    """An estimate and its interval as a report prints them: the interval rounded outwards,
    so that it still contains the rounded estimate and is never empty."""
    est = round(estimate, decimals)
    lo = min(_round_down(low, decimals), est)
    hi = max(_round_up(high, decimals), est)
    if hi <= lo:
        hi = lo + 10.0**-decimals
    return est, lo, hi


def _ratio_interval(log_ratio: float, se: float, z: float) -> tuple[float, float, float]:
    low = math.exp(log_ratio - z * se)
    decimals = max(2, 1 - math.floor(math.log10(low)))  # keep two significant digits of a small bound
    return _reported_interval(math.exp(log_ratio), low, math.exp(log_ratio + z * se), decimals)


_LOGIT = math.pi / math.sqrt(3.0)
_Z = {95.0: 1.959963984540054, 90.0: 1.6448536269514722, 99.0: 2.5758293035489004}


def _ci_level(rnd: random.Random) -> float | None:
    """Most reports give a 95 % interval and say nothing; some give 90 % or 99 %."""
    u = rnd.random()
    return None if u < 0.7 else 95.0 if u < 0.8 else 90.0 if u < 0.93 else 99.0


def _inputs(rnd: random.Random, kind: str, g: float, n_1: int, n_2: int) -> dict[str, Any]:
    """The reported inputs of one effect size of kind `kind` whose observed effect is about g."""
    se = math.sqrt(1.0 / n_1 + 1.0 / n_2 + g * g / (2.0 * (n_1 + n_2)))
    if kind == "means":
        base = rnd.uniform(10.0, 100.0)
        sd_2 = base * rnd.uniform(0.15, 0.5)
        sd_1 = sd_2 * rnd.uniform(0.85, 1.15)
        pooled = math.sqrt(((n_1 - 1) * sd_1**2 + (n_2 - 1) * sd_2**2) / (n_1 + n_2 - 2))
        return {
            "mean_1": round(base + g * pooled, 2), "sd_1": round(sd_1, 2), "n_1": n_1,
            "mean_2": round(base, 2), "sd_2": round(sd_2, 2), "n_2": n_2,
        }
    if kind == "counts_2x2":
        p_2 = rnd.uniform(0.08, 0.6)
        odds_1 = p_2 / (1.0 - p_2) * math.exp(g * _LOGIT)
        p_1 = odds_1 / (1.0 + odds_1)
        return {"events_1": round(p_1 * n_1), "n_1": n_1, "events_2": round(p_2 * n_2), "n_2": n_2}
    if kind in ("odds_ratio_ci", "risk_ratio_ci"):
        level = _ci_level(rnd)
        z = _Z[level or 95.0]
        values: dict[str, Any] = {"ci_level": level}
        if rnd.random() < 0.5:
            values.update(n_1=n_1, n_2=n_2)
        if kind == "odds_ratio_ci":
            values["ratio"], values["ci_low"], values["ci_high"] = _ratio_interval(g * _LOGIT, se * _LOGIT, z)
            return values
        p_0 = round(rnd.uniform(0.05, 0.5), 3)
        odds_1 = p_0 / (1.0 - p_0) * math.exp(g * _LOGIT)
        p_1 = min(odds_1 / (1.0 + odds_1), 0.9)
        se_log_rr = math.sqrt((1.0 - p_1) / (p_1 * n_1) + (1.0 - p_0) / (p_0 * n_2))
        values["ratio"], values["ci_low"], values["ci_high"] = _ratio_interval(math.log(p_1 / p_0), se_log_rr, z)
        values["baseline_risk"] = p_0
        return values
    if kind in ("t_stat", "f_stat"):
        t = g / math.sqrt(1.0 / n_1 + 1.0 / n_2)
        if kind == "t_stat":
            return {"t_value": round(t, 2), "n_1": n_1, "n_2": n_2}
        return {"f_value": round(t * t, 2), "n_1": n_1, "n_2": n_2, "direction": 1 if t >= 0 else -1}
    if kind == "correlation":
        r = g / math.sqrt(g * g + (n_1 + n_2) ** 2 / (n_1 * n_2))
        return {"r_value": max(-0.99, min(0.99, round(r, 3))), "n_total": n_1 + n_2}
    if kind == "es_se":
        return {"es_value": round(g, 3), "es_se": max(0.001, round(se, 3))}
    if kind == "es_ci":
        level = _ci_level(rnd)
        z = _Z[level or 95.0]
        es, low, high = _reported_interval(g, g - z * se, g + z * se, 3)
        return {"es_value": es, "ci_low": low, "ci_high": high, "ci_level": level}
    if kind == "es_p":
        es = round(g, 3) or math.copysign(0.001, g)
        p = math.erfc(abs(es) / se / math.sqrt(2.0))
        return {"es_value": es, "p_value": min(0.999, max(0.001, round(p, 3)))}
    raise ValueError(f"no generator for the input kind {kind!r}")


def _countries(rnd: random.Random) -> tuple[list[str], bool, str]:
    """Countries, is_global and the place words for the title."""
    regions = list(REGION_WEIGHTS)
    weights = list(REGION_WEIGHTS.values())

    def one(region: str) -> tuple[str, str]:
        options = COUNTRIES[region]
        # earlier countries are studied more often
        return options[min(int(rnd.expovariate(1.0 / (len(options) / 4))), len(options) - 1)]

    u = rnd.random()
    if u < 0.03:
        return [], True, "low- and middle-income countries"
    region = rnd.choices(regions, weights=weights)[0]
    if u < 0.13:
        chosen: dict[str, str] = {}
        for _ in range(rnd.randint(2, 6)):
            code, name = one(region if rnd.random() < 0.6 else rnd.choices(regions, weights=weights)[0])
            chosen[code] = name
        if len(chosen) > 1:
            return sorted(chosen), False, f"{len(chosen)} countries"
        code, name = next(iter(chosen.items()))
        return [code], False, name
    code, name = one(region)
    return [code], False, name


def _authors(rnd: random.Random) -> str:
    k = rnd.choices([1, 2, 3, 4, 5, 6], weights=[12, 25, 28, 18, 10, 7])[0]
    names = rnd.sample(SURNAMES, k)
    return "; ".join(f"{name}, {rnd.choice('ABCDEFGHJKLMNOPRSTWY')}." for name in names)


def _year(rnd: random.Random) -> int:
    """1990 to 2025, with the evidence growing over time."""
    span = YEARS[1] - YEARS[0]
    return YEARS[1] - min(span, int(rnd.expovariate(1.0 / 7.0)))


def _title(rnd: random.Random, intervention: str, outcome: str, design: str, place: str,
           population: str, *, qualitative: bool) -> str:
    i, o = intervention.lower(), outcome.lower()
    if qualitative:
        templates = [
            f"Experiences of {i} among {population.lower()} in {place}: a qualitative study",
            f"How {i} work: perceptions of {o} in {place}",
            f"Implementing {i} in {place}: a process evaluation",
        ]
    else:
        templates = [
            f"{intervention} and {o}: evidence from {design} in {place}",
            f"Do {i} change {o}? Evidence from {place}",
            f"The effects of {i} on {o} among {population.lower()} in {place}",
            f"{intervention} at scale: {design} of impacts on {o} in {place}",
            f"Long-run impacts of {i} on {o} in {place}",
            f"What works for {o}? {intervention} in {place}",
        ]
    return rnd.choice(templates)


def _abstract(rnd: random.Random, intervention: str, outcomes: list[str], design: str, place: str,
              population: str, n: int, finding: str) -> str:
    sentences = [
        f"This study evaluates {intervention.lower()} delivered by {rnd.choice(DELIVERERS)} to "
        f"{population.lower()} in {place}.",
        f"We use {design} with {n:,} participants followed for {rnd.choice([6, 12, 18, 24, 36, 60])} months.",
        f"Outcomes include {', '.join(o.lower() for o in outcomes)}.",
        finding,
        f"We also examine {rnd.choice(THEMES)} and {rnd.choice(THEMES)}.",
    ]
    return " ".join(sentences)


def _finding(g: float, outcome: str, higher_is_better: bool) -> str:
    size = abs(g)
    if size < 0.05:
        return f"We find no detectable effect on {outcome.lower()}."
    words = "small" if size < 0.2 else "moderate" if size < 0.5 else "large"
    good = (g > 0) == higher_is_better
    return f"The programme had a {words} {'beneficial' if good else 'adverse'} effect on {outcome.lower()}."


@dataclass(frozen=True)
class _Grid:
    """The leaf cells a study can be coded with, and what the plan knows about each."""

    children_per_category: int
    row_names: list[str]
    col_names: list[str]
    higher: list[bool]  # per leaf column: is higher better?
    popularity: list[float]  # per leaf cell, row-major
    benefit: list[float]  # per leaf cell: the typical beneficial effect (as g)

    @property
    def n_cols(self) -> int:
        return len(self.col_names)


KINDS = list(KIND_WEIGHTS)
KIND_CUMULATIVE = _cumulative(KIND_WEIGHTS.values())


def plan_map(
    slug: str, *, studies: int, effect_sizes: int, rows: tuple[int, int] = (10, 6),
    columns: tuple[int, int] = (8, 5), seed: int = 0,
) -> Plan:
    """Every value of the map to write, from the seed alone (no database)."""
    rnd = random.Random(seed)
    interventions, outcomes = _framework(rows, columns)
    popularity = _cell_popularity(rnd, rows, columns)
    grid = _Grid(
        children_per_category=rows[1],
        row_names=[child for _, _, children in interventions for child, _ in children],
        col_names=[child for _, _, children in outcomes for child, _, _ in children],
        higher=[d == _H for _, _, children in outcomes for _, _, d in children],
        popularity=popularity,
        benefit=[rnd.gauss(0.10, 0.12) for _ in popularity],
    )
    counts = _effect_counts(rnd, studies, effect_sizes)
    drafts = set(rnd.sample(range(studies), round(DRAFT_SHARE * studies)))
    first_cells = rnd.choices(range(len(popularity)), cum_weights=_cumulative(popularity), k=studies)
    plan = Plan(slug=slug, seed=seed, rows=rows, columns=columns, interventions=interventions, outcomes=outcomes)
    for s in range(studies):
        _plan_study(rnd, plan, grid, s, divmod(first_cells[s], grid.n_cols), counts[s], draft=s in drafts)
    plan.study_codes = _plan_codes(seed, studies)
    return plan


def _study_cells(rnd: random.Random, grid: _Grid, first: tuple[int, int], k: int) -> list[tuple[int, int]]:
    """A study's cells: its first cell, then mostly other outcomes of the same intervention,
    sometimes a sibling intervention on the same outcome (a multi-arm study)."""
    if k == 0:
        n_cells = rnd.choices([1, 2, 3], weights=[60, 30, 10])[0]
    else:
        n_cells = min(k, rnd.choices([1, 2, 3, 4, 5, 6], weights=[55, 20, 12, 7, 4, 2])[0])
    row, col = first
    cells = [first]
    per_row = grid.children_per_category
    for _ in range(n_cells - 1):
        if per_row > 1 and rnd.random() < 0.15:
            cell = (row - row % per_row + rnd.randrange(per_row), col)
        else:
            in_row = grid.popularity[row * grid.n_cols:(row + 1) * grid.n_cols]
            cell = (row, rnd.choices(range(grid.n_cols), weights=in_row)[0])
        if cell not in cells:
            cells.append(cell)
    return cells


def _study_effects(
    rnd: random.Random, plan: Plan, grid: _Grid, s: int, cells: list[tuple[int, int]], k: int, n_total: int,
) -> float | None:
    """Plan study s's k effect sizes over its cells (one in each, the rest mostly in the
    first); return the first one's g, or None without effect sizes."""
    per_cell = [1] * len(cells) if k else []
    for pick in rnd.choices(range(len(cells)), weights=[3] + [1] * (len(cells) - 1), k=max(0, k - len(cells))):
        per_cell[pick] += 1
    main_kind = rnd.choices(KINDS, cum_weights=KIND_CUMULATIVE)[0]
    study_effect = rnd.gauss(0.0, 0.10)
    arm = rnd.choice(ARMS)
    first_g: float | None = None
    for (r, c), how_many in zip(cells, per_cell, strict=False):
        true_g = (1.0 if grid.higher[c] else -1.0) * (grid.benefit[r * grid.n_cols + c] + study_effect)
        for e in range(how_many):
            kind = main_kind if rnd.random() < 0.8 else rnd.choice(KINDS)
            label = f"{grid.col_names[c]}: {arm if e == 0 or rnd.random() < 0.6 else rnd.choice(ARMS)}, {rnd.choice(TIMINGS)}"
            n = n_total
            if e and rnd.random() < 0.3:
                n = max(24, int(n * rnd.uniform(0.3, 0.6)))
                label += f", {rnd.choice(SUBGROUPS)}"
            n_1 = max(10, round(n * rnd.uniform(0.4, 0.6)))
            n_2 = max(10, n - n_1)
            g = true_g + rnd.gauss(0.0, 0.05) + rnd.gauss(0.0, math.sqrt(1.0 / n_1 + 1.0 / n_2))
            if first_g is None:
                first_g = g
            values = {name: value for name, value in _inputs(rnd, kind, g, n_1, n_2).items() if value is not None}
            plan.effects.append((s, r, c, {"label": label, "input_kind": kind, **values}))
    return first_g


def _appraisal(rnd: random.Random, design: str) -> tuple[str, list[tuple[str, str, str]]]:
    """Study confidence (about 70 % of studies) and its appraisal items."""
    if rnd.random() >= APPRAISED_SHARE:
        return "", []
    strong = design in (StudyDesign.RCT, StudyDesign.RDD, StudyDesign.SYSTEMATIC_REVIEW)
    confidence = rnd.choices(["high", "medium", "low"], weights=[40, 45, 15] if strong else [15, 45, 40])[0]
    criteria = CRITERIA if rnd.random() < 0.8 else sorted(rnd.sample(CRITERIA, rnd.randint(4, 6)))
    return confidence, [
        (criterion, rnd.choices(RATINGS, weights=RATING_WEIGHTS[confidence])[0],
         rnd.choice(APPRAISAL_NOTES) if rnd.random() < 0.1 else "")
        for criterion in criteria
    ]


def _plan_study(
    rnd: random.Random, plan: Plan, grid: _Grid, s: int, first: tuple[int, int], k: int, *, draft: bool,
) -> None:
    cells = _study_cells(rnd, grid, first, k)
    coded_cols = sorted({c for _, c in cells})
    designs = QUANTITATIVE_DESIGNS if k else QUALITATIVE_DESIGNS
    design = rnd.choices(list(designs), weights=[w for w, _ in designs.values()])[0]
    phrase = designs[design][1]
    countries, is_global, place = _countries(rnd)
    population = rnd.choice(POPULATIONS)
    n_total = max(24, min(40000, int(rnd.lognormvariate(math.log(400.0), 0.9))))
    first_g = _study_effects(rnd, plan, grid, s, cells, k, n_total)
    intervention, outcome = grid.row_names[first[0]], grid.col_names[first[1]]
    finding = (
        f"Respondents described how {intervention.lower()} shaped {outcome.lower()}."
        if first_g is None else _finding(first_g, outcome, grid.higher[first[1]])
    )
    confidence, appraisal = _appraisal(rnd, design)
    number = s + 1
    plan.studies.append({
        "external_id": f"gen-{number:06d}",
        "authors": _authors(rnd),
        "year": _year(rnd),
        "title": _title(rnd, intervention, outcome, phrase, place, population, qualitative=k == 0),
        "source": rnd.choice(SOURCES),
        "doi": f"10.5555/gen.{plan.seed}.{number}" if rnd.random() < 0.7 else "",
        "url": f"https://example.org/generated/{plan.seed}/{number}" if rnd.random() < 0.2 else "",
        "abstract": _abstract(rnd, intervention, [grid.col_names[c] for c in coded_cols], phrase, place,
                              population, n_total, finding),
        "countries": countries,
        "is_global": is_global,
        "population": population,
        "design": design,
        "confidence": confidence,
        "status": Status.DRAFT.value if draft else Status.PUBLISHED.value,
    })
    plan.codings.append((sorted({r for r, _ in cells}), coded_cols))
    plan.appraisals.append(appraisal)


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------

# Foreign keys whose validation is a query per row; the database checks them on insert.
STUDY_FOREIGN_KEYS = ["evidence_map"]
ITEM_FOREIGN_KEYS = ["study"]
EFFECT_FOREIGN_KEYS = ["study", "intervention", "outcome"]

_GRID = re.compile(r"^(\d+)x(\d+)$")


def parse_grid(text: str) -> tuple[int, int]:
    """"10x6" -> (10, 6): top-level nodes, and children of each."""
    match = _GRID.match(text.strip().lower())
    if not match or int(match[1]) < 1 or int(match[2]) < 1:
        raise ValueError(f"{text!r} is not a grid like 10x6 (top-level nodes x children of each, both at least 1)")
    return int(match[1]), int(match[2])


def check_request(
    slug: str, *, studies: int, effect_sizes: int, rows: tuple[int, int], columns: tuple[int, int]
) -> None:
    """Refuse sizes the generator cannot honour, with a message that says why."""
    try:
        EvidenceMap._meta.get_field("slug").clean(slug, None)
    except ValidationError as exc:
        raise GenerateError(f"{slug!r} cannot be a map's slug: {' '.join(exc.messages)}") from exc
    if studies < 1:
        raise GenerateError("--studies must be at least 1")
    if effect_sizes < 0:
        raise GenerateError("--effect-sizes cannot be negative")
    if effect_sizes > MAX_EFFECTS_PER_STUDY * studies:
        raise GenerateError(
            f"{effect_sizes:,} effect sizes need at least {math.ceil(effect_sizes / MAX_EFFECTS_PER_STUDY):,} "
            f"studies (at most {MAX_EFFECTS_PER_STUDY} effect sizes per study)"
        )
    for what, (top, children) in (("--rows", rows), ("--columns", columns)):
        if top < 1 or children < 1:
            raise GenerateError(f"{what} needs at least one node and one child of each")


def generate_map(
    slug: str, *, studies: int, effect_sizes: int, rows: tuple[int, int] = (10, 6),
    columns: tuple[int, int] = (8, 5), seed: int = 0, replace: bool = False,
) -> EvidenceMap:
    """Write a published synthetic map: all of it or, on any error, nothing.

    `rows` and `columns` are (top-level nodes, children of each); studies are coded with
    leaf nodes. An existing map of that slug is an error unless `replace`, and only a map
    that this function made is replaced.

    History: the map and its framework are written with `framework_save` and have their
    history rows; studies, appraisal items and effect sizes have none. simple_history's
    `bulk_create_with_history` was measured here at 2.5 times the time of bulk_create (20,000
    effect sizes: 6.5 s against 2.7 s on SQLite, 4.4 s against 1.7 s on PostgreSQL), which
    at the benchmark size (100,000 effect sizes, 95,000 appraisal items, 20,000 studies)
    adds more than half a minute and breaks the one-minute budget. It would not write the
    history of the studies' coding either (many-to-many history), so the admin's history
    would show studies created without their rows and columns; and replacing the map would
    have to record a "deleted" row per object, one insert at a time. A generated map is
    benchmark and test data that no reviewer entered, so it has no per-row audit trail, and
    `replace` removes its rows in bulk as they came.
    """
    check_request(slug, studies=studies, effect_sizes=effect_sizes, rows=rows, columns=columns)
    with transaction.atomic():
        existing = EvidenceMap.objects.select_for_update().filter(slug=slug).first()
        if existing is not None:
            if not replace:
                raise GenerateError(f"A map with the slug {slug!r} exists; use --replace to replace it.")
            if not existing.description.startswith(GENERATED_MARKER):
                raise GenerateError(
                    f"The map {slug!r} was not made by generate_map, so it is not replaced; "
                    "choose another slug."
                )
            _delete_generated(existing)
        plan = plan_map(slug, studies=studies, effect_sizes=effect_sizes, rows=rows, columns=columns, seed=seed)
        evidence_map = _write(plan)
    refresh_statistics([Study, EffectSize, AppraisalItem, Intervention, Outcome])
    return evidence_map


def _delete_generated(evidence_map: EvidenceMap) -> None:
    """Remove a generated map: its bulk-written rows in bulk (they have no history to
    continue), then the map and its framework through the audited delete."""
    in_map = {"study__evidence_map": evidence_map}
    for queryset in (
        EffectSize.objects.filter(**in_map),
        AppraisalItem.objects.filter(**in_map),
        Study.interventions.through.objects.filter(**in_map),
        Study.outcomes.through.objects.filter(**in_map),
        Study.codes.through.objects.filter(**in_map),
        Study.objects.filter(evidence_map=evidence_map),
    ):
        queryset._raw_delete(queryset.db)
    delete_recorded(instance=evidence_map, user=None)


def _insert(model: type[Model], objs: Sequence[Model]) -> None:
    """INSERT rows whose new ids nobody needs, each value prepared by its field as
    bulk_create prepares it (`pre_save`, so auto_now dates, then `get_db_prep_save`).

    bulk_create spends most of its time composing multi-row statements, and SQLite lets
    Django put only 999 values in one (21 effect sizes); so PostgreSQL gets COPY and SQLite
    one prepared single-row INSERT run by executemany, which take a third to a half of the
    time. The database checks every constraint either way; other databases get bulk_create.
    """
    if connection.vendor not in ("postgresql", "sqlite"):
        model._default_manager.bulk_create(objs, batch_size=BATCH_SIZE)
        return
    fields = [f for f in model._meta.local_concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(cast(str, f.column)) for f in fields)  # concrete fields have a column
    with connection.cursor() as cursor:
        for start in range(0, len(objs), BATCH_SIZE):
            rows = [
                tuple(f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields)
                for obj in objs[start:start + BATCH_SIZE]
            ]
            if connection.vendor == "postgresql":
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})", rows)


def _validated(instance: Model, foreign_keys: list[str]) -> None:
    """The model's full_clean(), but for the checks the database makes on insert anyway."""
    try:
        instance.full_clean(exclude=foreign_keys, validate_constraints=False)
    except ValidationError as exc:
        exc.add_note(f"generated {type(instance).__name__}: {vars(instance)}")
        raise


def _map_text(plan: Plan) -> dict[str, str]:
    n_studies, n_effects = len(plan.studies), len(plan.effects)
    return {
        "title": f"Synthetic development programmes map ({plan.slug})",
        "description": (
            f"{GENERATED_MARKER} (seed {plan.seed}; {n_studies:,} studies, {n_effects:,} effect sizes; "
            f"{plan.rows[0]}×{plan.rows[1]} intervention rows, {plan.columns[0]}×{plan.columns[1]} "
            "outcome columns).\n\nEvery study, author, DOI and number on this map is invented, for "
            "benchmarks and tests. Do not cite anything here."
        ),
        "search_dates": f"January {YEARS[0]} to December {YEARS[1]} (synthetic)",
        "inclusion_criteria": "- Invented evaluations of development programmes, any design, any country.",
        "methods_notes": f"Generated by `manage.py generate_map {plan.slug} --seed {plan.seed}`.",
    }


def _write(plan: Plan) -> EvidenceMap:
    evidence_map = framework_save(instance=EvidenceMap(slug=plan.slug, is_published=True, **_map_text(plan)), user=None)
    leaf_rows: list[Intervention] = []
    for i, (name, description, children) in enumerate(plan.interventions):
        parent = framework_save(
            instance=Intervention(evidence_map=evidence_map, name=name, description=description, position=i),
            user=None,
        )
        for j, (child, child_description) in enumerate(children):
            leaf_rows.append(framework_save(instance=Intervention(
                evidence_map=evidence_map, parent=parent, name=child, description=child_description, position=j,
            ), user=None))
    leaf_cols: list[Outcome] = []
    for i, (name, description, outcome_children) in enumerate(plan.outcomes):
        group = framework_save(
            instance=Outcome(evidence_map=evidence_map, name=name, description=description, position=i),
            user=None,
        )
        for j, (child, child_description, direction) in enumerate(outcome_children):
            leaf_cols.append(framework_save(instance=Outcome(
                evidence_map=evidence_map, parent=group, name=child, description=child_description,
                position=j, desirable_direction=direction,
            ), user=None))

    studies: list[Study] = []
    countries_field = Study._meta.get_field("countries")
    valid_countries: set[tuple[str, ...]] = set()
    for fields in plan.studies:
        study = Study(evidence_map=evidence_map, created_by=None, updated_by=None, **fields)
        # What Study.save() derives, since bulk_create does not call save().
        study.region = region_for(fields["countries"], is_global=fields["is_global"])
        _validated(study, [*STUDY_FOREIGN_KEYS, "countries"])
        # The countries field validates a list by rebuilding the list of every country's
        # code (half a millisecond), so each distinct list is validated by the field once.
        key = tuple(fields["countries"])
        if key not in valid_countries:
            try:
                countries_field.clean(list(key), study)
            except ValidationError as exc:
                raise ValidationError({"countries": exc.messages}) from exc
            valid_countries.add(key)
        studies.append(study)
    Study.objects.bulk_create(studies, batch_size=BATCH_SIZE)

    intervention_link = Study.interventions.through
    outcome_link = Study.outcomes.through
    _insert(intervention_link, [
        intervention_link(study_id=study.pk, intervention_id=leaf_rows[r].pk)
        for study, (coded_rows, _) in zip(studies, plan.codings, strict=True) for r in coded_rows
    ])
    _insert(outcome_link, [
        outcome_link(study_id=study.pk, outcome_id=leaf_cols[c].pk)
        for study, (_, coded_cols) in zip(studies, plan.codings, strict=True) for c in coded_cols
    ])

    codes = _write_code_sets(evidence_map)
    code_link = Study.codes.through
    _insert(code_link, [
        code_link(study_id=study.pk, code_id=codes[c].pk)
        for study, study_codes in zip(studies, plan.study_codes, strict=True) for c in study_codes
    ])

    items: list[AppraisalItem] = []
    for study, appraisal in zip(studies, plan.appraisals, strict=True):
        for criterion, rating, note in appraisal:
            item = AppraisalItem(study=study, criterion=criterion, rating=rating, note=note)
            _validated(item, ITEM_FOREIGN_KEYS)
            items.append(item)
    _insert(AppraisalItem, items)

    effects: list[EffectSize] = []
    for s, r, c, values in plan.effects:
        effect = EffectSize(
            study=studies[s], intervention=leaf_rows[r], outcome=leaf_cols[c],
            created_by=None, updated_by=None, **values,
        )
        _validated(effect, EFFECT_FOREIGN_KEYS)  # EffectSize.clean() computes g from the input
        effects.append(effect)
    _insert(EffectSize, effects)
    # Bulk writes send no signals: mark the map as changed for its readers ourselves.
    versions.bump(evidence_map.pk)
    return evidence_map


def _write_code_sets(evidence_map: EvidenceMap) -> list[Code]:
    """The code sets and their codes (audited writes; a few dozen rows), the segmenting set
    set on the map; the codes in the order of CODES."""
    sets: list[CodeSet] = []
    for position, (name, slug, is_filter, segments, _, _) in enumerate(CODE_SETS):
        code_set = framework_save(instance=CodeSet(
            evidence_map=evidence_map, name=name, slug=slug, position=position, is_filter=is_filter,
        ), user=None)
        sets.append(code_set)
        if segments:
            evidence_map.segment_code_set = code_set
            framework_save(instance=evidence_map, user=None)
    codes: list[Code] = []
    for set_index, name, parent in CODES:
        siblings = sum(1 for s, _, p in CODES[:len(codes)] if s == set_index and p == parent)
        codes.append(framework_save(instance=Code(
            code_set=sets[set_index], name=name, parent=codes[parent] if parent is not None else None,
            position=siblings,
        ), user=None))
    return codes


# --------------------------------------------------------------------------------------
# What was written
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellCount:
    intervention: str
    outcome: str
    n_studies: int
    n_effects: int

    def __str__(self) -> str:
        return (
            f"{self.intervention} × {self.outcome}: {_count(self.n_effects, 'effect size')}, "
            f"{_count(self.n_studies, 'study', 'studies')}"
        )


def _count(n: int, one: str, many: str = "") -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"


@dataclass(frozen=True)
class MapSummary:
    """Counts over every study of a map, drafts included (leaf cells: both nodes are leaves)."""

    published: int
    drafts: int
    without_effects: int
    effect_sizes: int
    leaf_cells: int
    non_empty_cells: int
    cells_with_effects: int
    median_effects: float  # per non-empty leaf cell
    cells_100_plus: int  # leaf cells with at least 100 effect sizes
    busiest: CellCount | None
    busiest_aggregate: CellCount | None  # the top-level row and column above the busiest leaf
    code_sets: tuple[tuple[str, int, int], ...] = ()  # (name, codes, studies coded in it)

    def lines(self) -> list[str]:
        code_sets = "; ".join(
            f"{name}: {_count(n, 'code')}, {_count(k, 'study', 'studies')} coded" for name, n, k in self.code_sets
        )
        return [
            f"studies       {self.published + self.drafts:,}: {self.published:,} published, "
            f"{self.drafts:,} drafts; {self.without_effects:,} without effect sizes",
            f"effect sizes  {self.effect_sizes:,}",
            f"leaf cells    {self.leaf_cells:,}: {self.non_empty_cells:,} non-empty "
            f"({self.cells_with_effects:,} with effect sizes); median {self.median_effects:g} effect sizes "
            f"per non-empty cell; {self.cells_100_plus:,} cells with 100 or more",
            f"busiest leaf  {self.busiest or '-'}",
            f"aggregate     {self.busiest_aggregate or '-'}",
            f"code sets     {code_sets or '-'}",
        ]


def summarise_map(evidence_map: EvidenceMap) -> MapSummary:
    """Read back what a map holds (a handful of queries; counts in Python)."""
    studies = Study.objects.filter(evidence_map=evidence_map)
    by_status = dict(studies.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    without_effects = studies.filter(effect_sizes=None).count()
    interventions = dict(Intervention.objects.filter(evidence_map=evidence_map).values_list("pk", "parent_id"))
    outcomes = dict(Outcome.objects.filter(evidence_map=evidence_map).values_list("pk", "parent_id"))
    names = {
        **{("i", pk): name for pk, name in Intervention.objects.filter(evidence_map=evidence_map).values_list("pk", "name")},
        **{("o", pk): name for pk, name in Outcome.objects.filter(evidence_map=evidence_map).values_list("pk", "name")},
    }
    leaf_rows = set(interventions) - set(interventions.values())
    leaf_cols = set(outcomes) - set(outcomes.values())

    def top(tree: Mapping[int, int | None], pk: int) -> int:
        parent = tree[pk]
        while parent is not None:
            pk, parent = parent, tree[parent]
        return pk

    in_map = {"study__evidence_map": evidence_map}
    coded_rows: dict[int, set[int]] = defaultdict(set)
    for study_id, pk in Study.interventions.through.objects.filter(**in_map).values_list("study_id", "intervention_id"):
        coded_rows[study_id].add(pk)
    coded_cols: dict[int, set[int]] = defaultdict(set)
    for study_id, pk in Study.outcomes.through.objects.filter(**in_map).values_list("study_id", "outcome_id"):
        coded_cols[study_id].add(pk)
    cell_studies: dict[tuple[int, int], set[int]] = defaultdict(set)
    for study_id, row_ids in coded_rows.items():
        for i in row_ids:
            for o in coded_cols.get(study_id, ()):
                cell_studies[(i, o)].add(study_id)
    cell_effects: Counter[tuple[int, int]] = Counter()
    n_effects = 0
    for study_id, i, o in EffectSize.objects.filter(**in_map).values_list("study_id", "intervention_id", "outcome_id"):
        cell_effects[(i, o)] += 1
        cell_studies[(i, o)].add(study_id)
        n_effects += 1

    leaves = [key for key in cell_studies if key[0] in leaf_rows and key[1] in leaf_cols]
    busiest = aggregate = None
    if cell_effects:
        i, o = max(cell_effects, key=lambda key: (cell_effects[key], -key[0], -key[1]))
        busiest = CellCount(names[("i", i)], names[("o", o)], len(cell_studies[(i, o)]), cell_effects[(i, o)])
        top_i, top_o = top(interventions, i), top(outcomes, o)
        under = [key for key in cell_studies if top(interventions, key[0]) == top_i and top(outcomes, key[1]) == top_o]
        aggregate = CellCount(
            names[("i", top_i)], names[("o", top_o)],
            len(set().union(*(cell_studies[key] for key in under))), sum(cell_effects[key] for key in under),
        )
    code_sets = tuple(
        (name, n_codes, Study.objects.filter(evidence_map=evidence_map, codes__code_set_id=pk).distinct().count())
        for pk, name, n_codes in CodeSet.objects.filter(evidence_map=evidence_map)
        .annotate(n=Count("codes")).values_list("pk", "name", "n")
    )
    return MapSummary(
        published=by_status.get(Status.PUBLISHED, 0),
        drafts=by_status.get(Status.DRAFT, 0),
        without_effects=without_effects,
        effect_sizes=n_effects,
        leaf_cells=len(leaf_rows) * len(leaf_cols),
        non_empty_cells=len(leaves),
        cells_with_effects=sum(1 for key in leaves if cell_effects[key]),
        median_effects=statistics.median([cell_effects[key] for key in leaves]) if leaves else 0,
        cells_100_plus=sum(1 for key in leaves if cell_effects[key] >= 100),
        busiest=busiest,
        busiest_aggregate=aggregate,
        code_sets=code_sets,
    )
