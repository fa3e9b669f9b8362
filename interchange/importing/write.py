"""The writer of an import plan: every row in bulk, in the caller's transaction.

It follows `studies.services.save_validated` step by step, in bulk: each row to write was
validated by the planner (field validation and `clean()`, which converts an effect size's
input to Hedges' g) and the map's unique constraints were checked against the rows it keeps;
here each row is attributed to the importing user (created_by / updated_by where the model
has them) and saved, the database checks its constraints, and a history row records it with
the user, one timestamp for the whole import and a change reason naming the file. A study's
history row carries its codings as they are after the import (simple_history's many-to-many
snapshot), as an edit in the admin would. Bulk writes send no model signals, so the map's
version is bumped once at the end (`evidence.versions.bump`).

Saved one by one through the services (study_create with its codings, effect_size_create),
a study with five codes and two effect sizes took about 250 ms on the 2-core development
machine with PostgreSQL (every save writes its history, its codings' history and a version
bump): some 40 minutes for 10,000 references. In bulk the whole import takes about half a
minute (bench/import.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Model
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from evidence import versions
from evidence.models import Code, CodeSet, EvidenceMap, Intervention, Outcome
from evidence.services import framework_save
from interchange.importing.plan import COMPUTED_FIELDS, ImportPlan, Planned, Progress, no_progress
from studies.models import EffectSize, Study
from studies.services import User, actor_or_none

BATCH_SIZE = 1000
LINKS = {"codes": "code_id", "interventions": "intervention_id", "outcomes": "outcome_id"}


class _Writer:
    def __init__(self, plan: ImportPlan, user: User, reason: str, progress: Progress) -> None:
        self.plan = plan
        self.user = user
        self.actor: AbstractBaseUser | None = actor_or_none(user)
        self.reason = reason[:100]  # simple_history's column
        self.date: datetime = timezone.now()
        self.progress = progress

    def create(self, model: type[Model], objs: Sequence[Model]) -> None:
        if objs:
            bulk_create_with_history(
                list(objs), model, batch_size=BATCH_SIZE, default_user=self.actor,
                default_change_reason=self.reason, default_date=self.date,
            )

    def update(self, model: type[Model], planned: Iterable[Planned], extra: Sequence[str] = ()) -> None:
        items = [p for p in planned if not p.created and p.changed]
        if not items:
            return
        fields = sorted({name for p in items for name in p.changed} | set(extra))
        bulk_update_with_history(
            [p.instance for p in items], model, fields, batch_size=BATCH_SIZE, default_user=self.actor,
            default_change_reason=self.reason, default_date=self.date,
        )

    def tree(self, model: type[Model], planned: list[Planned], ids: dict[str, int], *,
             scope: dict[str, int] | None = None) -> None:
        """Nodes level by level, so that each new node's parent has its id."""
        depth: dict[str, int] = {}
        levels: dict[int, list[Planned]] = defaultdict(list)
        for item in planned:  # parents come before their children
            depth[item.key] = 0 if item.parent is None else depth[item.parent] + 1
            levels[depth[item.key]].append(item)
        for level in sorted(levels):
            items = levels[level]
            for item in items:
                item.instance.parent_id = None if item.parent is None else ids[item.parent]
                if scope is not None and item.created:
                    item.instance.code_set_id = scope[item.group or ""]
            created = [item for item in items if item.created]
            self.create(model, [item.instance for item in created])
            ids.update((item.key, item.instance.pk) for item in created)
        self.update(model, planned)

    def run(self) -> None:
        plan = self.plan
        evidence_map = plan.evidence_map
        if plan.map_created:
            framework_save(instance=evidence_map, user=self.user)  # its importer becomes its publisher
        self.progress("Writing code sets and codes", 0, 1)
        for item in plan.code_sets:
            item.instance.evidence_map = evidence_map
        self.create(CodeSet, [p.instance for p in plan.code_sets if p.created])
        self.update(CodeSet, plan.code_sets)
        code_set_ids = {**plan.code_set_ids, **{p.key: p.instance.pk for p in plan.code_sets}}
        code_ids = dict(plan.code_ids)
        self.tree(Code, plan.codes, code_ids, scope=code_set_ids)
        self.progress("Writing rows and columns", 0, 1)
        intervention_ids = dict(plan.intervention_ids)
        outcome_ids = dict(plan.outcome_ids)
        for items in (plan.interventions, plan.outcomes):
            for item in items:
                item.instance.evidence_map = evidence_map
        self.tree(Intervention, plan.interventions, intervention_ids)
        self.tree(Outcome, plan.outcomes, outcome_ids)
        study_ids = self.studies({"codes": code_ids, "interventions": intervention_ids, "outcomes": outcome_ids})
        self.effects(study_ids, intervention_ids, outcome_ids)
        if plan.segment_code_set is not None:
            evidence_map.segment_code_set_id = code_set_ids[plan.segment_code_set]
            bulk_update_with_history(
                [evidence_map], EvidenceMap, ["segment_code_set"], default_user=self.actor,
                default_change_reason=self.reason, default_date=self.date,
            )
        # Bulk writes send no signals: the map changed once, for its readers or its reviewers.
        versions.bump(evidence_map.pk, public=plan.publicly_visible)

    def studies(self, targets: dict[str, dict[str, int]]) -> dict[str, int]:
        plan = self.plan
        self.progress("Writing studies", 0, len(plan.studies))
        created = [p for p in plan.studies if p.created]
        changed = [p for p in plan.studies if not p.created and p.changed]
        for item in created:
            item.instance.evidence_map = plan.evidence_map
            item.instance.created_by = item.instance.updated_by = self.actor
        Study.objects.bulk_create([p.instance for p in created], batch_size=BATCH_SIZE)
        for item in changed:
            item.instance.updated_by = self.actor
            item.instance.updated_at = self.date
        if changed:
            fields = sorted({n for p in changed for n in p.changed if n not in LINKS} | {"updated_by", "updated_at"})
            Study.objects.bulk_update([p.instance for p in changed], fields, batch_size=BATCH_SIZE)
        study_ids = {p.key: p.instance.pk for p in plan.studies}
        self.progress("Writing codings", 0, 1)
        touched = {p.instance.pk for p in (*created, *changed)}
        links = self.links(created, changed, targets)
        self.progress("Recording the studies' history", 0, 1)
        manager: Any = Study.history  # simple_history's HistoryManager (untyped)
        history = manager.model
        rows = [
            *manager.bulk_history_create(
                [p.instance for p in created], batch_size=BATCH_SIZE, default_user=self.actor,
                default_change_reason=self.reason, default_date=self.date,
            ),
            *manager.bulk_history_create(
                [p.instance for p in changed], batch_size=BATCH_SIZE, update=True, default_user=self.actor,
                default_change_reason=self.reason, default_date=self.date,
            ),
        ]
        for kind, column in LINKS.items():
            snapshot = getattr(history, kind).model
            by_study = links[kind]
            snapshot.objects.bulk_create(
                [
                    snapshot(history_id=row.history_id, id=link_id, study_id=row.id, **{column: target})
                    for row in rows if row.id in touched
                    for link_id, target in by_study.get(row.id, ())
                ],
                batch_size=BATCH_SIZE,
            )
        return study_ids

    def links(self, created: list[Any], changed: list[Any], targets: dict[str, dict[str, int]]
              ) -> dict[str, dict[int, list[tuple[int, int]]]]:
        """Add and remove the managed codings; return each touched study's links of each kind
        after the import, as (link id, target id), for the history snapshot."""
        plan = self.plan
        result: dict[str, dict[int, list[tuple[int, int]]]] = {}
        touched = {p.instance.pk for p in (*created, *changed)}
        for kind, column in LINKS.items():
            through = getattr(Study, kind).through
            ids = targets[kind]
            current: dict[int, list[tuple[int, int]]] = defaultdict(list)
            if changed:
                rows = through.objects.filter(study__evidence_map=plan.evidence_map).values_list("id", "study_id", column)
                for link_id, study_id, target in rows:
                    if study_id in touched:
                        current[study_id].append((link_id, target))
            managed = set(ids.values())
            to_add: list[Any] = []
            to_remove: list[int] = []
            for item in (*created, *changed):
                study_id = item.instance.pk
                want = {ids[key] for key in getattr(item, kind)}
                have = {target for _, target in current[study_id] if target in managed}
                to_add += [through(study_id=study_id, **{column: target}) for target in sorted(want - have)]
                gone = have - want
                if gone:
                    to_remove += [link_id for link_id, target in current[study_id] if target in gone]
                    current[study_id] = [(i, t) for i, t in current[study_id] if t not in gone]
            if to_remove:
                for start in range(0, len(to_remove), BATCH_SIZE):
                    through.objects.filter(pk__in=to_remove[start:start + BATCH_SIZE]).delete()
            through.objects.bulk_create(to_add, batch_size=BATCH_SIZE)
            for link in to_add:
                current[link.study_id].append((link.pk, getattr(link, column)))
            result[kind] = current
        return result

    def effects(self, study_ids: dict[str, int], intervention_ids: dict[str, int], outcome_ids: dict[str, int]) -> None:
        plan = self.plan
        self.progress("Writing effect sizes", 0, len(plan.effects))
        for item in plan.effects:
            if not item.write:
                continue
            effect = item.instance
            effect.study_id = study_ids[item.study]
            effect.intervention_id = intervention_ids[item.intervention]
            effect.outcome_id = outcome_ids[item.outcome]
            if item.created:
                effect.created_by = self.actor
            else:
                effect.updated_at = self.date
            effect.updated_by = self.actor
        self.create(EffectSize, [p.instance for p in plan.effects if p.created])
        self.update(EffectSize, plan.effects, extra=(*COMPUTED_FIELDS, "updated_by", "updated_at"))


def write_plan(plan: ImportPlan, *, user: User, reason: str, progress: Progress = no_progress) -> None:
    """Write what `plan` holds; the caller runs this in a transaction and after checking that
    the plan's report has no errors."""
    _Writer(plan, user, reason, progress).run()
