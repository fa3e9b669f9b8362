"""Who may do what on a map: the roles' rules (django `rules` predicates).

A user's role on a map (`MapMembership`) is one of viewer, reviewer, editor, publisher; each may
do what the roles before it may. The permissions below take any record on a map (the map
itself, a study, an effect size, a code...) and are asked through Django's
`user.has_perm(name, obj)`, so that studies.services, which imports no other app, can ask them:

- `evidence.viewer`: sees the map's drafts;
- `evidence.reviewer`: writes studies, appraisal items and effect sizes;
- `evidence.editor`: writes the map's settings, framework, cell summaries, code sets and codes;
- `evidence.publisher`: publishes and unpublishes studies and the map, and manages members.

Superusers pass every check (Django's `has_perm` answers them before any rule). A new map has no
members yet: creating one needs the model permission `evidence.add_evidencemap`, and its creator
becomes its publisher (evidence.services). What each reader sees is decided by `visible_to`
(studies/models.py), which agrees: any role sees its map's drafts.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from rules import predicate, set_perm  # type: ignore[attr-defined]

from evidence.models import EvidenceMap, MapMembership, Role


def map_id_of(obj: Any) -> int | None:
    """The id of the map that a record belongs to (None for a new map or an unrelated object)."""
    if isinstance(obj, EvidenceMap):
        return obj.pk
    if isinstance(obj, int):
        return obj
    for path in ("evidence_map_id", "study.evidence_map_id", "code_set.evidence_map_id"):
        value: Any = obj
        try:
            for name in path.split("."):
                value = getattr(value, name)
        except (AttributeError, ObjectDoesNotExist):
            continue
        if value is not None:
            return int(value)
    return None


def role_on(user: Any, evidence_map: Any) -> Role | None:
    """The user's role on the map of `evidence_map` (a map, a record on one, or a map id)."""
    map_id = map_id_of(evidence_map)
    if map_id is None or not getattr(user, "is_authenticated", False):
        return None
    found = MapMembership.objects.filter(evidence_map_id=map_id, user=user).values_list("role", flat=True).first()
    return Role(found) if found is not None else None


def maps_with_role(user: Any, role: Role) -> Any:
    """The maps where `user` has `role` or a higher one (all maps for an active superuser)."""
    if getattr(user, "is_superuser", False) and getattr(user, "is_active", False):
        return EvidenceMap.objects.all()
    if not getattr(user, "is_authenticated", False):
        return EvidenceMap.objects.none()
    return EvidenceMap.objects.filter(memberships__user=user, memberships__role__gte=role)


def _at_least(role: Role) -> Any:
    def check(user: Any, obj: Any = None) -> bool:
        if obj is None:  # "on some map": for the admin's lists and add buttons
            return bool(getattr(user, "is_authenticated", False) and maps_with_role(user, role).exists())
        found = role_on(user, obj)
        return found is not None and found >= role

    return predicate(check, name=f"has_role_{role.name.lower()}")  # type: ignore[no-untyped-call]


is_viewer = _at_least(Role.VIEWER)
is_reviewer = _at_least(Role.REVIEWER)
is_editor = _at_least(Role.EDITOR)
is_publisher = _at_least(Role.PUBLISHER)

PERMISSIONS = {
    "evidence.viewer": is_viewer,
    "evidence.reviewer": is_reviewer,
    "evidence.editor": is_editor,
    "evidence.publisher": is_publisher,
}


def register() -> None:
    """Add the role permissions to rules' permission set (once, from the app's ready())."""
    for name, rule in PERMISSIONS.items():
        set_perm(name, rule)  # type: ignore[no-untyped-call]
