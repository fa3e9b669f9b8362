"""Writes to the map framework, cell summaries and members, and restoring deleted records
(admin, API, importers and demo call these)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model

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
        creator: Any = actor
        MapMembership.objects.get_or_create(evidence_map=instance, user=creator, defaults={"role": Role.PUBLISHER})
    return instance


def membership_set(*, evidence_map: EvidenceMap, member: Any, role: Role | str, user: User) -> MapMembership:
    """Give `member` `role` on `evidence_map` (or change it); only the map's publishers may."""
    role = Role.named(role) if isinstance(role, str) else role
    membership = MapMembership.objects.filter(evidence_map=evidence_map, user=member).first()
    membership = membership or MapMembership(evidence_map=evidence_map, user=member)
    membership.role = role
    return save_validated(instance=membership, user=user)


def membership_delete(*, membership: MapMembership, user: User) -> None:
    delete_recorded(instance=membership, user=user)


@transaction.atomic
def record_restore(*, historical: Any, user: User) -> Model:
    """Bring back a deleted record from its last history row (its id, its values), through the
    audited write: the writer needs the same role as for any write, the record is validated
    again, and its history goes on (the restore is a new row, "Restored from the history")."""
    model = type(historical.instance)
    if model._default_manager.filter(pk=historical.id).exists():
        raise ValidationError(f"The {model._meta.verbose_name} “{historical.instance}” exists; there is nothing to restore.")
    instance = historical.instance
    for field in model._meta.concrete_fields:
        target = getattr(field, "related_model", None)
        value = getattr(instance, field.attname)
        if field.is_relation and target is not None and value is not None \
                and not target._default_manager.filter(pk=value).exists():
            raise ValidationError(
                f"Its {field.verbose_name} (id {value}) is deleted too; restore that one first."
            )
    instance._state.adding = True
    instance._change_reason = "Restored from the history"
    restored: Model = save_validated(instance=instance, user=user)
    return restored
