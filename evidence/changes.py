"""What changed on a map since a time, for partners keeping a copy in sync.

Read from the history that django-simple-history keeps for every audited write (deleted rows
included: their last history row has type "-", the deletion time and the map), so deletions
need no table of their own. Records are the framework (interventions, outcomes), code sets and
codes, studies (with their codings) and effect sizes, each listed once with its latest change:

- `created`: it appeared after `since` and the reader sees it;
- `updated`: it changed after `since` (for a study, its codings too) and the reader sees it;
- `deleted`: the reader saw it once and no longer does: deleted, or (for readers of published
  data) unpublished, or an effect size of such a study.

Writes that bypass the history (the benchmark generator's bulk inserts) are not listed.

Also here, from the same history: which pooled cells changed since a time (`cells_changed_since`,
the cell list's `updated_since`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.apps import apps
from django.db.models import Model, QuerySet

from evidence.models import CellSummary, Code, CodeSet, EvidenceMap, Intervention, Outcome
from evidence.selectors import Node, framework_tree
from studies.models import EffectSize, Status, Study, can_see_drafts

CellKey = tuple[int, int]

CREATED, UPDATED, DELETED = "created", "updated", "deleted"
KINDS = ("intervention", "outcome", "code_set", "code", "study", "effect_size")


@dataclass(frozen=True)
class Change:
    kind: str  # one of KINDS
    id: int
    action: str  # created, updated or deleted
    at: datetime


def _history(model: type[Model]) -> QuerySet[Any]:
    history: QuerySet[Any] = model.history.model.objects.all()  # type: ignore[attr-defined]
    return history


def changed_since(model: type[Model], evidence_map: EvidenceMap, since: datetime) -> set[int]:
    """Ids of the map's framework nodes or code sets (`model`) changed at or after `since`;
    a code set counts as changed when one of its codes did."""
    ids = set(
        _history(model).filter(evidence_map_id=evidence_map.pk, history_date__gte=since).values_list("id", flat=True)
    )
    if model is CodeSet:
        codes = _history(Code).filter(history_date__gte=since, code_set_id__in=_history(CodeSet).filter(
            evidence_map_id=evidence_map.pk).values("id"))
        ids |= set(codes.values_list("code_set_id", flat=True))
    return ids


def _latest(rows: Iterable[tuple[int, str, datetime]], since: datetime) -> dict[int, tuple[bool, datetime]]:
    """Per id: whether it was created in the window, and its latest change."""
    found: dict[int, tuple[bool, datetime]] = {}
    for pk, history_type, at in rows:
        created, latest = found.get(pk, (False, at))
        found[pk] = (created or history_type == "+", max(latest, at))
    return found


def _classify(
    kind: str, latest: dict[int, tuple[bool, datetime]], visible: set[int], seen: set[int] | None
) -> list[Change]:
    """Visible ids are created or updated; the others deleted if the reader saw them
    (`seen`; None: every id that has a history)."""
    changes = []
    for pk, (created, at) in latest.items():
        if pk in visible:
            changes.append(Change(kind, pk, CREATED if created else UPDATED, at))
        elif seen is None or pk in seen:
            changes.append(Change(kind, pk, DELETED, at))
    return changes


def _framework_changes(evidence_map: EvidenceMap, since: datetime) -> list[Change]:
    changes: list[Change] = []
    for kind, model in (("intervention", Intervention), ("outcome", Outcome), ("code_set", CodeSet)):
        rows = _history(model).filter(evidence_map_id=evidence_map.pk, history_date__gte=since)
        latest = _latest(rows.values_list("id", "history_type", "history_date"), since)
        visible = set(model.objects.filter(pk__in_ids=list(latest)).values_list("pk", flat=True))
        changes += _classify(kind, latest, visible, None)
    set_ids = _history(CodeSet).filter(evidence_map_id=evidence_map.pk).values("id")
    rows = _history(Code).filter(code_set_id__in=set_ids, history_date__gte=since)
    latest = _latest(rows.values_list("id", "history_type", "history_date"), since)
    visible = set(Code.objects.filter(pk__in_ids=list(latest)).values_list("pk", flat=True))
    return changes + _classify("code", latest, visible, None)


def _published_or_unpublished(study_history: QuerySet[Any], ids: list[int], since: datetime) -> list[int]:
    """The studies whose status changed at or after `since` (their last status before it
    counts): readers of published data gained or lost them with their effect sizes."""
    statuses: dict[int, set[str]] = {}
    before: dict[int, tuple[datetime, str]] = {}
    rows = study_history.filter(id__in_ids=ids).values_list("id", "history_date", "status", "history_type")
    for pk, at, status, history_type in rows:
        if at >= since:
            # A study created or deleted in the window changed for every reader.
            statuses.setdefault(pk, set()).update({status} if history_type == "~" else {status, "none"})
        elif pk not in before or at > before[pk][0]:
            before[pk] = (at, status)
    for pk, (_, status) in before.items():
        statuses.setdefault(pk, set()).add(status)
    return [pk for pk, found in statuses.items() if len(found) > 1]


def map_changes(evidence_map: EvidenceMap, since: datetime, *, user: object) -> list[Change]:
    """Every record of the map that changed at or after `since`, as `user` sees the map, in
    the order of their latest change."""
    study_history = _history(Study).filter(evidence_map_id=evidence_map.pk)
    studies = _latest(
        study_history.filter(history_date__gte=since).values_list("id", "history_type", "history_date"), since
    )
    # Effect sizes: those changed in the window, and every one of a study that changed (a
    # study published or unpublished takes its effect sizes with it).
    effect_history = _history(EffectSize).filter(study_id__in=study_history.values("id"))
    effect_rows = list(
        effect_history.filter(history_date__gte=since).values_list("id", "history_type", "history_date", "study_id")
    )
    effects = _latest(((pk, kind, at) for pk, kind, at, _ in effect_rows), since)
    study_of = {pk: study_id for pk, _, _, study_id in effect_rows}
    drafts = can_see_drafts(user)
    moved = [] if drafts else _published_or_unpublished(study_history, list(studies), since)
    for pk, study_id in effect_history.filter(study_id__in_ids=moved).values_list("id", "study_id").distinct():
        study_at = studies[study_id][1]
        created, at = effects.get(pk, (False, study_at))
        effects[pk] = (created, max(at, study_at))
        study_of[pk] = study_id

    # A reader of published data saw a study (and its effect sizes) if it was ever published.
    seen_studies: set[int] | None = None
    if not drafts:
        seen_studies = set(
            study_history.filter(status=Status.PUBLISHED, id__in_ids=list({*studies, *study_of.values()}))
            .values_list("id", flat=True).distinct()
        )
    visible_studies = set(
        Study.objects.visible_to(user).filter(evidence_map=evidence_map, pk__in_ids=list(studies))
        .values_list("pk", flat=True)
    )
    visible_effects = set(
        EffectSize.objects.visible_to(user).filter(study__evidence_map=evidence_map, pk__in_ids=list(effects))
        .values_list("pk", flat=True)
    )
    seen_effects = None if seen_studies is None else {pk for pk, study in study_of.items() if study in seen_studies}
    changes = _framework_changes(evidence_map, since)
    changes += _classify("study", studies, visible_studies, seen_studies)
    changes += _classify("effect_size", effects, visible_effects, seen_effects)
    return sorted(changes, key=lambda c: (c.at, KINDS.index(c.kind), c.id))


# --- Cells -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangedCells:
    """The cells whose inputs changed: whole rows and columns (a framework node changed) and
    single cells (a study, an effect size or a summary changed; these may include cells that no
    longer have studies); `everything` when the map's settings changed."""

    everything: bool
    rows: frozenset[int]
    columns: frozenset[int]
    cells: frozenset[CellKey]

    def __contains__(self, key: CellKey) -> bool:
        return self.everything or key[0] in self.rows or key[1] in self.columns or key in self.cells


def _up(tree: dict[int, Node], ids: Iterable[int | None]) -> set[int]:
    """The nodes and their ancestors, in the map's framework as it is now (gone nodes have no cells)."""
    return {a for pk in ids if pk in tree for a in tree[pk].ancestors}


def _window(rows: Iterable[tuple[Any, ...]], since: datetime) -> list[tuple[Any, ...]]:
    """History rows `(id, history_date, ...)` that describe a record at or after `since`: its
    rows from then on, and its last row before (its state when the window opened)."""
    kept: list[tuple[Any, ...]] = []
    before: dict[int, tuple[Any, ...]] = {}
    for row in rows:
        if row[1] >= since:
            kept.append(row)
        elif row[0] not in before or row[1] > before[row[0]][1]:
            before[row[0]] = row
    return kept + list(before.values())


def _moved_nodes(model: type[Model], tree: dict[int, Node], evidence_map: EvidenceMap, since: datetime) -> set[int]:
    """The rows (or columns) whose cells a change of a framework node touches: the node, and
    its ancestors where it is now and wherever it hung in the window (a move changes both
    the old and the new categories above it)."""
    history = _history(model).filter(evidence_map_id=evidence_map.pk)
    changed = set(history.filter(history_date__gte=since).values_list("id", flat=True))
    if not changed:
        return set()
    rows = _window(history.filter(id__in_ids=list(changed)).values_list("id", "history_date", "parent_id"), since)
    return _up(tree, changed) | _up(tree, {parent for _, _, parent in rows})


def _study_cells(
    evidence_map: EvidenceMap, since: datetime, interventions: dict[int, Node], outcomes: dict[int, Node]
) -> set[CellKey]:
    """Cells of the published studies that changed at or after `since`: every cell a study
    counted in while it was published in the window (created, edited, recoded, deleted,
    published or unpublished), from the codings the history kept with each of its rows."""
    history = _history(Study).filter(evidence_map_id=evidence_map.pk)
    changed = list(set(history.filter(history_date__gte=since).values_list("id", flat=True)))
    if not changed:
        return set()
    rows = _window(history.filter(id__in_ids=changed).values_list("id", "history_date", "history_id", "status"), since)
    published = [history_id for _, _, history_id, status in rows if status == Status.PUBLISHED]
    codings: dict[int, tuple[set[int], set[int]]] = {pk: (set(), set()) for pk in published}
    for side, name in ((0, "intervention"), (1, "outcome")):
        through = apps.get_model("studies", f"HistoricalStudy_{name}s")
        for history_id, node in through.objects.filter(history_id__in_ids=published).values_list("history_id", f"{name}_id"):
            codings[history_id][side].add(node)
    return {
        (i, o) for rows_of, columns_of in codings.values()
        for i in _up(interventions, rows_of) for o in _up(outcomes, columns_of)
    }


def _effect_size_cells(
    evidence_map: EvidenceMap, since: datetime, interventions: dict[int, Node], outcomes: dict[int, Node]
) -> set[CellKey]:
    """Cells of the effect sizes of published studies that changed at or after `since`: the
    cells of their intervention and outcome before and after each change (an effect size of a
    study published or unpublished is the study's change, `_study_cells`)."""
    studies = _history(Study).filter(evidence_map_id=evidence_map.pk).values("id")
    history = _history(EffectSize).filter(study_id__in=studies)
    changed = list(set(history.filter(history_date__gte=since).values_list("id", flat=True)))
    if not changed:
        return set()
    rows = _window(
        history.filter(id__in_ids=changed).values_list("id", "history_date", "study_id", "intervention_id", "outcome_id"),
        since,
    )
    published = set(
        Study.objects.filter(pk__in_ids=list({row[2] for row in rows}), status=Status.PUBLISHED).values_list("pk", flat=True)
    )
    return {
        (i, o) for _, _, study, row, column in rows if study in published
        for i in _up(interventions, [row]) for o in _up(outcomes, [column])
    }


def cells_changed_since(evidence_map: EvidenceMap, since: datetime) -> ChangedCells:
    """The map's cells (aggregate cells included) any of whose inputs changed at or after
    `since`, as the pooled cells see them (published studies only):

    - every cell, when the map's settings were saved (pooling, labels, confidence rules);
    - the rows and columns of a framework node created, changed, moved or deleted, and of its
      categories, where it hangs now and where it hung (names, directions and sub-categories
      shape a cell's harmonisation and its `aggregate`);
    - the cell of a summary created, changed or deleted (its confidence override);
    - the cells of a published study created, changed (its codings included), deleted,
      published or unpublished, before and after the change;
    - the cells of an effect size of a published study created, changed or deleted.

    A change to anything a cell shows is listed; a change that leaves a cell's numbers as they
    were (a study's title) lists it too. Writes that bypass the history are not seen.
    """
    interventions = framework_tree(Intervention, evidence_map)
    outcomes = framework_tree(Outcome, evidence_map)
    summaries = _history(CellSummary).filter(evidence_map_id=evidence_map.pk, history_date__gte=since)
    cells = set(summaries.values_list("intervention_id", "outcome_id"))
    cells |= _study_cells(evidence_map, since, interventions, outcomes)
    cells |= _effect_size_cells(evidence_map, since, interventions, outcomes)
    return ChangedCells(
        everything=evidence_map.updated_at >= since,
        rows=frozenset(_moved_nodes(Intervention, interventions, evidence_map, since)),
        columns=frozenset(_moved_nodes(Outcome, outcomes, evidence_map, since)),
        cells=frozenset(cells),
    )
