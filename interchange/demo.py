"""The demo map: a small human-rights-diplomacy map, loadable again and again without duplicates.

The example cell (diplomatic efforts × political security) follows the facts of a published
cell summary; every other study is an illustrative record, named "Demo-…" so that nobody takes
it for a real citation. The numbers are illustrative too (the map's description says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import translation

from evidence.models import (
    CellSummary,
    Code,
    CodeSet,
    Direction,
    EvidenceMap,
    Intervention,
    Outcome,
)
from evidence.services import framework_save
from studies import services as study_services
from studies.models import EffectSize, Status, Study

DEMO_SLUG = "human-rights-diplomacy"

DESCRIPTION = """\
A small demonstration map of what is known about diplomatic and other international efforts to
improve human rights.

**Demo data.** The cell *Diplomatic recognition and other diplomatic efforts × Political
security* is built from the facts of a published cell summary (Kahn-Nisser 2018; Myrick 2021).
Where that summary gives no numbers, the effect sizes are illustrative values chosen for this
demo, and the study titles describe the studies rather than quote them. Every other study on
this map ("Demo-…") is an invented, illustrative record. Do not cite anything here.
"""

INCLUSION = """\
- Quantitative or mixed-methods evaluations of international human rights efforts.
- Outcomes on political security, physical integrity rights, political imprisonment,
  civil liberties or the rule of law.
- Published 2000 or later, any country.
"""

# (name, description, children)
INTERVENTIONS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("Diplomatic engagement", "Efforts by states and their diplomats.", [
        ("Diplomatic recognition and other diplomatic efforts",
         "Public and private diplomacy: shaming, recognition, advocacy campaigns and incentives."),
        ("Targeted sanctions", "Asset freezes, travel bans and trade measures aimed at rights abusers."),
        ("Conditional aid", "Aid tied to progress on human rights."),
    ]),
    ("Legal and institutional reform", "Changes to the rules and bodies that protect rights.", [
        ("Human rights treaty ratification", "Joining and ratifying international human rights treaties."),
        ("National human rights institutions", "Ombudspersons and national human rights commissions."),
    ]),
    ("Support to civil society", "Help for the people and groups who defend rights.", [
        ("Funding for human rights defenders", "Grants and protection programmes for defenders."),
        ("Human rights education", "Training for officials, police and the public."),
    ]),
]

# (name, description, desirable direction, children)
OUTCOMES: list[tuple[str, str, list[tuple[str, str, str]]]] = [
    ("Security and rights", "Freedom from political violence and repression.", [
        ("Political security", "Freedom of assembly, association and political participation.", Direction.HIGHER),
        ("Physical integrity rights", "Freedom from torture, killing and disappearance.", Direction.HIGHER),
        ("Political imprisonment", "The number of people held for political reasons.", Direction.LOWER),
    ]),
    ("Governance", "How states are run.", [
        ("Civil liberties", "Freedom of expression, the press and religion.", Direction.HIGHER),
        ("Rule of law", "Independent courts and equal treatment under the law.", Direction.HIGHER),
    ]),
]


@dataclass
class DemoStudy:
    key: str
    authors: str
    year: int
    title: str
    design: str
    confidence: str
    countries: list[str]
    population: str
    abstract: str
    cells: list[tuple[str, str]]
    effects: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""
    is_global: bool = False
    status: str = Status.PUBLISHED


# French names for a few of the demo's texts, to show a map translated per map (README,
# "Languages"); the rest falls back to English, as an untranslated text does.
FRENCH = {
    "Human rights diplomacy (demo)": "Diplomatie des droits humains (démo)",
    "Diplomatic engagement": "Engagement diplomatique",
    "Targeted sanctions": "Sanctions ciblées",
    "Legal and institutional reform": "Réforme juridique et institutionnelle",
    "Support to civil society": "Soutien à la société civile",
    "Security and rights": "Sécurité et droits",
    "Physical integrity rights": "Droits à l'intégrité physique",
    "Governance": "Gouvernance",
}

DIPLOMACY = "Diplomatic recognition and other diplomatic efforts"
POLITICAL_SECURITY = "Political security"

EXAMPLE_STUDIES = [
    DemoStudy(
        key="demo-kahn-nisser-2018",
        authors="Kahn-Nisser, S.",
        year=2018,
        title="Shaming and incentives in the European Neighbourhood Policy and human rights reform",
        source="Peer-reviewed journal article",
        design="other_qed",
        confidence="medium",
        countries=["DZ", "AM", "AZ", "BY", "EG", "GE", "IL", "JO", "LB", "LY", "MD", "MA", "SY", "TN", "UA"],
        population="Governments of 15 European Neighbourhood Policy partner countries, 2001-2011",
        abstract=(
            "Asks whether the European Union's mix of public criticism in annual monitoring reports "
            "and aid tied to National Action Plans moved 15 neighbouring countries towards human rights "
            "reform. Newly coded country-year data are analysed with regression models and Granger "
            "causality tests; the outcome is an index of political empowerment rights. Neither shaming "
            "nor incentives shows a statistically significant effect (p > 0.05)."
        ),
        cells=[(DIPLOMACY, POLITICAL_SECURITY)],
        effects=[
            {"label": "Shaming in monitoring reports vs no shaming", "input_kind": "es_se",
             "es_value": 0.031, "es_se": 0.092},
            {"label": "Financial incentives vs no incentives", "input_kind": "es_se",
             "es_value": -0.018, "es_se": 0.105},
        ],
    ),
    DemoStudy(
        key="demo-myrick-2021",
        authors="Myrick, R.",
        year=2021,
        title="Public and private diplomacy in the #Freethe20 campaign for female political prisoners",
        source="Peer-reviewed journal article",
        design="mixed",
        confidence="high",
        countries=["AZ", "MM", "CN", "EG", "ER", "ET", "IR", "KP", "RU", "SY", "UZ", "VE", "VN"],
        population="Female political prisoners in 13 countries, imprisoned 2000-2015",
        abstract=(
            "Studies a United States campaign that named 20 imprisoned women in 13 countries and pressed "
            "for their release through media work, private negotiation and inducements. Release rates of "
            "the 19 identifiable women are compared with two comparison groups, and officials were "
            "interviewed. Women featured in the campaign had 58% higher odds of release (p < 0.01), also "
            "among women imprisoned in 2015, the year the campaign began."
        ),
        cells=[(DIPLOMACY, POLITICAL_SECURITY)],
        effects=[
            {"label": "Campaign vs comparison, prisoners held 2000-2015", "input_kind": "odds_ratio_ci",
             "ratio": 1.58, "ci_low": 1.17, "ci_high": 2.13, "ci_level": 95.0},
            {"label": "Campaign vs comparison, 2015 cohort", "input_kind": "odds_ratio_ci",
             "ratio": 1.56, "ci_low": 1.13, "ci_high": 2.15, "ci_level": 95.0},
        ],
    ),
]


def _illustrative(
    key: str, year: int, design: str, confidence: str, countries: list[str], cell: tuple[str, str],
    effects: list[tuple[float, float]], *, population: str = "", status: str = Status.PUBLISHED,
    topic: str = "",
) -> DemoStudy:
    """An invented study with effect sizes given as (g, SE) pairs."""
    name = key.split("-")[1].capitalize()
    return DemoStudy(
        key=f"demo-{key}",
        authors=f"Demo-{name}, A.; Demo-{name}, B.",
        year=year,
        title=f"Illustrative evaluation of {cell[0].lower()}{topic} and {cell[1].lower()}",
        source="Illustrative record (demo data)",
        design=design,
        confidence=confidence,
        countries=countries,
        population=population,
        abstract=(
            f"An invented study for the demo map. It estimates the effect of {cell[0].lower()} on "
            f"{cell[1].lower()}. Its numbers are illustrative."
        ),
        cells=[cell],
        effects=[
            {"label": f"Estimate {i + 1}", "input_kind": "es_se", "es_value": g, "es_se": se}
            for i, (g, se) in enumerate(effects)
        ],
        status=status,
    )


SANCTIONS = ("Targeted sanctions", "Physical integrity rights")
AID = ("Conditional aid", "Civil liberties")
TREATIES = ("Human rights treaty ratification", "Physical integrity rights")
NHRI = ("National human rights institutions", "Rule of law")
DEFENDERS = ("Funding for human rights defenders", "Political imprisonment")

ILLUSTRATIVE_STUDIES = [
    _illustrative("s-alpha", 2014, "did", "medium", ["ZW", "BY"], SANCTIONS, [(0.08, 0.06), (0.02, 0.07)]),
    _illustrative("s-beta", 2017, "its", "high", ["MM"], SANCTIONS, [(0.12, 0.05), (0.09, 0.05)]),
    _illustrative("s-gamma", 2020, "matching", "medium", ["VE", "NI", "CU"], SANCTIONS, [(-0.03, 0.08)]),
    _illustrative("a-delta", 2009, "did", "low", ["KE"], AID, [(0.21, 0.09)]),
    _illustrative("a-epsilon", 2012, "rct", "high", ["UG"], AID, [(0.15, 0.07)]),
    _illustrative("a-zeta", 2016, "iv", "medium", ["GH", "SN"], AID, [(0.28, 0.11)]),
    _illustrative("a-eta", 2019, "other_qed", "medium", ["MW"], AID, [(0.10, 0.08)]),
    *[
        _illustrative(f"t-{name}", year, design, conf, countries, TREATIES, [(g, se)])
        for name, year, design, conf, countries, g, se in [
            ("theta", 2005, "other_qed", "medium", ["AR"], 0.35, 0.20),
            ("iota", 2006, "did", "medium", ["BR"], 0.24, 0.15),
            ("kappa", 2008, "iv", "high", ["CL"], 0.05, 0.05),
            ("lambda", 2009, "other_qed", "low", ["IN"], 0.41, 0.25),
            ("mu", 2010, "did", "medium", ["ID"], 0.12, 0.09),
            ("nu", 2011, "matching", "medium", ["PH"], 0.30, 0.18),
            ("xi", 2013, "its", "high", ["TR"], 0.07, 0.06),
            ("omicron", 2014, "did", "medium", ["MX"], 0.18, 0.12),
            ("pi", 2015, "other_qed", "low", ["PK"], 0.52, 0.30),
            ("rho", 2017, "rdd", "high", ["ZA"], 0.04, 0.04),
            ("sigma", 2019, "did", "medium", ["CO"], 0.15, 0.10),
            ("tau", 2022, "matching", "medium", ["PE"], 0.26, 0.16),
        ]
    ],
    _illustrative("n-upsilon", 2018, "qualitative", "medium", ["GH", "KE"], NHRI, []),
    _illustrative("d-phi", 2015, "did", "medium", ["EG"], DEFENDERS, [(-0.22, 0.10)]),
    _illustrative("d-chi", 2021, "matching", "low", ["UZ", "KZ"], DEFENDERS, [(-0.14, 0.09)]),
    _illustrative(
        "d-psi", 2023, "rct", "high", ["ET"], DEFENDERS, [(-0.40, 0.12)], status=Status.DRAFT,
        topic=" (draft, not yet published)",
    ),
]

# The map's own code sets: (name, slug, description, offered as a filter, codes), each code
# (name, children). Setting is a filter; Population group segments the bubbles.
SETTING = "Setting"
POPULATION_GROUP = "Population group"
CODE_SETS: list[tuple[str, str, str, bool, list[tuple[str, list[str]]]]] = [
    (SETTING, "setting", "The state of the country where the effort took place, at the time.", True, [
        ("Conflict-affected", ["Active armed conflict", "Post-conflict transition"]),
        ("Not in armed conflict", ["Authoritarian regime", "Hybrid regime", "Electoral democracy"]),
    ]),
    (POPULATION_GROUP, "population-group", "Whose rights the effort set out to protect.", False, [
        ("People at particular risk", ["Political prisoners and detainees", "Human rights defenders and journalists"]),
        ("Women and girls", []),
        ("Ethnic and religious minorities", []),
        ("General population", []),
    ]),
]

# Each study's codes: (settings, population groups); a study may have none of a set.
STUDY_CODES: dict[str, tuple[list[str], list[str]]] = {
    "demo-kahn-nisser-2018": (["Authoritarian regime", "Hybrid regime"], ["General population"]),
    "demo-myrick-2021": (["Authoritarian regime"], ["Political prisoners and detainees", "Women and girls"]),
    "demo-s-alpha": (["Authoritarian regime"], ["Human rights defenders and journalists"]),
    "demo-s-beta": (["Active armed conflict"], ["Ethnic and religious minorities"]),
    "demo-s-gamma": (["Authoritarian regime", "Hybrid regime"], ["General population"]),
    "demo-a-delta": (["Electoral democracy"], ["General population"]),
    "demo-a-epsilon": (["Hybrid regime"], ["Women and girls"]),
    "demo-a-zeta": (["Electoral democracy"], []),
    "demo-a-eta": (["Electoral democracy"], ["Women and girls"]),
    "demo-t-theta": (["Electoral democracy"], ["General population"]),
    "demo-t-iota": (["Electoral democracy"], ["General population"]),
    "demo-t-kappa": (["Electoral democracy"], []),
    "demo-t-lambda": (["Electoral democracy"], ["Ethnic and religious minorities"]),
    "demo-t-mu": (["Electoral democracy"], ["General population"]),
    "demo-t-nu": (["Hybrid regime"], ["Political prisoners and detainees"]),
    "demo-t-xi": (["Hybrid regime"], ["Ethnic and religious minorities"]),
    "demo-t-omicron": (["Electoral democracy"], ["General population"]),
    "demo-t-pi": (["Hybrid regime"], []),
    "demo-t-rho": (["Electoral democracy"], ["General population"]),
    "demo-t-sigma": (["Post-conflict transition"], ["Ethnic and religious minorities"]),
    "demo-t-tau": (["Electoral democracy"], ["Women and girls"]),
    "demo-n-upsilon": (["Electoral democracy"], []),
    "demo-d-phi": (["Authoritarian regime"], ["Human rights defenders and journalists"]),
    "demo-d-chi": (["Authoritarian regime"], ["Human rights defenders and journalists"]),
    "demo-d-psi": (["Active armed conflict"], ["Human rights defenders and journalists"]),
}

EXAMPLE_SUMMARY = {
    "headline": (
        "A broad campaign for human rights reform had no detectable effect, but a campaign for the "
        "release of named political prisoners raised their chances of release. Taken together, the "
        "effect of diplomatic efforts on political security is moderate."
    ),
    "short_summary": (
        "Diplomatic efforts such as public shaming, incentives and advocacy campaigns press "
        "governments to reform. In the two studies of this cell, rhetorical pressure and financial "
        "incentives made no significant difference, while targeted diplomacy for named prisoners "
        "clearly increased releases. Confidence in this finding is low because only two studies "
        "contribute to it."
    ),
    "about_intervention": (
        "Two programmes are studied. The European Neighbourhood Policy combined critical annual "
        "monitoring reports, National Action Plans and aid allocations tied to compliance, in 15 "
        "countries around the European Union. The #Freethe20 campaign, led by the United States, used "
        "media work and public \"naming and shaming\" together with private negotiation and "
        "inducements to free women held as political prisoners in 13 countries."
    ),
    "mechanism": (
        "Public criticism is meant to raise the reputational cost of abuses, and incentives to reward "
        "reform. Media campaigns draw international attention to a government's conduct, while "
        "private talks and inducements remove the practical and bureaucratic obstacles to a release. "
        "Pressure from outside and quiet diplomacy are expected to reinforce each other."
    ),
    "evidence_base": (
        "Two studies. One is a quantitative analysis of 15 countries in Europe, Asia and Africa, "
        "including Algeria, Tunisia and Ukraine. The other uses mixed methods: a comparison of release "
        "rates and interviews with officials, covering 13 countries such as Azerbaijan, China, Egypt, "
        "Myanmar and Venezuela."
    ),
    "findings": (
        "General incentives and criticism showed little effect on political empowerment rights. "
        "Targeted diplomacy on behalf of named prisoners increased the odds of release by 58%."
    ),
    "confidence_assessment": (
        "Low: the rating rests on only two studies, too few for a firm conclusion, although each "
        "study is of medium or high confidence on its own."
    ),
}


def _assign(instance: Any, values: dict[str, Any]) -> bool:
    """Set attributes; True when the instance is new or any value changed (so it needs saving)."""
    changed: bool = instance._state.adding
    for attr, value in values.items():
        if changed or getattr(instance, attr) != value:
            setattr(instance, attr, value)
            changed = True
    return changed


def _node(model: type[Intervention] | type[Outcome], evidence_map: EvidenceMap, name: str,
          parent: Intervention | Outcome | None, position: int, **extra: Any) -> Any:
    parent_id = parent.pk if parent is not None else None
    node = model.objects.filter(evidence_map=evidence_map, parent_id=parent_id, name=name).first()
    node = node or model(evidence_map=evidence_map, parent_id=parent_id, name=name)
    if _assign(node, {"position": position, "name_fr": FRENCH.get(name), **extra}):
        framework_save(instance=node, user=None)
    return node


def load_demo() -> EvidenceMap:
    """Create or update the demo map; running it again changes nothing that is already right."""
    # The demo's texts are its English originals, whatever language is active (a name set or
    # looked up under French would be the French column's).
    with translation.override("en"):
        return _load_demo()


@transaction.atomic
def _load_demo() -> EvidenceMap:
    evidence_map = EvidenceMap.objects.filter(slug=DEMO_SLUG).first() or EvidenceMap(slug=DEMO_SLUG)
    if _assign(evidence_map, {
        "title": "Human rights diplomacy (demo)",
        "title_fr": FRENCH["Human rights diplomacy (demo)"],
        "description": DESCRIPTION,
        "search_dates": "January 2000 to June 2024 (illustrative)",
        "inclusion_criteria": INCLUSION,
        "is_published": True,
    }):
        framework_save(instance=evidence_map, user=None)

    interventions: dict[str, Intervention] = {}
    for i, (name, description, children) in enumerate(INTERVENTIONS):
        parent = _node(Intervention, evidence_map, name, None, i, description=description)
        for j, (child, child_description) in enumerate(children):
            interventions[child] = _node(Intervention, evidence_map, child, parent, j, description=child_description)
    outcomes: dict[str, Outcome] = {}
    for i, (name, description, outcome_children) in enumerate(OUTCOMES):
        group = _node(Outcome, evidence_map, name, None, i, description=description)
        for j, (child, child_description, direction) in enumerate(outcome_children):
            outcomes[child] = _node(
                Outcome, evidence_map, child, group, j, description=child_description,
                desirable_direction=direction,
            )

    codes: dict[str, Code] = {}
    for position, (name, slug, description, is_filter, tree) in enumerate(CODE_SETS):
        code_set = _code_set(evidence_map, name, position, slug=slug, description=description, is_filter=is_filter)
        for i, (top, below) in enumerate(tree):
            codes[top] = top_code = _code(code_set, top, None, i)
            for j, name_below in enumerate(below):
                codes[name_below] = _code(code_set, name_below, top_code, j)
    segments = CodeSet.objects.get(evidence_map=evidence_map, name=POPULATION_GROUP)
    if _assign(evidence_map, {"segment_code_set": segments}):
        framework_save(instance=evidence_map, user=None)

    for demo in [*EXAMPLE_STUDIES, *ILLUSTRATIVE_STUDIES]:
        study = _load_study(evidence_map, demo, interventions, outcomes)
        settings, groups = STUDY_CODES[demo.key]
        # set() adds and removes only the difference, so a rerun records no history here.
        study.codes.set([codes[name] for name in [*settings, *groups]])

    summary = CellSummary.objects.filter(
        evidence_map=evidence_map, intervention=interventions[DIPLOMACY], outcome=outcomes[POLITICAL_SECURITY]
    ).first() or CellSummary(
        evidence_map=evidence_map, intervention=interventions[DIPLOMACY], outcome=outcomes[POLITICAL_SECURITY]
    )
    if _assign(summary, EXAMPLE_SUMMARY):
        framework_save(instance=summary, user=None)
    return evidence_map


def _code_set(evidence_map: EvidenceMap, name: str, position: int, **values: Any) -> CodeSet:
    code_set = CodeSet.objects.filter(evidence_map=evidence_map, name=name).first()
    code_set = code_set or CodeSet(evidence_map=evidence_map, name=name)
    if _assign(code_set, {"position": position, **values}):
        framework_save(instance=code_set, user=None)
    return code_set


def _code(code_set: CodeSet, name: str, parent: Code | None, position: int) -> Code:
    parent_id = parent.pk if parent is not None else None
    code = Code.objects.filter(code_set=code_set, parent_id=parent_id, name=name).first()
    code = code or Code(code_set=code_set, parent_id=parent_id, name=name)
    if _assign(code, {"position": position}):
        framework_save(instance=code, user=None)
    return code


def _load_study(
    evidence_map: EvidenceMap, demo: DemoStudy,
    interventions: dict[str, Intervention], outcomes: dict[str, Outcome],
) -> Study:
    study = Study.objects.filter(evidence_map=evidence_map, external_id=demo.key).first()
    study = study or Study(evidence_map=evidence_map, external_id=demo.key)
    fields = {attr: getattr(demo, attr) for attr in (
        "authors", "year", "title", "source", "design", "confidence", "population", "abstract", "is_global", "status",
    )}
    countries_changed = sorted(str(c) for c in study.countries) != sorted(demo.countries)
    if _assign(study, fields) or countries_changed:
        study.countries = demo.countries
        study_services.study_save(study=study, user=None)
    # set() adds and removes only the difference, so a rerun records no history here.
    study.interventions.set([interventions[i] for i, _ in demo.cells])
    study.outcomes.set([outcomes[o] for _, o in demo.cells])
    intervention, outcome = interventions[demo.cells[0][0]], outcomes[demo.cells[0][1]]
    existing = {es.label: es for es in study.effect_sizes.all()}
    for spec in demo.effects:
        es = existing.pop(spec["label"], None) or EffectSize(study=study, label=spec["label"])
        if _assign(es, {"intervention": intervention, "outcome": outcome, **spec}):
            study_services.effect_size_save(effect_size=es, user=None)
    for stale in existing.values():
        study_services.effect_size_delete(effect_size=stale, user=None)
    return study
