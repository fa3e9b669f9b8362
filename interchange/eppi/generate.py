"""Realistic EPPI-Reviewer JSON exports of any size, for tests and benchmarks
(`manage.py generate_eppi`).

The file looks like a review team's export: code sets for interventions (two levels), outcomes
(two levels), study design, country (by region), population, setting, language and funding;
references with EPPI-Reviewer's fields as it writes them (authors as "Smith A ; Jones B ; ",
DOIs in the forms reference managers leave, a leading space in the short title, keywords one
per line) and their codes; outcomes of every outcome type with their Data fields, and the
values EPPI-Reviewer computes from them (SMD and its SE, odds ratio, r) by EPPI-Reviewer's own
formulas, as an export carries them. The same seed gives the same bytes.

`DEFECTS` are the problems real files have, each put into a few chosen records when asked for
(the `GeneratedFile.defects` manifest says which), and `ENCODINGS` the encodings a file comes in.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from scipy import stats

from interchange.eppi.outcomes import Z95, eppi_smd
from interchange.generate_words import (
    ARMS,
    COUNTRIES,
    DELIVERERS,
    INTERVENTION_VOCABULARY,
    OUTCOME_VOCABULARY,
    POPULATIONS,
    SOURCES,
    SURNAMES,
    THEMES,
    TIMINGS,
)

# The defects a file can be asked to have: name -> what it is (and, after the dash, what the
# importer does with it).
DEFECTS: dict[str, str] = {
    "unknown-attribute": "a reference coded with an AttributeId that no code set has — an error",
    "duplicate-itemid": "two references with the same ItemId — an error",
    "duplicate-outcomeid": "two outcomes with the same OutcomeId — an error",
    "sd-zero": "an outcome of means and SDs with a group SD of 0 — an error",
    "year-19xx": "a reference whose Year is “19xx” — an error",
    "bad-number": "an outcome whose Data1 is text — an error",
    "no-codes": "a reference with no codes — imported and listed",
    "no-abstract": "a reference with an empty abstract — imported and listed",
    "no-year": "a reference with an empty year — imported and listed",
    "unknown-keys": "keys EPPI-Reviewer does not write, at the top, in a reference and in an outcome — ignored and listed",
    "bad-doi": "a reference whose DOI field holds no DOI — imported without it, listed",
    "smd-mismatch": "an outcome whose SMD does not follow from its own numbers — imported, listed",
    "excluded": "a reference not included in the review (ItemStatus “E”) — left out, listed",
    "unplaced-outcome": "an outcome with no intervention code (ItemAttributeIdIntervention 0) — left out, listed",
    "unmapped-design": "a study design code the map does not know (“Case study”) — design Other, listed",
}
ERROR_DEFECTS = ("unknown-attribute", "duplicate-itemid", "duplicate-outcomeid", "sd-zero", "year-19xx", "bad-number")
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "windows-1252", "latin-1")

SET_INTERVENTIONS, SET_OUTCOMES, SET_DESIGN, SET_COUNTRY = 1001, 1002, 1003, 1004
SET_POPULATION, SET_SETTING, SET_LANGUAGE, SET_FUNDING = 1005, 1006, 1007, 1008
FIRST_ATTRIBUTE = 5_100_000
FIRST_ITEM = 30_000_000
FIRST_OUTCOME = 700_000
UNKNOWN_ATTRIBUTE = 999_999_999

DESIGNS: list[tuple[str, int]] = [  # name, weight
    ("Randomised controlled trial", 34), ("Difference-in-differences", 16), ("Propensity score matching", 9),
    ("Quasi-experimental design (other)", 8), ("Instrumental variables", 5), ("Regression discontinuity design", 5),
    ("Interrupted time series", 4), ("Mixed methods", 7), ("Systematic review", 2), ("Qualitative research", 8),
    ("Other", 2),
]
SETTINGS = ["Rural", "Urban", "Peri-urban", "Humanitarian or camp setting", "Mixed settings"]
LANGUAGES = ["English", "French", "Spanish", "Portuguese", "Arabic", "Other language"]
FUNDERS = ["Government", "Bilateral donor", "Multilateral agency", "Foundation", "NGO", "Not reported"]
# Authors with letters outside ASCII, so that an 8-bit encoding is not UTF-8.
ACCENTED = ["Gonçalves", "Pérez", "Müller", "Ndiaye-Sène", "Løvaas", "Öztürk", "Nguyễn", "Đặng"]
# Outcome types by share of outcomes (EPPI-Reviewer's OutcomeTypeId).
TYPE_WEIGHTS = {1: 34, 0: 16, 2: 12, 3: 9, 4: 9, 5: 10, 7: 7, 6: 3}
TYPE_NAMES = {0: "Manual entry", 1: "Continuous", 2: "Binary", 3: "Continuous", 4: "Continuous",
              5: "Continuous", 6: "Binary", 7: "Correlation"}


@dataclass
class GeneratedFile:
    data: dict[str, Any]
    seed: int
    # The ids to import it with, as import_eppi takes them.
    selection: dict[str, str] = field(default_factory=dict)
    # Which records carry each defect ("ItemId 30000004", "ItemId 30000007, outcome 700012").
    defects: dict[str, list[str]] = field(default_factory=dict)

    @property
    def references(self) -> list[dict[str, Any]]:
        return self.data["References"]  # type: ignore[no-any-return]

    def to_bytes(self, encoding: str = "utf-8") -> bytes:
        """The export as EPPI-Reviewer writes it (indented JSON), in `encoding`."""
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}; one of: {', '.join(ENCODINGS)}")
        text = json.dumps(self.data, ensure_ascii=False, indent=2)
        if encoding == "utf-8-sig":
            return text.encode("utf-8-sig")
        # An 8-bit export loses what its code page has no letter for, as a real one does.
        return text.encode(encoding, errors="replace" if encoding in ("windows-1252", "latin-1") else "strict")

    def command_options(self) -> str:
        return " ".join(f"--{name} {value}" for name, value in self.selection.items())


# --------------------------------------------------------------------------------------
# Code sets
# --------------------------------------------------------------------------------------


class _Ids:
    def __init__(self) -> None:
        self.next = FIRST_ATTRIBUTE

    def take(self) -> int:
        self.next += 1
        return self.next


def _attribute(ids: _Ids, set_id: int, name: str, *, children: list[dict[str, Any]] | None = None,
               selectable: bool = True, description: str = "") -> dict[str, Any]:
    attribute_id = ids.take()
    out: dict[str, Any] = {
        "AttributeSetId": attribute_id + 60_000,
        "AttributeId": attribute_id,
        "OriginalAttributeID": 0,
        "AttributeSetDescription": "",
        "AttributeType": "Selectable (show checkbox)" if selectable else "Not selectable (no checkbox)",
        "AttributeName": name,
        "AttributeDescription": description,
        "ExtURL": "",
        "ExtType": "",
    }
    if children:
        out["Attributes"] = {"AttributesList": children}
    return out


def _code_set(set_id: int, name: str, description: str, attributes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "SetName": name,
        "ReviewSetId": set_id + 90_000,
        "SetId": set_id,
        "SetType": {
            "SetTypeName": "Standard",
            "SetTypeDescription": "The Standard codeset type is used for regular coding such as keywording or data-extraction.",
        },
        "SetDescription": description,
        "Attributes": {"AttributesList": attributes},
    }


@dataclass
class _Codes:
    """The generated code sets and the AttributeIds a reference is coded with."""

    sets: list[dict[str, Any]]
    interventions: list[list[int]]  # per category, its leaves
    outcomes: list[list[int]]
    designs: list[int]
    design_weights: list[int]
    countries: list[int]
    country_names: list[str]
    population: list[int]
    setting: list[int]
    language: list[int]
    funding: list[int]
    case_study: int
    names: dict[int, str] = field(default_factory=dict)  # every AttributeId's name


def _code_sets(unmapped_design: bool) -> _Codes:
    ids = _Ids()
    interventions: list[list[int]] = []
    intervention_attributes = []
    for category, children in INTERVENTION_VOCABULARY[:10]:
        leaves = [_attribute(ids, SET_INTERVENTIONS, child) for child in children[:6]]
        interventions.append([leaf["AttributeId"] for leaf in leaves])
        intervention_attributes.append(_attribute(
            ids, SET_INTERVENTIONS, category, children=leaves, selectable=False,
            description=f"Programmes of the category “{category.lower()}”.",
        ))
    outcomes: list[list[int]] = []
    outcome_attributes = []
    for group, measures in OUTCOME_VOCABULARY[:8]:
        leaves = [_attribute(ids, SET_OUTCOMES, name) for name, _ in measures[:5]]
        outcomes.append([leaf["AttributeId"] for leaf in leaves])
        outcome_attributes.append(_attribute(ids, SET_OUTCOMES, group, children=leaves, selectable=False))
    designs = [_attribute(ids, SET_DESIGN, name) for name, _ in DESIGNS]
    case_study = _attribute(ids, SET_DESIGN, "Case study")
    if unmapped_design:
        designs.append(case_study)
    regions = []
    countries: list[int] = []
    country_names: list[str] = []
    for region, members in COUNTRIES.items():
        leaves = [_attribute(ids, SET_COUNTRY, name) for _, name in members]
        countries += [leaf["AttributeId"] for leaf in leaves]
        country_names += [name for _, name in members]
        regions.append(_attribute(ids, SET_COUNTRY, region, children=leaves, selectable=False))
    regions.append(_attribute(ids, SET_COUNTRY, "Global / multi-country"))
    countries.append(regions[-1]["AttributeId"])
    country_names.append("Global / multi-country")
    simple = {
        SET_POPULATION: [_attribute(ids, SET_POPULATION, name) for name in POPULATIONS],
        SET_SETTING: [_attribute(ids, SET_SETTING, name) for name in SETTINGS],
        SET_LANGUAGE: [_attribute(ids, SET_LANGUAGE, name) for name in LANGUAGES],
        SET_FUNDING: [_attribute(ids, SET_FUNDING, name) for name in FUNDERS],
    }
    sets = [
        _code_set(SET_INTERVENTIONS, "Interventions", "What the programme does (the map's rows).", intervention_attributes),
        _code_set(SET_OUTCOMES, "Outcomes", "What the study measures (the map's columns).", outcome_attributes),
        _code_set(SET_DESIGN, "Study design", "The study's design.", designs),
        _code_set(SET_COUNTRY, "Country", "Where the study took place.", regions),
        _code_set(SET_POPULATION, "Population", "Who the programme reached.", simple[SET_POPULATION]),
        _code_set(SET_SETTING, "Setting", "", simple[SET_SETTING]),
        _code_set(SET_LANGUAGE, "Language of publication", "", simple[SET_LANGUAGE]),
        _code_set(SET_FUNDING, "Funding source", "", simple[SET_FUNDING]),
    ]
    names = {a["AttributeId"]: a["AttributeName"] for s in sets for a in _leaves(s)}
    names[case_study["AttributeId"]] = case_study["AttributeName"]
    return _Codes(
        names=names, sets=sets, interventions=interventions, outcomes=outcomes,
        designs=[d["AttributeId"] for d in designs],
        design_weights=[w for _, w in DESIGNS] + ([0] if unmapped_design else []),  # only where injected
        countries=countries, country_names=country_names,
        population=[a["AttributeId"] for a in simple[SET_POPULATION]],
        setting=[a["AttributeId"] for a in simple[SET_SETTING]],
        language=[a["AttributeId"] for a in simple[SET_LANGUAGE]],
        funding=[a["AttributeId"] for a in simple[SET_FUNDING]],
        case_study=case_study["AttributeId"],
    )


# --------------------------------------------------------------------------------------
# Outcomes: Data fields by type, and what EPPI-Reviewer computes from them
# --------------------------------------------------------------------------------------


def _r(x: float, digits: int = 2) -> float:
    return float(round(x, digits))


def _eppi_se_d(n1: float, n2: float, d: float) -> float:
    """EPPI-Reviewer's SE of its SMD: √((n1 + n2)/(n1·n2) + d²/(2(n1 + n2 − 3.94)))."""
    return math.sqrt((n1 + n2) / (n1 * n2) + d * d / (2 * (n1 + n2 - 3.94)))


def _outcome_data(rnd: random.Random, type_id: int, g: float, n1: int, n2: int) -> tuple[list[float], dict[str, float]]:
    """Data1…Data14 of one outcome whose true effect is about g, and EPPI-Reviewer's own values."""
    data = [0.0] * 14
    computed: dict[str, float] = {}
    if type_id in (1, 3, 4):
        base = rnd.uniform(10.0, 100.0)
        sd2 = base * rnd.uniform(0.15, 0.5)
        sd1 = sd2 * rnd.uniform(0.85, 1.15)
        pooled = math.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2))
        data[0:4] = [float(n1), float(n2), _r(base + g * pooled), _r(base)]
        if type_id == 1:
            data[4:6] = [_r(sd1), _r(sd2)]
        elif type_id == 3:
            data[4:6] = [_r(sd1 / math.sqrt(n1), 3), _r(sd2 / math.sqrt(n2), 3)]
        else:
            half1, half2 = Z95 * sd1 / math.sqrt(n1), Z95 * sd2 / math.sqrt(n2)
            data[4:8] = [_r(data[2] - half1), _r(data[3] - half2), _r(data[2] + half1), _r(data[3] + half2)]
    elif type_id == 2:
        p2 = rnd.uniform(0.08, 0.6)
        odds1 = p2 / (1 - p2) * math.exp(g * math.pi / math.sqrt(3))
        e1, e2 = round(n1 * odds1 / (1 + odds1)), round(n2 * p2)
        data[0:4] = [float(e1), float(e2), float(n1 - e1), float(n2 - e2)]
        cells = [v + 0.5 for v in data[0:4]] if 0 in data[0:4] else data[0:4]
        computed["OddsRatio"] = cells[0] * cells[3] / (cells[2] * cells[1])
        computed["SEOddsRatio"] = math.sqrt(sum(1 / c for c in cells))
    elif type_id == 5:
        t = g / math.sqrt(1 / n1 + 1 / n2)
        data[0:2] = [float(n1), float(n2)]
        if rnd.random() < 0.3:
            data[3] = min(0.999, max(0.001, _r(2 * float(stats.t.sf(abs(t), n1 + n2 - 2)), 3)))
        else:
            data[2] = _r(t)
    elif type_id == 7:
        r = g / math.sqrt(g * g + (n1 + n2) ** 2 / (n1 * n2))
        data[0:2] = [float(n1 + n2), max(-0.99, min(0.99, _r(r, 3)))]
        computed["R"] = data[1]
    elif type_id == 6:
        sens, spec = rnd.uniform(0.6, 0.95), rnd.uniform(0.6, 0.95)
        data[0:4] = [float(round(n1 * sens)), float(round(n2 * (1 - spec))), float(n1 - round(n1 * sens)),
                     float(n2 - round(n2 * (1 - spec)))]
    else:  # manual entry: mostly an SMD with its SE, else an odds ratio or r with theirs
        se = math.sqrt(1 / n1 + 1 / n2 + g * g / (2 * (n1 + n2)))
        u = rnd.random()
        if u < 0.75:
            data[0:2] = [_r(g, 3), max(0.001, _r(se, 3))]
        elif u < 0.9:
            data[4:6] = [_r(math.exp(g * math.pi / math.sqrt(3)), 3), max(0.001, _r(se * math.pi / math.sqrt(3), 3))]
        else:
            r = g / math.sqrt(g * g + (n1 + n2) ** 2 / (n1 * n2))
            data[2:4] = [_r(r, 3), 1 / math.sqrt(n1 + n2 - 3)]
    if type_id in (0, 1, 3, 4, 5) and (type_id != 0 or data[0] != 0 or data[1] != 0):
        smd = eppi_smd(type_id, data)
        if smd is not None:
            computed["SMD"] = smd
            computed["SESMD"] = data[1] if type_id == 0 else _eppi_se_d(data[0], data[1], smd)
    return data, computed


def _outcome(rnd: random.Random, outcome_id: int, type_id: int, intervention: int, outcome: int,
             outcome_name: str, g: float, n1: int, n2: int) -> dict[str, Any]:
    data, computed = _outcome_data(rnd, type_id, g, n1, n2)
    arm = rnd.choice(ARMS)
    timing = rnd.choice(TIMINGS)
    obj: dict[str, Any] = {
        "OutcomeId": outcome_id,
        "ItemSetId": outcome_id + 2_000_000,
        "OutcomeTypeId": type_id,
        "OutcomeTypeName": TYPE_NAMES[type_id],
        "ItemAttributeIdIntervention": intervention,
        "ItemAttributeIdControl": 0,
        "ItemAttributeIdOutcome": outcome,
        "Title": f"{outcome_name}: {arm.lower()}, {timing}",
        "ShortTitle": "",
        "OutcomeDescription": f"{outcome_name} at {timing}." if rnd.random() < 0.5 else "",
        "InterventionText": arm.split(" vs ")[0],
        "ControlText": arm.split(" vs ")[-1],
        "OutcomeText": outcome_name,
        "ItemTimepointId": 0,
        "ItemTimepointMetric": "",
        "ItemTimepointValue": "",
        "TimepointDisplayValue": timing,
        "ItemArmIdGrp1": 0,
        "ItemArmIdGrp2": 0,
        "grp1ArmName": "",
        "grp2ArmName": "",
    }
    for i, value in enumerate(data, start=1):
        obj[f"Data{i}"] = value
    smd = computed.get("SMD", 0.0)
    se = computed.get("SESMD", 0.0)
    obj.update({
        "SMD": smd, "SESMD": se, "R": computed.get("R", 0.0),
        "SER": math.sqrt(1 / (data[0] - 3)) if type_id == 7 and data[0] > 3 else 0.0,
        "OddsRatio": computed.get("OddsRatio", 0.0), "SEOddsRatio": computed.get("SEOddsRatio", 0.0),
        "ES": smd if "SMD" in computed else computed.get("OddsRatio", computed.get("R", 0.0)),
        "SEES": se, "CILower": smd - 1.96 * se, "CIUpper": smd + 1.96 * se,
    })
    return obj


# --------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------


def _authors(rnd: random.Random, *, accented: bool) -> str:
    k = rnd.choices([1, 2, 3, 4, 5, 6], weights=[12, 25, 28, 18, 10, 7])[0]
    names = rnd.sample(SURNAMES, k)
    if accented or rnd.random() < 0.08:
        names[rnd.randrange(k)] = rnd.choice(ACCENTED)
    return "".join(f"{name} {rnd.choice('ABCDEFGHJKLMNOPRSTWY')}{rnd.choice(['', 'J', 'M'])} ; " for name in names)


def _doi(rnd: random.Random, seed: int, number: int) -> str:
    doi = f"10.5555/eppi.{seed}.{number}"
    form = rnd.random()
    if form < 0.5:
        return doi
    if form < 0.75:
        return f"https://doi.org/{doi.upper()}"
    if form < 0.9:
        return f"doi:{doi}"
    return f" {doi} "


def _plan_counts(rnd: random.Random, n: int, total: int, *, low: int, high: int) -> list[int]:
    """n counts between low and high (where the total allows) that sum to `total`."""
    counts = [low] * n
    left = total - low * n
    if left < 0:
        counts = [0] * n
        for i in rnd.sample(range(n), total):
            counts[i] = 1
        return counts
    open_ = list(range(n))
    while left > 0 and open_:
        picks = rnd.choices(open_, k=min(left, len(open_)))
        for i in picks:
            if counts[i] < high and left > 0:
                counts[i] += 1
                left -= 1
        open_ = [i for i in open_ if counts[i] < high]
    return counts


def generate_eppi(
    *, references: int, outcomes: int, codings: int | None = None, seed: int = 0, defects: Iterable[str] = (),
) -> GeneratedFile:
    """An export with `references` references, `codings` codes on them in all (5 per reference
    by default) and `outcomes` outcomes, with the chosen `defects`."""
    chosen = list(dict.fromkeys(defects))
    unknown = [d for d in chosen if d not in DEFECTS]
    if unknown:
        raise ValueError(f"unknown defects {unknown}; choose from: {', '.join(DEFECTS)}")
    if references < 1:
        raise ValueError("references must be at least 1")
    codings = 5 * references if codings is None else codings
    if not 0 <= codings <= 12 * references:
        raise ValueError(f"codings must be between 0 and {12 * references:,} (12 per reference)")
    if outcomes < 0:
        raise ValueError("outcomes cannot be negative")
    rnd = random.Random(seed)
    codes = _code_sets("unmapped-design" in chosen)
    per_reference = _plan_counts(rnd, references, codings, low=min(3, codings // references), high=12)
    with_effects = [i for i in range(references) if per_reference[i] >= 2]
    if outcomes and not with_effects:
        raise ValueError("outcomes need references coded with an intervention and an outcome (give more codings)")
    outcome_counts = [0] * references
    if outcomes:
        richness = [rnd.lognormvariate(0, 0.8) for _ in with_effects]
        for pick in rnd.choices(with_effects, weights=richness, k=outcomes):
            outcome_counts[pick] += 1
    types = list(TYPE_WEIGHTS)
    type_weights = list(TYPE_WEIGHTS.values())
    refs: list[dict[str, Any]] = []
    next_outcome = FIRST_OUTCOME
    for i in range(references):
        ref, next_outcome = _reference(rnd, codes, seed, i, per_reference[i], outcome_counts[i], next_outcome,
                                       types, type_weights)
        refs.append(ref)
    generated = GeneratedFile(
        data={"CodeSets": codes.sets, "References": refs}, seed=seed,
        selection={
            "rows": str(SET_INTERVENTIONS), "columns": str(SET_OUTCOMES), "designs": str(SET_DESIGN),
            "countries": str(SET_COUNTRY), "segments": str(SET_DESIGN),
            "filters": f"{SET_POPULATION},{SET_SETTING}",
        },
    )
    for defect in chosen:
        _inject(generated, defect, codes)
    return generated


def _reference(rnd: random.Random, codes: _Codes, seed: int, i: int, k: int, n_outcomes: int, next_outcome: int,
               types: list[int], type_weights: list[int]) -> tuple[dict[str, Any], int]:
    number = i + 1
    category = rnd.randrange(len(codes.interventions))
    group = rnd.randrange(len(codes.outcomes))
    intervention_leaves = codes.interventions[category]
    outcome_leaves = codes.outcomes[group]
    # Codes in order of how often reviewers fill them; k of them.
    chosen: list[int] = []
    slots: list[Callable[[], int]] = [
        lambda: rnd.choice(intervention_leaves),
        lambda: rnd.choice(outcome_leaves),
        lambda: rnd.choices(codes.designs, weights=codes.design_weights)[0],
        lambda: rnd.choice(codes.countries),
        lambda: rnd.choice(codes.population),
        lambda: rnd.choice(outcome_leaves),
        lambda: rnd.choice(codes.setting),
        lambda: rnd.choice(codes.language),
        lambda: rnd.choice(codes.funding),
        lambda: rnd.choice(intervention_leaves),
        lambda: rnd.choice(codes.countries),
        lambda: rnd.choice(outcome_leaves),
    ]
    for slot in slots:
        if len(chosen) == k:
            break
        for _ in range(5):  # a different code of the same kind, where there is one
            code = slot()
            if code not in chosen:
                chosen.append(code)
                break
        else:  # that kind has run out: any code the reference does not have yet
            chosen.append(rnd.choice([c for c in (*codes.population, *codes.setting) if c not in chosen]))
    year = 2025 - min(35, int(rnd.expovariate(1 / 7)))
    authors = _authors(rnd, accented=i == 0)
    first = authors.split(" ")[0]
    leaf_names = codes.names
    intervention_name = leaf_names[chosen[0]] if chosen else INTERVENTION_VOCABULARY[category][0]
    outcome_name = leaf_names[chosen[1]] if len(chosen) > 1 else OUTCOME_VOCABULARY[group][0]
    place = rnd.choice(codes.country_names[:-1])
    title = rnd.choice([
        f"{intervention_name} and {outcome_name.lower()}: evidence from {place}",
        f"The effects of {intervention_name.lower()} on {outcome_name.lower()} in {place}",
        f"Do {intervention_name.lower()} improve {outcome_name.lower()}? A study in {place}",
    ])
    ref: dict[str, Any] = {
        "QuickCitation": f"{first} et al. ({year}) {title}.",
        "ItemId": FIRST_ITEM + number,
        "Title": title,
        "ParentTitle": rnd.choice(SOURCES),
        "ShortTitle": f" {first} ({year})",
        "DateCreated": f"{year + 1}-0{1 + number % 9}-1{number % 10}T10:{number % 60:02d}:00",
        "CreatedBy": "Reviewer One",
        "DateEdited": f"{year + 2}-0{1 + number % 9}-2{number % 9}T15:{number % 60:02d}:00",
        "EditedBy": "Reviewer Two",
        "Year": str(year),
        "Month": rnd.choice(["", "January", "March", "June", "September", "December"]),
        "StandardNumber": "",
        "City": "",
        "Country": "",
        "Publisher": "",
        "Institution": "",
        "Volume": str(rnd.randint(1, 60)),
        "Pages": f"{(p := rnd.randint(1, 900))}-{p + rnd.randint(5, 40)}",
        "Edition": "",
        "Issue": str(rnd.randint(1, 12)),
        "Availability": "",
        "URL": f"https://example.org/eppi/{seed}/{number}" if rnd.random() < 0.2 else "",
        "OldItemId": str(number),
        "Abstract": (
            f"This study evaluates {intervention_name.lower()} delivered by {rnd.choice(DELIVERERS)} in {place}. "
            f"Outcomes include {outcome_name.lower()}. We also examine {rnd.choice(THEMES)}."
        ),
        "Comments": "",
        "TypeName": "Journal, Article",
        "Authors": authors,
        "ParentAuthors": "",
        "DOI": _doi(rnd, seed, number) if rnd.random() < 0.7 else "",
        "Keywords": "\n".join(rnd.sample([intervention_name, outcome_name, place, rnd.choice(THEMES)], 3)),
        "ItemStatus": "I",
        "ItemStatusTooltip": "Included in review",
    }
    if chosen:
        ref["Codes"] = [
            {"AttributeId": code, "AdditionalText": "Page 3: as described in the methods." if rnd.random() < 0.1 else "",
             "ArmId": 0, "ArmTitle": ""}
            for code in chosen
        ]
    rows = [c for c in chosen if c in intervention_leaves]
    columns = [c for c in chosen if c in outcome_leaves]
    outcomes = []
    if n_outcomes and rows and columns:
        study_g = rnd.gauss(0.15, 0.2)
        n_total = max(24, min(20000, int(rnd.lognormvariate(math.log(300), 0.9))))
        for _ in range(n_outcomes):
            next_outcome += 1
            type_id = rnd.choices(types, weights=type_weights)[0]
            column = rnd.choice(columns)
            n1 = max(5, round(n_total * rnd.uniform(0.4, 0.6)))
            n2 = max(5, n_total - n1)
            g = study_g + rnd.gauss(0, 0.1) + rnd.gauss(0, math.sqrt(1 / n1 + 1 / n2))
            outcomes.append(_outcome(rnd, next_outcome, type_id, rnd.choice(rows), column, leaf_names[column], g, n1, n2))
    ref["Outcomes"] = outcomes
    return ref, next_outcome


def _leaves(code_set: dict[str, Any]) -> Iterable[dict[str, Any]]:
    stack = list(code_set["Attributes"]["AttributesList"])
    while stack:
        attribute = stack.pop()
        yield attribute
        stack += attribute.get("Attributes", {}).get("AttributesList", [])


# --------------------------------------------------------------------------------------
# Defects
# --------------------------------------------------------------------------------------

# Each defect goes into its own reference where the file is big enough: references are taken in
# this order of preference, so that defects do not mask one another.
_SLOTS = {name: i for i, name in enumerate(DEFECTS)}


def _target(generated: GeneratedFile, defect: str, *, with_outcome_type: int | None = None) -> dict[str, Any]:
    """A reference for the defect, not yet given another one where the file allows."""
    refs = generated.references
    n = len(refs)
    used = {entry.split(",")[0] for entries in generated.defects.values() for entry in entries}
    start = (2 + 3 * _SLOTS[defect]) % n
    candidates = [refs[(start + step) % n] for step in range(n)]
    if with_outcome_type is not None:
        candidates = [r for r in candidates if any(o["OutcomeTypeId"] == with_outcome_type for o in r.get("Outcomes", []))]
    fresh = [r for r in candidates if f"ItemId {r['ItemId']}" not in used and r.get("ItemStatus") == "I"]
    if fresh or candidates:
        return (fresh or candidates)[0]
    raise ValueError(f"the file is too small for the defect {defect!r} (no reference with outcome type {with_outcome_type})")


def _inject(generated: GeneratedFile, defect: str, codes: _Codes) -> None:
    refs = generated.references
    mark = generated.defects.setdefault(defect, [])
    if defect == "unknown-attribute":
        ref = _target(generated, defect)
        ref.setdefault("Codes", []).append({"AttributeId": UNKNOWN_ATTRIBUTE, "AdditionalText": "", "ArmId": 0, "ArmTitle": ""})
        mark.append(f"ItemId {ref['ItemId']}")
    elif defect == "duplicate-itemid":
        if len(refs) < 2:
            raise ValueError("duplicate-itemid needs at least 2 references")
        ref = _target(generated, defect)
        other = refs[(refs.index(ref) + 1) % len(refs)]
        other["ItemId"] = ref["ItemId"]
        for outcome in other.get("Outcomes", []):
            outcome["ItemId"] = ref["ItemId"]
        mark.append(f"ItemId {ref['ItemId']}")
    elif defect in ("duplicate-outcomeid", "sd-zero", "smd-mismatch", "unplaced-outcome", "bad-number"):
        type_id = 1 if defect in ("sd-zero", "smd-mismatch", "bad-number") else None
        ref = _target(generated, defect, with_outcome_type=type_id if type_id is not None else 1)
        outcome = next(o for o in ref["Outcomes"] if type_id is None or o["OutcomeTypeId"] == type_id)
        where = f"ItemId {ref['ItemId']}, outcome {outcome['OutcomeId']}"
        if defect == "duplicate-outcomeid":
            others = [r for r in refs if r is not ref and r.get("Outcomes")]
            if not others:
                raise ValueError("duplicate-outcomeid needs two references with outcomes")
            others[0]["Outcomes"][0]["OutcomeId"] = outcome["OutcomeId"]
            where = f"outcome {outcome['OutcomeId']}"
        elif defect == "sd-zero":
            outcome["Data5"] = 0.0
        elif defect == "bad-number":
            outcome["Data1"] = "forty"
        elif defect == "smd-mismatch":
            outcome["SMD"] = outcome["SMD"] + 0.1
        else:
            outcome["ItemAttributeIdIntervention"] = 0
        mark.append(where)
    elif defect == "unmapped-design":
        ref = _target(generated, defect)
        codes_of = ref.setdefault("Codes", [])
        codes_of[:] = [c for c in codes_of if c["AttributeId"] not in codes.designs]
        codes_of.append({"AttributeId": codes.case_study, "AdditionalText": "", "ArmId": 0, "ArmTitle": ""})
        mark.append(f"ItemId {ref['ItemId']}")
    else:
        ref = _target(generated, defect)
        mark.append(f"ItemId {ref['ItemId']}")
        if defect == "year-19xx":
            ref["Year"] = "19xx"
        elif defect == "no-codes":
            ref.pop("Codes", None)
            ref["Outcomes"] = []
        elif defect == "no-abstract":
            ref["Abstract"] = ""
        elif defect == "no-year":
            ref["Year"] = ""
        elif defect == "bad-doi":
            ref["DOI"] = "not available"
        elif defect == "excluded":
            ref["ItemStatus"] = "E"
            ref["ItemStatusTooltip"] = "Excluded"
        elif defect == "unknown-keys":
            generated.data["ExportedWith"] = "a converter script"
            ref["Tags"] = ["reviewed"]
            for other in refs:
                if other.get("Outcomes"):
                    other["Outcomes"][0]["Weighting"] = 1.0
                    mark.append(f"ItemId {other['ItemId']}, outcome {other['Outcomes'][0]['OutcomeId']}")
                    break
