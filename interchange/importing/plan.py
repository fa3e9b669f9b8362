"""The plan of an import: a `MapRecord` compared with the map as it is.

`plan_import` reads the map once (a query per kind of row), finds each record's row (by its
key, which is the row's external id; a study also by DOI, a node or code also by its name
under the same parent when the row has no external id yet), and sorts every record into
create, update (with the fields that change) or unchanged; rows of the map that the file does
not have are listed as missing, never deleted. Every row to be written is validated here as
`studies.services.save_validated` validates it (the model's field validation and `clean()`,
which for an effect size converts its input to Hedges' g), and the map's unique constraints
are checked in memory against the rows the map keeps, so that the report names every record
at fault before anything is written. The writer (`interchange.importing.write`) then only
saves what the plan holds.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Model
from django.utils.text import slugify

from evidence.filters import StudyFilterSet
from evidence.models import Code, CodeSet, EvidenceMap, Intervention, Outcome, Role
from interchange.importing.records import (
    CodeSetRecord,
    EffectRecord,
    MapRecord,
    NodeRecord,
    walk,
)
from interchange.importing.report import Report
from studies.effect_sizes.registry import INPUT_FIELDS
from studies.models import EffectSize, Study

Progress = Callable[[str, int, int], None]
M = TypeVar("M", bound=Model)

# What EffectSize.clean() computes from the input; copied from the validated instance.
COMPUTED_FIELDS = (
    "g", "var_g", "se_g", "ci_low_g", "ci_high_g", "native_metric", "native_yi", "native_vi", "conversion_note",
)
PROGRESS_EVERY = 1000


def no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass
class Section:
    """What the import does to one kind of row, for the printed plan and the admin preview."""

    title: str
    one: str  # what one row is called in messages
    created: list[str] = field(default_factory=list)  # refs
    updated: list[tuple[str, list[str]]] = field(default_factory=list)  # (ref, changed fields)
    unchanged: int = 0
    missing: list[str] = field(default_factory=list)  # rows of the map that the file lacks

    @property
    def changes(self) -> int:
        return len(self.created) + len(self.updated)

    def summary(self) -> str:
        parts = [f"{len(self.created):,} to create", f"{len(self.updated):,} to update", f"{self.unchanged:,} unchanged"]
        if self.missing:
            parts.append(f"{len(self.missing):,} not in the file (kept)")
        return f"{self.title:<14}" + ", ".join(parts)


@dataclass
class Planned:
    """One row the import writes, or leaves as it is: the instance holds the values to write."""

    key: str
    ref: str
    instance: Any
    created: bool
    changed: list[str] = field(default_factory=list)
    parent: str | None = None  # key of the parent node (trees)
    group: str | None = None  # key of the code set (codes)

    @property
    def write(self) -> bool:
        return self.created or bool(self.changed)


@dataclass
class PlannedStudy(Planned):
    # Keys of the study's codes, rows and columns after the import, among those the import
    # manages (the file's); the study's other codings are left as they are.
    codes: set[str] = field(default_factory=set)
    interventions: set[str] = field(default_factory=set)
    outcomes: set[str] = field(default_factory=set)


@dataclass
class PlannedEffect(Planned):
    study: str = ""
    intervention: str = ""
    outcome: str = ""


@dataclass
class ImportPlan:
    evidence_map: EvidenceMap  # unsaved when the import creates it
    map_created: bool
    code_sets: list[Planned]
    codes: list[Planned]  # parents before children
    interventions: list[Planned]
    outcomes: list[Planned]
    studies: list[PlannedStudy]
    effects: list[PlannedEffect]
    segment_code_set: str | None  # key of the code set to segment by, when it changes
    sections: dict[str, Section]
    # The keys the import manages, with the ids of those rows that exist already.
    code_ids: dict[str, int]
    intervention_ids: dict[str, int]
    outcome_ids: dict[str, int]
    code_set_ids: dict[str, int]
    # Existing links of each existing study among the managed rows, by row id.
    study_links: dict[int, dict[str, set[int]]]
    link_changes: dict[str, tuple[int, int]]  # "codes" -> (links added, links removed)

    @property
    def has_changes(self) -> bool:
        return self.map_created or self.segment_code_set is not None or any(
            s.changes for s in self.sections.values()
        )

    @property
    def publicly_visible(self) -> bool:
        """Whether readers (not only reviewers) can see a change: anything but draft studies
        and their effect sizes."""
        if any(p.write for p in (*self.code_sets, *self.codes, *self.interventions, *self.outcomes)):
            return True
        if self.segment_code_set is not None:
            return True
        published = {p.key for p in self.studies if p.instance.status == "published"}
        return any(p.write for p in self.studies if p.key in published) or any(
            p.write and p.study in published for p in self.effects
        )

    def required_role(self) -> Role | None:
        """The role on the map that writing this plan needs (None when it writes nothing):
        publisher to publish or unpublish a study, editor for the framework and code sets,
        reviewer for studies and effect sizes (evidence.roles)."""
        if any(p.write and ((p.created and p.instance.status == "published") or "status" in p.changed)
               for p in self.studies):
            return Role.PUBLISHER
        if self.segment_code_set is not None or any(
            p.write for p in (*self.code_sets, *self.codes, *self.interventions, *self.outcomes)
        ):
            return Role.EDITOR
        return Role.REVIEWER if self.has_changes else None

    def lines(self, *, limit: int = 10) -> list[str]:
        """The plan as text: a line per kind of row, then the changes, `limit` per kind."""
        lines = [f"Map “{self.evidence_map.title}” ({self.evidence_map.slug}){' — new' if self.map_created else ''}"]
        lines += [f"  {section.summary()}" for section in self.sections.values()]
        for kind, (added, removed) in self.link_changes.items():
            if added or removed:
                words = {"codes": "codings", "interventions": "rows coded", "outcomes": "columns coded"}[kind]
                lines.append(f"  {words:<14}{added:,} to add, {removed:,} to remove")
        if self.segment_code_set is not None:
            segment = next(p for p in self.code_sets if p.key == self.segment_code_set)
            lines.append(f"  The bubbles will be segmented by the code set {segment.ref} “{segment.instance.name}”.")
        for section in self.sections.values():
            for heading, items in (
                ("to create", section.created),
                ("to update", [f"{ref} ({', '.join(fields)})" for ref, fields in section.updated]),
            ):
                if items:
                    lines.append(f"  {section.title} {heading}:")
                    lines += [f"    - {item}" for item in items[:limit]]
                    if len(items) > limit:
                        lines.append(f"    … and {len(items) - limit:,} more")
        return lines


class _Checker:
    """Validation of planned rows, with errors reported under the record's reference."""

    def __init__(self, report: Report) -> None:
        self.report = report

    def validate(
        self, instance: Model, ref: str, labels: dict[str, str], *, kind: str = "invalid", full: bool = False,
        exclude: Sequence[str] = (),
    ) -> bool:
        """Field validation (and, with `full`, the model's clean()) as save_validated runs it,
        but for foreign keys and constraints, which the plan checks against the map itself."""
        try:
            if full:
                instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
            else:
                instance.clean_fields(exclude=list(exclude))
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                label = labels.get(name, name.replace("_", " "))
                for message in messages:
                    self.report.error(kind, ref, label, _in_words(message, labels))
            return False
        return True


def _in_words(message: str, labels: dict[str, str]) -> str:
    """A conversion's message without the model field it starts with ("sd_1 must be ..."), which
    the problem names in the file's words already."""
    head, _, rest = message.partition(" ")
    if head in labels or head in INPUT_FIELDS:
        return rest
    return message


# Numbers derived on import (an SD from an SE, a CI from an SE) may differ in the last bits
# between library versions; closer than this they are the same value, and nothing is rewritten.
FLOAT_TOLERANCE = 1e-12


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float | int) and not isinstance(b, bool):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= FLOAT_TOLERANCE * max(1.0, abs(a), abs(b))
    return bool(a == b)


def _countries(value: Any) -> list[str]:
    return sorted(str(getattr(c, "code", c)) for c in (value or []))


def _current(instance: Model, name: str) -> Any:
    value = getattr(instance, name)
    return _countries(value) if name == "countries" else value


def _apply(instance: Model, values: dict[str, Any]) -> list[str]:
    """Set the values that differ; return the names of those fields."""
    changed = []
    for name, value in values.items():
        new = _countries(value) if name == "countries" else value
        if not _same(_current(instance, name), new):
            setattr(instance, name, new)
            changed.append(name)
    return changed


# A code set's slug names its filter's query parameter (?<slug>=<code id>), so it must not be
# the name of a built-in filter or of another parameter of the pages and the API.
RESERVED_SLUGS = frozenset({*StudyFilterSet.base_filters, "map", "page", "page_size", "format", "intervention",
                            "outcome", "study"})


def _unique_slug(name: str, taken: set[str]) -> str:
    base = slugify(name)[:44].strip("-") or "codes"
    if base in RESERVED_SLUGS:
        base = f"{base}-codes"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


# --------------------------------------------------------------------------------------
# Trees: code sets, codes, rows and columns
# --------------------------------------------------------------------------------------


def _plan_tree(
    model: type[Intervention] | type[Outcome] | type[Code],
    nodes: list[NodeRecord],
    existing: list[Any],
    *,
    scope: dict[str, Any],
    section: Section,
    checker: _Checker,
) -> tuple[list[Planned], dict[str, int]]:
    """Plan a forest of nodes against the rows `existing` (of one map or code set).

    A node matches the row with its key as external id, else the row without external id of
    the same name under the same parent. Returns the planned nodes, parents first, and the ids
    of the rows matched.
    """
    by_key = {row.external_id: row for row in existing if row.external_id}
    unnamed: dict[tuple[Any, str], Any] = {}
    for row in existing:
        if not row.external_id:
            unnamed.setdefault((row.parent_id, row.name), row)
    planned: list[Planned] = []
    matched: dict[str, int] = {}
    ids_planned: dict[str, int | None] = {}
    for node, parent, position in walk(nodes):
        parent_key = parent.key if parent else None
        parent_id = ids_planned.get(parent_key) if parent_key else None
        row = by_key.get(node.key)
        if row is None and (parent_key is None or parent_id is not None):
            row = unnamed.pop((parent_id, node.name), None)
        values = {"external_id": node.key, "name": node.name, "description": node.description, "position": position}
        if row is None:
            instance = model(**scope, **values)
            item = Planned(node.key, node.ref, instance, created=True)
        else:
            matched[node.key] = row.pk
            changed = _apply(row, values)
            if row.parent_id != parent_id or (parent_key is not None and parent_id is None):
                changed.append("parent")
            item = Planned(node.key, node.ref, row, created=False, changed=changed)
        ids_planned[node.key] = None if row is None else row.pk
        item.parent = parent_key
        labels = {"name": f"name of {node.ref}", "description": f"description of {node.ref}"}
        checker.validate(item.instance, node.ref, labels, exclude=["evidence_map", "code_set", "parent"])
        planned.append(item)
        if item.created:
            section.created.append(f"{node.ref} “{node.name}”")
        elif item.changed:
            section.updated.append((f"{node.ref} “{node.name}”", item.changed))
        else:
            section.unchanged += 1
    keys = {p.key for p in planned}
    section.missing += [
        f"“{row.name}”" + (f" (external id {row.external_id})" if row.external_id else "")
        for row in existing
        if row.external_id not in keys and row.pk not in matched.values()
    ]
    return planned, matched


def _check_sibling_names(planned: list[Planned], existing: list[Any], matched: dict[str, int], what: str,
                         report: Report) -> None:
    """Names must be unique among siblings (the framework's constraint), for the rows the map
    keeps and the file's together."""
    key_by_id = {pk: key for key, pk in matched.items()}
    seen: dict[tuple[Any, str], str] = {}
    for row in existing:
        if row.pk in key_by_id:
            continue
        parent = ("key", key_by_id[row.parent_id]) if row.parent_id in key_by_id else ("id", row.parent_id)
        seen[(parent, row.name)] = f"the map's {what} “{row.name}” (id {row.pk}, not in the file)"
    for item in planned:
        parent = ("key", item.parent) if item.parent is not None else ("id", None)
        name = item.instance.name
        other = seen.get((parent, name))
        if other is not None:
            report.error(
                "framework", item.ref, "AttributeName",
                f"“{name}” is also the name of {other}; {what}s under one parent need different names",
            )
        else:
            seen[(parent, name)] = item.ref


# --------------------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------------------


def plan_import(
    record: MapRecord,
    report: Report,
    *,
    evidence_map: EvidenceMap,
    map_created: bool,
    progress: Progress = no_progress,
) -> ImportPlan:
    """Compare `record` with `evidence_map` (saved, or unsaved when the import creates it);
    problems go to `report`."""
    checker = _Checker(report)
    sections = {
        name: Section(title, one)
        for name, title, one in (
            ("code_sets", "code sets", "code set"), ("codes", "codes", "code"), ("interventions", "rows", "row"),
            ("outcomes", "columns", "column"), ("studies", "studies", "study"), ("effects", "effect sizes", "effect size"),
        )
    }
    saved = not map_created

    # Code sets and their codes.
    progress("Comparing code sets", 0, len(record.code_sets))
    code_sets_existing = list(CodeSet.objects.filter(evidence_map=evidence_map)) if saved else []
    code_sets, code_set_ids = _plan_code_sets(
        record.code_sets, code_sets_existing, evidence_map, sections["code_sets"], checker,
        filters=record.filter_code_sets,
    )
    codes_existing = list(Code.objects.filter(code_set__evidence_map=evidence_map)) if saved else []
    codes: list[Planned] = []
    code_ids: dict[str, int] = {}
    for code_set_record in record.code_sets:
        set_id = code_set_ids.get(code_set_record.key)
        in_set = [c for c in codes_existing if set_id is not None and c.code_set_id == set_id]
        planned, matched = _plan_tree(
            Code, code_set_record.codes, in_set, scope={}, section=sections["codes"], checker=checker,
        )
        for item in planned:
            item.group = code_set_record.key
        codes += planned
        code_ids.update(matched)
    # Codes of other (hand-made) code sets, and hand-made codes of the file's sets, are kept.

    # The framework.
    progress("Comparing rows and columns", 0, 2)
    trees: dict[str, tuple[list[Planned], dict[str, int]]] = {}
    for name, model, nodes in (
        ("interventions", Intervention, record.interventions), ("outcomes", Outcome, record.outcomes),
    ):
        existing = list(model._default_manager.filter(evidence_map=evidence_map)) if saved else []
        planned, matched = _plan_tree(
            model, nodes, existing, scope={"evidence_map": evidence_map}, section=sections[name], checker=checker,
        )
        _check_sibling_names(planned, existing, matched, "row" if name == "interventions" else "column", report)
        trees[name] = planned, matched
    interventions, intervention_ids = trees["interventions"]
    outcomes, outcome_ids = trees["outcomes"]

    studies, study_links, link_changes, study_ids = _plan_studies(
        record, evidence_map, saved=saved, section=sections["studies"], checker=checker, report=report,
        code_ids=code_ids, intervention_ids=intervention_ids, outcome_ids=outcome_ids, progress=progress,
    )
    effects = _plan_effects(
        record.effects, evidence_map, saved=saved, section=sections["effects"], checker=checker, report=report,
        study_ids=study_ids, intervention_ids=intervention_ids, outcome_ids=outcome_ids, progress=progress,
    )

    segment: str | None = None
    if record.segment_code_set is not None:
        current = evidence_map.segment_code_set_id if saved else None
        if current is None or current != code_set_ids.get(record.segment_code_set):
            segment = record.segment_code_set

    return ImportPlan(
        evidence_map=evidence_map, map_created=map_created, code_sets=code_sets, codes=codes,
        interventions=interventions, outcomes=outcomes, studies=studies, effects=effects,
        segment_code_set=segment, sections=sections, code_ids=code_ids, intervention_ids=intervention_ids,
        outcome_ids=outcome_ids, code_set_ids=code_set_ids, study_links=study_links, link_changes=link_changes,
    )


def _plan_code_sets(
    records: list[CodeSetRecord], existing: list[CodeSet], evidence_map: EvidenceMap, section: Section,
    checker: _Checker, *, filters: set[str],
) -> tuple[list[Planned], dict[str, int]]:
    by_key = {row.external_id: row for row in existing if row.external_id}
    by_name = {row.name: row for row in existing if not row.external_id}
    slugs = {row.slug for row in existing}
    names = {other.name: f"the map's code set “{other.name}” (id {other.pk})" for other in existing}
    planned: list[Planned] = []
    matched: dict[str, int] = {}
    for position, rec in enumerate(records):
        row = by_key.get(rec.key) or by_name.pop(rec.name, None)
        values: dict[str, Any] = {"external_id": rec.key, "name": rec.name, "description": rec.description,
                                  "position": position}
        if rec.key in filters:
            values["is_filter"] = True  # offered as a filter; a filter is never withdrawn by an import
        if row is None:
            instance = CodeSet(evidence_map=evidence_map, slug=_unique_slug(rec.name, slugs), **values)
            item = Planned(rec.key, rec.ref, instance, created=True)
            section.created.append(f"{rec.ref} “{rec.name}”")
        else:
            matched[rec.key] = row.pk
            names.pop(row.name, None)
            item = Planned(rec.key, rec.ref, row, created=False, changed=_apply(row, values))
            if item.changed:
                section.updated.append((f"{rec.ref} “{rec.name}”", item.changed))
            else:
                section.unchanged += 1
        other = names.get(rec.name)
        if other is not None:
            checker.report.error("conflict", rec.ref, "SetName", f"“{rec.name}” is already the name of {other}")
        names[rec.name] = rec.ref
        checker.validate(item.instance, rec.ref, {"name": "SetName", "description": "SetDescription"},
                         exclude=["evidence_map"])
        planned.append(item)
    keys = {p.key for p in planned}
    section.missing += [f"“{row.name}”" for row in existing if row.pk not in matched.values() and row.external_id not in keys]
    return planned, matched


def _plan_studies(
    record: MapRecord, evidence_map: EvidenceMap, *, saved: bool, section: Section, checker: _Checker,
    report: Report, code_ids: dict[str, int], intervention_ids: dict[str, int], outcome_ids: dict[str, int],
    progress: Progress,
) -> tuple[list[PlannedStudy], dict[int, dict[str, set[int]]], dict[str, tuple[int, int]], dict[str, int]]:
    existing = list(Study.objects.filter(evidence_map=evidence_map)) if saved else []
    by_key = {s.external_id: s for s in existing if s.external_id}
    by_doi = {s.doi: s for s in existing if s.doi and not s.external_id}
    managed = {"codes": code_ids, "interventions": intervention_ids, "outcomes": outcome_ids}
    key_of = {kind: {pk: key for key, pk in ids.items()} for kind, ids in managed.items()}
    links: dict[int, dict[str, set[int]]] = defaultdict(lambda: {"codes": set(), "interventions": set(), "outcomes": set()})
    if saved:
        for kind, column in (("codes", "code_id"), ("interventions", "intervention_id"), ("outcomes", "outcome_id")):
            through = getattr(Study, kind).through
            for study_id, target in through.objects.filter(study__evidence_map=evidence_map).values_list("study_id", column):
                if target in key_of[kind]:
                    links[study_id][kind].add(target)

    # A study is coded with the row and column of each of its effect sizes (as effect_size_save does).
    cells: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    for effect in record.effects:
        cells[effect.study][0].add(effect.intervention)
        cells[effect.study][1].add(effect.outcome)

    countries_field = Study._meta.get_field("countries")
    valid_countries: dict[tuple[str, ...], list[str]] = {}
    planned: list[PlannedStudy] = []
    matched: dict[str, int] = {}
    added = {kind: 0 for kind in managed}
    removed = {kind: 0 for kind in managed}
    total = len(record.studies)
    for i, rec in enumerate(record.studies):
        if i % PROGRESS_EVERY == 0:
            progress("Checking studies", i, total)
        row = by_key.get(rec.key)
        if row is None and rec.doi:
            row = by_doi.pop(rec.doi, None)
        values = {"external_id": rec.key, **rec.fields}
        if row is None:
            instance = Study(evidence_map=evidence_map, **{**rec.defaults, **values})
            item = PlannedStudy(rec.key, rec.ref, instance, created=True)
        else:
            matched[rec.key] = row.pk
            item = PlannedStudy(rec.key, rec.ref, row, created=False, changed=_apply(row, values))
        interventions_of_effects, outcomes_of_effects = cells.get(rec.key, (set(), set()))
        item.codes = set(rec.codes)
        item.interventions = rec.interventions | interventions_of_effects
        item.outcomes = rec.outcomes | outcomes_of_effects
        if not item.created:
            current = links.get(row.pk) if row is not None else None
            for kind in managed:
                have = {key_of[kind][pk] for pk in (current or {}).get(kind, set())}
                want: set[str] = getattr(item, kind)
                if have != want:
                    item.changed.append(kind)
                    added[kind] += len(want - have)
                    removed[kind] += len(have - want)
        else:
            for kind in managed:
                added[kind] += len(getattr(item, kind))
        study = item.instance
        if checker.validate(study, rec.ref, rec.labels, full=True, exclude=["evidence_map", "countries"]):
            key = tuple(_countries(study.countries))
            if key not in valid_countries:
                try:
                    countries_field.clean(list(key), study)
                    valid_countries[key] = list(key)
                except ValidationError as exc:
                    for message in exc.messages:
                        report.error("invalid", rec.ref, rec.labels.get("countries", "countries"), message)
            study.derive()
        planned.append(item)
        if item.created:
            section.created.append(f"{rec.ref} “{_short(study.title)}”")
        elif item.changed:
            section.updated.append((f"{rec.ref} “{_short(study.title)}”", item.changed))
        else:
            section.unchanged += 1

    _check_unique_studies(planned, existing, matched, report)
    keys = {p.key for p in planned}
    section.missing += [
        f"{s.short_citation} “{_short(s.title)}” (id {s.pk}" + (f", external id {s.external_id})" if s.external_id else ")")
        for s in existing
        if s.pk not in matched.values() and s.external_id not in keys
    ]
    changes = {kind: (added[kind], removed[kind]) for kind in managed}
    return planned, dict(links), changes, matched


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _check_unique_studies(planned: list[PlannedStudy], existing: list[Study], matched: dict[str, int],
                          report: Report) -> None:
    """A DOI names one study of a map (the database's constraint), across the studies the map
    keeps and the file's."""
    kept = set(matched.values())
    owner: dict[str, str] = {}
    for study in existing:
        if study.pk not in kept and study.doi:
            owner[study.doi] = f"the map's study {study.short_citation} (id {study.pk}, not in the file)"
    for item in planned:
        doi = item.instance.doi
        if not doi:
            continue
        if doi in owner:
            report.error("conflict", item.ref, "DOI", f"{doi} is also the DOI of {owner[doi]}; a map has one study per DOI")
        else:
            owner[doi] = item.ref


def _plan_effects(
    records: list[EffectRecord], evidence_map: EvidenceMap, *, saved: bool, section: Section, checker: _Checker,
    report: Report, study_ids: dict[str, int], intervention_ids: dict[str, int], outcome_ids: dict[str, int],
    progress: Progress,
) -> list[PlannedEffect]:
    existing = list(EffectSize.objects.filter(study__evidence_map=evidence_map)) if saved else []
    by_key: dict[str, EffectSize] = {}
    for effect in existing:
        if effect.external_id:
            if effect.external_id in by_key:
                report.error(
                    "conflict", f"outcome {effect.external_id}", "",
                    f"the map has two effect sizes with this external id (ids {by_key[effect.external_id].pk} "
                    f"and {effect.pk}); give one of them another in the admin",
                )
            by_key[effect.external_id] = effect
    # An effect size entered by hand has no external id yet: a record new to the map is that
    # effect size when its study, cell and label are the same (a workbook exported from the
    # map and imported back, for one).
    unnamed: dict[tuple[int | None, int | None, int | None, str], list[EffectSize]] = defaultdict(list)
    for effect in existing:
        if not effect.external_id:
            unnamed[(effect.study_id, effect.intervention_id, effect.outcome_id, effect.label)].append(effect)
    planned: list[PlannedEffect] = []
    matched: set[int] = set()
    total = len(records)
    for i, rec in enumerate(records):
        if i % PROGRESS_EVERY == 0:
            progress("Checking effect sizes", i, total)
        values = {"external_id": rec.key, **{name: None for name in INPUT_FIELDS}, **rec.fields}
        check = EffectSize(**values)
        ok = checker.validate(
            check, rec.ref, rec.labels, kind="effect_input", full=True, exclude=["study", "intervention", "outcome"],
        )
        row = by_key.get(rec.key)
        links = {
            "study_id": study_ids.get(rec.study),
            "intervention_id": intervention_ids.get(rec.intervention),
            "outcome_id": outcome_ids.get(rec.outcome),
        }
        if row is None:
            same = unnamed.get((links["study_id"], links["intervention_id"], links["outcome_id"], values.get("label", "")))
            row = same.pop(0) if same else None
        if row is None:
            item = PlannedEffect(rec.key, rec.ref, check, created=True)
        else:
            matched.add(row.pk)
            changed = _apply(row, values)
            changed += [name.removesuffix("_id") for name, pk in links.items() if getattr(row, name) != pk]
            if changed and ok:
                for name in COMPUTED_FIELDS:
                    setattr(row, name, getattr(check, name))
            item = PlannedEffect(rec.key, rec.ref, row, created=False, changed=changed)
        item.study, item.intervention, item.outcome = rec.study, rec.intervention, rec.outcome
        planned.append(item)
        if item.created:
            section.created.append(rec.ref)
        elif item.changed:
            section.updated.append((rec.ref, item.changed))
        else:
            section.unchanged += 1
    keys = {p.key for p in planned}
    section.missing += [
        f"effect size {e.pk} “{_short(e.label)}”" + (f" (external id {e.external_id})" if e.external_id else "")
        for e in existing
        if e.pk not in matched and e.external_id not in keys
    ]
    return planned


def missing_notes(plan: ImportPlan, report: Report) -> None:
    """List, as notes, the map's rows that the file lacks (they are kept, never deleted)."""
    for section in plan.sections.values():
        for ref in section.missing:
            report.note("missing", f"{section.one} {ref}", "", "is on the map but not in the file; kept as it is")
