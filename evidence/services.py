"""Writes to the map framework, cell summaries and members (admin, API, importers and demo
call these)."""

from __future__ import annotations

from django.db import transaction

from evidence.models import EvidenceMap, MapMembership, Role
from studies.services import ModelT, User, actor_or_none, delete_recorded, save_validated


@transaction.atomic
def framework_save(*, instance: ModelT, user: User) -> ModelT:
    """Validate and save a map, intervention, outcome, code set, code or cell summary, recording
    who changed it; the user who creates a map becomes its publisher."""
    creating = instance._state.adding
    save_validated(instance=instance, user=user)
    actor = actor_or_none(user)
    if creating and isinstance(instance, EvidenceMap) and actor is not None:
        MapMembership.objects.get_or_create(evidence_map=instance, user=actor, defaults={"role": Role.PUBLISHER})
    return instance


def membership_set(*, evidence_map: EvidenceMap, member: object, role: Role | str, user: User) -> MapMembership:
    """Give `member` `role` on `evidence_map` (or change it); only the map's publishers may."""
    role = Role.named(role) if isinstance(role, str) else role
    membership = MapMembership.objects.filter(evidence_map=evidence_map, user=member).first()
    membership = membership or MapMembership(evidence_map=evidence_map, user=member)  # type: ignore[misc]
    membership.role = role
    return save_validated(instance=membership, user=user)


def membership_delete(*, membership: MapMembership, user: User) -> None:
    delete_recorded(instance=membership, user=user)
