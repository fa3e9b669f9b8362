"""What changed between two snapshot documents of a map (evidence.releases.snapshot).

Two releases are compared by their stored documents, and a release with the working copy by a
document built now (`working_document`, cached per map `members_version`); no cell is refitted:
the cells' numbers are the ones the documents hold (the presenter's payloads).

What counts as a change:
- a study is *added* or *removed* when it is in one document only (a study unpublished since
  the earlier one is removed: documents hold published studies only);
- a study is *re-coded* when it is in both and any of these differ: one of its own fields
  (bookkeeping timestamps left out), the interventions, outcomes or codes it is coded with,
  an appraisal item (added, removed or changed), or an effect size (added, removed or any
  field changed, the derived g and its variance included);
- a framework node (intervention, outcome, code) is added, removed, renamed or moved;
- a cell changed when its number of studies or effect sizes, its pooled g, CI, confidence
  rating or label differs, or when it went from gap (no study) to evidence or back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from evidence.models import EvidenceMap, Release
from evidence.releases import snapshot
from evidence.releases.context import reading

# Fields every save moves: not a change a reader can see.
BOOKKEEPING = frozenset({"created_at", "updated_at", "version", "members_version", "changed_at", "members_changed_at"})
# Bumped when the Comparison's shape changes, so that cached comparisons are not reused.
COMPARE_SHAPE = 1
GAP = "gap"
EVIDENCE = "evidence"


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class RowChange:
    """An appraisal item or effect size of a re-coded study."""

    id: int
    name: str
    change: str  # added, removed, changed
    fields: list[FieldChange] = field(default_factory=list)


@dataclass(frozen=True)
class CodingChange:
    kind: str  # intervention, outcome, code
    added: list[str]
    removed: list[str]


@dataclass(frozen=True)
class StudyRef:
    id: int
    citation: str
    title: str


@dataclass(frozen=True)
class RecodedStudy:
    id: int
    citation: str
    title: str
    fields: list[FieldChange]
    codings: list[CodingChange]
    appraisals: list[RowChange]
    effect_sizes: list[RowChange]


@dataclass(frozen=True)
class NodeChange:
    kind: str  # intervention, outcome, code
    id: int
    change: str  # added, removed, renamed, moved
    name: str
    before: str | None = None  # the old name (renamed) or old parent's name (moved)


@dataclass(frozen=True)
class CellChange:
    intervention_id: int
    outcome_id: int
    intervention: str
    outcome: str
    n_studies: tuple[int, int]
    n_effects: tuple[int, int]
    estimate: tuple[float | None, float | None]
    ci_low: tuple[float | None, float | None]
    ci_high: tuple[float | None, float | None]
    confidence: tuple[str | None, str | None]
    label: tuple[str, str]  # "gap", "evidence" (not pooled) or the effect's label
    label_changed: bool

    @property
    def status(self) -> str:
        """gap_to_evidence, evidence_to_gap or changed."""
        if self.label[0] == GAP:
            return "gap_to_evidence"
        if self.label[1] == GAP:
            return "evidence_to_gap"
        return "changed"


@dataclass(frozen=True)
class Comparison:
    studies_added: list[StudyRef]
    studies_removed: list[StudyRef]
    studies_recoded: list[RecodedStudy]
    framework: list[NodeChange]
    settings: list[FieldChange]
    cells: list[CellChange]

    @property
    def counts(self) -> dict[str, int]:
        return {
            "studies_added": len(self.studies_added),
            "studies_removed": len(self.studies_removed),
            "studies_recoded": len(self.studies_recoded),
            "framework": len(self.framework),
            "settings": len(self.settings),
            "cells": len(self.cells),
            "cells_relabelled": sum(1 for c in self.cells if c.label_changed),
        }

    @property
    def is_empty(self) -> bool:
        return not any(self.counts.values())


# --- Documents ---


def release_document(release: Release) -> dict[str, Any]:
    """The release's document (read from the primary even while a release is being read)."""
    data = Release.objects.filter(pk=release.pk).values_list("document", flat=True).get()
    return snapshot.decode(data)


def working_document(evidence_map: EvidenceMap) -> dict[str, Any]:
    """What the map's next release would hold now, built once per `members_version`."""
    from evidence import versions

    def build() -> bytes:
        with reading(None):
            fresh = EvidenceMap.objects.get(pk=evidence_map.pk)
            return snapshot.encode(snapshot.build_document(fresh))

    with reading(None):
        key = versions.cache_key("working-document", evidence_map, members=True)
        return snapshot.decode(versions.cached(key, build))


# --- Comparing ---


def _by_pk(document: dict[str, Any], section: str) -> dict[int, dict[str, Any]]:
    return {row["pk"]: row["fields"] for row in document.get(section, [])}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def _field_changes(before: dict[str, Any], after: dict[str, Any], *, skip: frozenset[str] = frozenset()) -> list[FieldChange]:
    names = sorted((set(before) | set(after)) - BOOKKEEPING - skip)
    return [
        FieldChange(name, before.get(name), after.get(name))
        for name in names if not _same(before.get(name), after.get(name))
    ]


def _citation(fields: dict[str, Any]) -> str:
    from studies.models import Study

    study = Study(authors=fields.get("authors", ""), year=fields.get("year"), title=fields.get("title", ""))
    return study.short_citation


def _study_ref(pk: int, fields: dict[str, Any]) -> StudyRef:
    return StudyRef(pk, _citation(fields), fields.get("title", ""))


def _children(document: dict[str, Any], section: str) -> dict[int, dict[int, dict[str, Any]]]:
    """A section's rows (appraisal items, effect sizes) by study, then by id."""
    out: dict[int, dict[int, dict[str, Any]]] = {}
    for pk, fields in _by_pk(document, section).items():
        out.setdefault(fields["study"], {})[pk] = fields
    return out


def _row_changes(before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]], name_of: str) -> list[RowChange]:
    changes: list[RowChange] = []
    for pk in sorted(set(before) | set(after)):
        old, new = before.get(pk), after.get(pk)
        name = str((new or old or {}).get(name_of, pk))
        if old is None:
            changes.append(RowChange(pk, name, "added"))
        elif new is None:
            changes.append(RowChange(pk, name, "removed"))
        else:
            fields = _field_changes(old, new)
            if fields:
                changes.append(RowChange(pk, name, "changed", fields))
    return changes


def _names(document: dict[str, Any], section: str) -> dict[int, str]:
    return {pk: fields["name"] for pk, fields in _by_pk(document, section).items()}


CODINGS = (("intervention", "interventions"), ("outcome", "outcomes"), ("code", "codes"))


def _studies(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[StudyRef], list[StudyRef], list[RecodedStudy]]:
    old, new = _by_pk(a, "studies"), _by_pk(b, "studies")
    added = [_study_ref(pk, new[pk]) for pk in sorted(set(new) - set(old))]
    removed = [_study_ref(pk, old[pk]) for pk in sorted(set(old) - set(new))]
    appraisals = (_children(a, "appraisal_items"), _children(b, "appraisal_items"))
    effects = (_children(a, "effect_sizes"), _children(b, "effect_sizes"))
    names = {section: {**_names(a, section), **_names(b, section)} for _, section in CODINGS}
    recoded: list[RecodedStudy] = []
    for pk in sorted(set(old) & set(new)):
        codings = []
        for kind, section in CODINGS:
            was, now = set(old[pk].get(section, [])), set(new[pk].get(section, []))
            if was != now:
                label = names[section]
                codings.append(CodingChange(
                    kind, sorted(label.get(i, str(i)) for i in now - was), sorted(label.get(i, str(i)) for i in was - now)
                ))
        fields = _field_changes(old[pk], new[pk], skip=frozenset(s for _, s in CODINGS))
        rated = _row_changes(appraisals[0].get(pk, {}), appraisals[1].get(pk, {}), "criterion")
        sized = _row_changes(effects[0].get(pk, {}), effects[1].get(pk, {}), "label")
        if fields or codings or rated or sized:
            ref = _study_ref(pk, new[pk])
            recoded.append(RecodedStudy(pk, ref.citation, ref.title, fields, codings, rated, sized))
    return added, removed, recoded


def _framework(a: dict[str, Any], b: dict[str, Any]) -> list[NodeChange]:
    changes: list[NodeChange] = []
    for kind, section in CODINGS:
        old, new = _by_pk(a, section), _by_pk(b, section)
        for pk in sorted(set(old) | set(new)):
            was, now = old.get(pk), new.get(pk)
            if was is None and now is not None:
                changes.append(NodeChange(kind, pk, "added", now["name"]))
            elif now is None and was is not None:
                changes.append(NodeChange(kind, pk, "removed", was["name"]))
            elif was is not None and now is not None:
                if was["name"] != now["name"]:
                    changes.append(NodeChange(kind, pk, "renamed", now["name"], was["name"]))
                if was.get("parent") != now.get("parent"):
                    parent = was.get("parent")
                    before = old[parent]["name"] if parent in old else None
                    changes.append(NodeChange(kind, pk, "moved", now["name"], before))
    return changes


def cell_label(cell: dict[str, Any] | None) -> str:
    """What a reader sees of a cell in words: gap, evidence (not pooled) or the effect's label."""
    if cell is None:
        return GAP
    text = (cell.get("label") or {}).get("text")
    return str(text) if text else EVIDENCE


def _cells(a: dict[str, Any], b: dict[str, Any]) -> list[CellChange]:
    old, new = a.get("cells", {}), b.get("cells", {})
    interventions = {**_names(a, "interventions"), **_names(b, "interventions")}
    outcomes = {**_names(a, "outcomes"), **_names(b, "outcomes")}
    changes: list[CellChange] = []
    keys = sorted(set(old) | set(new), key=lambda k: tuple(int(p) for p in k.split("/")))
    for key in keys:
        was, now = old.get(key) or {}, new.get(key) or {}
        i, o = (int(p) for p in key.split("/"))
        before, after = cell_label(old.get(key)), cell_label(new.get(key))
        change = CellChange(
            i, o, interventions.get(i, str(i)), outcomes.get(o, str(o)),
            (was.get("n_studies") or 0, now.get("n_studies") or 0),
            (was.get("n_effects") or 0, now.get("n_effects") or 0),
            (was.get("estimate"), now.get("estimate")),
            (was.get("ci_low"), now.get("ci_low")),
            (was.get("ci_high"), now.get("ci_high")),
            ((was.get("confidence") or {}).get("level"), (now.get("confidence") or {}).get("level")),
            (before, after), before != after,
        )
        numbers = (change.n_studies, change.n_effects, change.estimate, change.ci_low, change.ci_high, change.confidence)
        if change.label_changed or any(not _same(x, y) for x, y in numbers):
            changes.append(change)
    return changes


def compare_documents(a: dict[str, Any], b: dict[str, Any]) -> Comparison:
    """What changed from document `a` (the earlier) to document `b`."""
    added, removed, recoded = _studies(a, b)
    return Comparison(
        studies_added=added,
        studies_removed=removed,
        studies_recoded=recoded,
        framework=_framework(a, b),
        settings=_field_changes(a["map"]["fields"], b["map"]["fields"]),
        cells=_cells(a, b),
    )


def changed_cells(evidence_map: EvidenceMap, release: Release | None) -> list[CellChange]:
    """The cells that changed in `release` (None: the working copy) since the release before
    (none when there is no release before it)."""
    with reading(None):
        earlier = Release.objects.filter(evidence_map=evidence_map).defer("document").order_by("-number")
        if release is not None:
            earlier = earlier.filter(number__lt=release.number)
        previous = earlier.first()
    if previous is None:
        return []
    return compare_pair(evidence_map, Pair(previous, release)).cells


# --- Which two copies ---

WORKING = "working"


class CompareError(Exception):
    """A bad `from` or `to`: names the parameter and what is wrong with it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Pair:
    """What is compared: release `first` with release `second` (None: the working copy)."""

    first: Release
    second: Release | None

    @property
    def to_label(self) -> str:
        return "the working copy" if self.second is None else f"release {self.second.number}"


def _number(raw: str, name: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise CompareError(name, f"{raw!r} is not a release number.") from None
    if not 1 <= value <= 999_999_999:
        raise CompareError(name, f"{value} is not a release number.")
    return value


def choose_pair(evidence_map: EvidenceMap, raw_from: str | None, raw_to: str | None, *, members: bool) -> Pair:
    """The releases `from` and `to` name (`to` may be "working", for the map's members only).
    Without them: the latest release against the one before it."""
    with reading(None):
        releases = {r.number: r for r in Release.objects.filter(evidence_map=evidence_map).defer("document")}
    if not releases:
        raise CompareError("from", f"The map “{evidence_map.title}” has no releases yet.")
    latest = max(releases)
    if raw_to in (None, ""):
        second: Release | None = releases[latest]
    elif raw_to.strip() == WORKING:
        if not members:
            raise CompareError("to", "Only the map's members see its working copy.")
        second = None
    else:
        number = _number(raw_to, "to")
        if number not in releases:
            raise CompareError("to", f"The map has no release {number} (its latest is {latest}).")
        second = releases[number]
    if raw_from in (None, ""):
        default = latest if second is None else second.number - 1
        if default < 1:
            raise CompareError("from", "Release 1 has no release before it: name one with `from`.")
        first = releases[default]
    else:
        number = _number(raw_from, "from")
        if number not in releases:
            raise CompareError("from", f"The map has no release {number} (its latest is {latest}).")
        first = releases[number]
    if second is not None and first.number >= second.number:
        raise CompareError("from", f"`from` ({first.number}) must be an earlier release than `to` ({second.number}).")
    for release in (first, second):
        if release is not None:
            release.evidence_map = evidence_map  # already loaded; no query, and never the copy's
    return Pair(first, second)


def compare_pair(evidence_map: EvidenceMap, pair: Pair) -> Comparison:
    """The comparison of `pair`: two releases' once for good, the working copy's once per
    members_version."""
    from evidence import versions

    with reading(None):
        if pair.second is None:
            key = versions.cache_key(f"compare:{pair.first.pk}:working", evidence_map, members=True)
        else:
            key = f"egm:release-compare.{COMPARE_SHAPE}:{pair.first.pk}:{pair.second.pk}"

        def compute() -> Comparison:
            after = working_document(evidence_map) if pair.second is None else release_document(pair.second)
            return compare_documents(release_document(pair.first), after)

        return versions.cached(key, compute)
