"""One import, from a `MapRecord` to the map: plan, check, and write all or nothing.

`import_map` is what every importer calls once its reader has turned a file into a
`MapRecord` (and reported what it could not read). In one transaction, with the map's row
locked so that two imports into one map run one after the other, it plans the import against
the map as it is, and writes only when the report has no errors and this is not a dry run.
A second import of the same file finds nothing to change and writes nothing: no rows, no
history, no version bump.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from evidence.models import EvidenceMap
from interchange.importing.plan import ImportPlan, Progress, missing_notes, no_progress, plan_import
from interchange.importing.records import MapRecord
from interchange.importing.report import Report
from interchange.importing.write import write_plan
from studies.services import User, actor_or_none


@dataclass
class ImportResult:
    report: Report
    plan: ImportPlan | None
    written: bool
    seconds: float = 0.0

    @property
    def refused(self) -> bool:
        return self.report.has_errors


class _Stop(Exception):
    """Leave the transaction without writing (a dry run, or errors in the report)."""


def _target_map(slug: str, title: str | None, report: Report) -> tuple[EvidenceMap | None, bool]:
    """The map to import into, locked; or a new, unsaved map when `title` is given."""
    existing = EvidenceMap.objects.select_for_update().filter(slug=slug).first()
    if title is None:
        if existing is None:
            report.error("selection", "the map", "slug", f"there is no map “{slug}”; to create it, give a title")
        return existing, False
    if existing is not None:
        report.error(
            "selection", "the map", "slug",
            f"a map “{slug}” exists already (“{existing.title}”); import into it without creating one",
        )
        return None, False
    new = EvidenceMap(slug=slug, title=title)
    try:
        new.full_clean()
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            for message in messages:
                report.error("selection", "the new map", name, message)
        return None, False
    return new, True


def check_role(plan: ImportPlan, user: User, report: Report) -> None:
    """Report an error (so that nothing is written, and a dry run says so too) unless `user` may
    write what the plan changes: the role it needs on the map (evidence.roles), or for a new map
    the permission to create maps. `user=None` is an operator at the shell without --user."""
    if user is None:
        return
    actor: Any = actor_or_none(user)
    if actor is None or not getattr(actor, "is_active", False):
        report.error("permission", "the map", "", "sign in with an account that has a role on the map")
        return
    has_perm: Any = actor.has_perm
    if plan.map_created:
        if not has_perm("evidence.add_evidencemap"):
            report.error("permission", "the map", "", f"{actor} may not create maps (evidence.add_evidencemap)")
        return
    role = plan.required_role()
    if role is not None and not has_perm(f"evidence.{role.name.lower()}", plan.evidence_map):
        report.error(
            "permission", "the map", "",
            f"{actor} may not make these changes: they need the {role.label.lower()} role on the map "
            f"“{plan.evidence_map.slug}”",
        )


def import_map(
    record: MapRecord,
    report: Report,
    *,
    slug: str,
    user: User,
    title: str | None = None,
    dry_run: bool = False,
    reason: str = "",
    progress: Progress = no_progress,
) -> ImportResult:
    """Import `record` into the map `slug` (created, unpublished, when `title` is given).

    Writes nothing when the report has errors (the reader's or the plan's) or on a dry run;
    otherwise writes all of it in one transaction. `reason` is the history's change reason
    (what was imported, e.g. the file's name).
    """
    started = time.perf_counter()
    plan: ImportPlan | None = None
    written = False
    try:
        with transaction.atomic():
            evidence_map, created = _target_map(slug, title, report)
            if evidence_map is not None:
                plan = plan_import(record, report, evidence_map=evidence_map, map_created=created, progress=progress)
                check_role(plan, user, report)
                if record.whole_map:
                    missing_notes(plan, report)
                else:
                    for section in plan.sections.values():
                        section.missing.clear()
            if plan is None or report.has_errors or dry_run:
                raise _Stop
            if plan.has_changes:
                write_plan(plan, user=user, reason=reason or f"Import: {record.source}", progress=progress)
                written = True
    except _Stop:
        pass
    except DatabaseError as exc:
        # The plan checks what the database checks; this is the last line, and it names the cause.
        report.error("conflict", "the map", "", f"the database refused the import ({exc}); nothing was written")
        written = False
    return ImportResult(report=report, plan=plan, written=written, seconds=time.perf_counter() - started)
