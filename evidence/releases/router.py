"""Sends the ORM's reads of a release's models to its materialised copy while it is read.

Only the models a release holds (maps, framework, code sets, summaries, studies, appraisal,
effect sizes and their many-to-many tables) are routed; users, sessions and memberships stay on
the primary, so signing in and permissions work as ever. Joins from a snapshot model to another
table (a map's memberships, in the visibility rule) meet that table's empty copy in the
release, so a release shows every reader the same published data. Writes always go to the
primary: a release is read-only (its file is opened read-only too).
"""

from __future__ import annotations

from typing import Any

from evidence.releases.context import alias_of, current

SNAPSHOT_APPS = frozenset({"evidence", "studies"})


def is_snapshot_model(model: type[Any]) -> bool:
    from evidence.releases.snapshot import SECTIONS

    meta = model._meta
    if model in SECTIONS.values():
        return True
    # The auto-created tables of the studies' codings (Study.interventions, .outcomes, .codes).
    return bool(meta.auto_created and meta.app_label in SNAPSHOT_APPS and not meta.model_name.startswith("historical"))


class ReleaseRouter:
    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        release = current()
        if release is not None and is_snapshot_model(model):
            return alias_of(release)
        return None

    def db_for_write(self, model: type[Any], **hints: Any) -> str | None:
        return None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        return False if db.startswith("release_") else None
