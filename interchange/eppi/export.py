"""A whole map as an EPPI-Reviewer-style JSON export, in the shape `interchange.eppi.read` reads
(`../shared/formats/eppi-reviewer-json.md`), so that importing it into an empty map gives the
same map.

* Code sets: the map's code sets with their codes (SetId and AttributeId = their external ids
  where those are whole numbers, else stable ids generated from the row's primary key); the
  framework's rows and columns, unless they are already codes of a code set (a map imported
  from EPPI-Reviewer), as two more code sets; and, so that a study's design and countries come
  back, a code set of the designs and one of the countries the studies use.
* References: the studies the user may see (`visible_to`), ItemId = external id or a stable
  generated one, with every field the importer reads, their codings as Codes, and their
  effect sizes as Outcomes.
* Outcomes: means and SDs (type 1), 2 x 2 counts (type 2), a t statistic (type 5) and a
  correlation (type 7) as their input data, which reproduce our g exactly; every other input
  kind as a manual entry of our g and its standard error (type 0), which reproduces g and its
  variance. Each carries our g as "SMD" and its SE as "SESMD".

What does not live here: reading and importing (read.py, convert.py); the response (views.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch
from django_countries import countries

from evidence.models import Code, CodeSet, EvidenceMap, Intervention, Outcome
from evidence.synthesis.presenter import finite
from interchange.eppi.convert import Selection
from interchange.eppi.outcomes import TYPE_NAMES
from interchange.importing.vocabulary import country_for
from studies.models import CITATION_ORDER, EffectSize, Status, Study, StudyDesign

# Generated ids: a kind's base plus the row's primary key (stable from one export to the next),
# moved on to the next free number where a real external id already holds it. SetIds and
# AttributeIds are generated apart, so that a generated id never names both.
_BASE = {
    "set": 5_000_000_000,
    "code": 1_000_000_000,
    "row": 2_000_000_000,
    "column": 3_000_000_000,
    "design": 4_100_000_000,
    "country": 4_200_000_000,
    "item": 1_000_000_000,
    "outcome": 1_000_000_000,
}
_EXTRA_SETS = 5_900_000_000  # SetIds of the framework, design and country code sets
SELECTABLE = "Selectable (show checkbox)"


def _numeric(external_id: str) -> int | None:
    return int(external_id) if external_id.isdigit() and int(external_id) > 0 else None


class _Ids:
    """One id space (SetIds, AttributeIds, ItemIds, OutcomeIds): external ids kept where they are
    whole numbers and not taken, else generated."""

    def __init__(self, external_ids: Iterable[str]) -> None:
        self.reserved = {n for e in external_ids if (n := _numeric(e)) is not None}
        self.used: set[int] = set()

    def take(self, external_id: str, fallback: int) -> int:
        n = _numeric(external_id)
        if n is None or n in self.used:
            n = fallback
            while n in self.used or n in self.reserved:
                n += 1
        self.used.add(n)
        return n


@dataclass
class MapExport:
    """The file's content, and the choices that import it back as the same map."""

    data: dict[str, Any]
    selection: Selection

    def import_options(self) -> list[str]:
        """The options of `manage.py import_eppi` that import this file as the same map."""
        s = self.selection
        options = ["--rows", ",".join(s.rows), "--columns", ",".join(s.columns)]
        for name, value in (
            ("--segments", s.segments),
            ("--designs", s.designs),
            ("--countries", s.countries),
        ):
            if value:
                options += [name, value]
        if s.filters:
            options += ["--filters", ",".join(s.filters)]
        return [*options, "--publish"] if s.publish else options


def _attribute(
    attribute_id: int,
    set_id: int,
    name: str,
    description: str = "",
    kind: str = SELECTABLE,
    children: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "AttributeId": attribute_id,
        "AttributeSetId": attribute_id,
        "AttributeName": name,
        "AttributeDescription": description,
        "AttributeType": kind,
    }
    if children:
        attribute["Attributes"] = {"AttributesList": children}
    return attribute


def _code_set(
    set_id: int, name: str, description: str, attributes: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "SetName": name,
        "SetId": set_id,
        "SetDescription": description,
        "SetType": {"SetTypeName": "Standard"},
        "Attributes": {"AttributesList": attributes},
    }


def _forest(rows: list[Any], ids: dict[int, int], set_id: int, kind: str) -> list[dict[str, Any]]:
    """Rows with a parent_id as nested attributes, siblings in their order."""
    children: dict[int | None, list[Any]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.position, r.pk)):
        children[row.parent_id].append(row)

    def build(parent: int | None) -> list[dict[str, Any]]:
        return [
            _attribute(ids[row.pk], set_id, row.name, row.description, kind, build(row.pk))
            for row in children[parent]
        ]

    return build(None)


def _free_name(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    taken.add(candidate)
    return candidate


def _se(variance: float) -> float | None:
    return math.sqrt(variance) if math.isfinite(variance) and variance >= 0 else None


def _outcome(
    effect: EffectSize, outcome_id: int, item_id: int, row: int, column: int
) -> dict[str, Any]:
    data: list[float | None] = [0.0] * 14
    kind = effect.input_kind
    if kind == "means":
        type_id = 1
        data[:6] = [effect.n_1, effect.n_2, effect.mean_1, effect.mean_2, effect.sd_1, effect.sd_2]
    elif kind == "counts_2x2":
        type_id = 2
        assert (
            effect.events_1 is not None
            and effect.events_2 is not None
            and effect.n_1
            and effect.n_2
        )
        data[:4] = [
            effect.events_1,
            effect.events_2,
            effect.n_1 - effect.events_1,
            effect.n_2 - effect.events_2,
        ]
    elif kind == "t_stat" and effect.t_value:
        type_id = 5
        data[:3] = [effect.n_1, effect.n_2, effect.t_value]
    elif kind == "correlation":
        type_id = 7
        data[:2] = [effect.n_total, effect.r_value]
    else:
        # EPPI-Reviewer has no outcome type for this input (or, for t = 0, it reads as "no
        # data"): our g and its SE, which the importer takes as they are.
        type_id = 0
        data[:2] = [finite(effect.g), _se(effect.var_g)]
    se = _se(effect.var_g)
    outcome: dict[str, Any] = {
        "OutcomeId": outcome_id,
        "ItemId": item_id,
        "OutcomeTypeId": type_id,
        "OutcomeTypeName": TYPE_NAMES[type_id],
        "ItemAttributeIdIntervention": row,
        "ItemAttributeIdControl": 0,
        "ItemAttributeIdOutcome": column,
        "Title": effect.label,
        "OutcomeDescription": effect.notes,
        "SMD": finite(effect.g),
        "SESMD": se,
    }
    outcome.update({f"Data{i}": float(value or 0) for i, value in enumerate(data, start=1)})
    return outcome


def _reference(
    study: Study, item_id: int, codes: list[int], outcomes: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "ItemId": item_id,
        "Title": study.title,
        "ShortTitle": study.short_title,
        "ParentTitle": study.source,
        "Year": "" if study.year is None else str(study.year),
        "Authors": study.authors,
        "Abstract": study.abstract,
        "DOI": study.doi,
        "URL": study.url,
        "Keywords": study.keywords,
        "Volume": study.volume,
        "Issue": study.issue,
        "Pages": study.pages,
        "ItemStatus": "I",
        "Codes": [{"AttributeId": a, "AdditionalText": ""} for a in codes],
        "Outcomes": outcomes,
    }


def export_map(evidence_map: EvidenceMap, user: object) -> MapExport:
    """The map as EPPI-Reviewer JSON: its framework and code sets, and the studies and effect
    sizes `user` may see (published ones only for readers who may not see drafts)."""
    code_sets = list(CodeSet.objects.filter(evidence_map=evidence_map).order_by("position", "pk"))
    codes = list(Code.objects.filter(code_set__evidence_map=evidence_map))
    interventions = list(Intervention.objects.filter(evidence_map=evidence_map))
    outcomes = list(Outcome.objects.filter(evidence_map=evidence_map))
    studies = list(
        Study.objects.visible_to(user)
        .filter(evidence_map=evidence_map)
        .order_by(*CITATION_ORDER)
        .prefetch_related(
            Prefetch("codes", queryset=Code.objects.only("id")),
            Prefetch("interventions", queryset=Intervention.objects.only("id")),
            Prefetch("outcomes", queryset=Outcome.objects.only("id")),
        )
    )
    effects = list(
        EffectSize.objects.visible_to(user).filter(study__evidence_map=evidence_map).order_by("pk")
    )

    set_ids = _Ids(s.external_id for s in code_sets)
    set_id = {s.pk: set_ids.take(s.external_id, _BASE["set"] + s.pk) for s in code_sets}
    attribute_ids = _Ids(
        [c.external_id for c in codes] + [n.external_id for n in (*interventions, *outcomes)]
    )
    code_id = {c.pk: attribute_ids.take(c.external_id, _BASE["code"] + c.pk) for c in codes}
    code_by_external = {c.external_id: code_id[c.pk] for c in codes if c.external_id}

    file_sets: list[dict[str, Any]] = []
    names = {s.name for s in code_sets}
    frame: dict[str, dict[int, int]] = {}
    roots: dict[str, list[str]] = {}
    framework: tuple[tuple[str, list[Any], str, str], ...] = (
        ("row", interventions, "Intervention", "Framework rows"),
        ("column", outcomes, "Outcome", "Framework columns"),
    )
    for what, rows, kind, name in framework:
        if rows and all(r.external_id in code_by_external for r in rows):
            # The framework is drawn from a code set (a map imported from EPPI-Reviewer): the
            # same attributes, so the file keeps one id for each.
            frame[what] = {r.pk: code_by_external[r.external_id] for r in rows}
        else:
            frame[what] = {
                r.pk: attribute_ids.take(r.external_id, _BASE[what] + r.pk) for r in rows
            }
            extra = set_ids.take("", _EXTRA_SETS + len(file_sets) + 1)
            description = f"The map's {what}s (the framework), exported from the portal."
            file_sets.append(
                _code_set(
                    extra,
                    _free_name(name, names),
                    description,
                    _forest(rows, frame[what], extra, kind),
                )
            )
        roots[what] = [
            str(frame[what][r.pk])
            for r in sorted(rows, key=lambda r: (r.position, r.pk))
            if r.parent_id is None
        ]

    # A study's design and countries, as codes the importer reads back (by name).
    designs = {
        d: attribute_ids.take("", _BASE["design"] + i) for i, d in enumerate(StudyDesign.values)
    }
    used_designs = [d for d in StudyDesign.values if any(s.design == d for s in studies)]
    used_countries = sorted({str(c.code) for s in studies for c in s.countries})
    country_ids = {
        c: attribute_ids.take("", _BASE["country"] + (ord(c[0]) - 64) * 100 + ord(c[1]) - 64)
        for c in used_countries
    }
    global_id = (
        attribute_ids.take("", _BASE["country"]) if any(s.is_global for s in studies) else None
    )
    design_set = country_set = None
    if used_designs:
        design_set = set_ids.take("", _EXTRA_SETS + len(file_sets) + 1)
        labels = dict(StudyDesign.choices)
        file_sets.append(
            _code_set(
                design_set,
                _free_name("Study design (of each study)", names),
                "",
                [_attribute(designs[d], design_set, str(labels[d])) for d in used_designs],
            )
        )
    if used_countries or global_id is not None:
        country_set = set_ids.take("", _EXTRA_SETS + len(file_sets) + 1)
        attributes = [] if global_id is None else [_attribute(global_id, country_set, "Global")]
        for c in used_countries:
            name = countries.name(c)
            attributes.append(
                _attribute(country_ids[c], country_set, name if country_for(name) == c else c)
            )
        file_sets.append(
            _code_set(country_set, _free_name("Countries (of each study)", names), "", attributes)
        )

    for code_set in code_sets:
        in_set = [c for c in codes if c.code_set_id == code_set.pk]
        file_sets.append(
            _code_set(
                set_id[code_set.pk],
                code_set.name,
                code_set.description,
                _forest(in_set, code_id, set_id[code_set.pk], SELECTABLE),
            )
        )

    item_ids = _Ids(s.external_id for s in studies)
    item_id = {s.pk: item_ids.take(s.external_id, _BASE["item"] + s.pk) for s in studies}
    outcome_ids = _Ids(e.external_id for e in effects)
    by_study: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for effect in effects:
        outcome_id = outcome_ids.take(effect.external_id, _BASE["outcome"] + effect.pk)
        by_study[effect.study_id].append(
            _outcome(
                effect,
                outcome_id,
                item_id[effect.study_id],
                frame["row"][effect.intervention_id],
                frame["column"][effect.outcome_id],
            )
        )
    references = []
    for study in studies:
        coded = [code_id[c.pk] for c in study.codes.all()]
        coded += [frame["row"][i.pk] for i in study.interventions.all()]
        coded += [frame["column"][o.pk] for o in study.outcomes.all()]
        if study.design in used_designs:
            coded.append(designs[study.design])
        coded += [country_ids[str(c.code)] for c in study.countries]
        if study.is_global and global_id is not None:
            coded.append(global_id)
        references.append(
            _reference(study, item_id[study.pk], list(dict.fromkeys(coded)), by_study[study.pk])
        )

    segment = evidence_map.segment_code_set_id
    selection = Selection(
        rows=tuple(roots["row"]),
        columns=tuple(roots["column"]),
        segments=str(set_id[segment]) if segment in set_id else None,
        filters=tuple(str(set_id[s.pk]) for s in code_sets if s.is_filter),
        designs=None if design_set is None else str(design_set),
        countries=None if country_set is None else str(country_set),
        # Published studies come back published; a member's export with drafts comes back as drafts.
        publish=bool(studies) and all(s.status == Status.PUBLISHED for s in studies),
    )
    return MapExport(data={"CodeSets": file_sets, "References": references}, selection=selection)
