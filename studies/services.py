"""Every write to studies and effect sizes goes through here (admin, API, importers, demo)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Model

from studies.models import AppraisalItem, EffectSize, Status, Study

User = AbstractBaseUser | AnonymousUser | None
ModelT = TypeVar("ModelT", bound=Model)


def actor_or_none(user: User) -> AbstractBaseUser | None:
    return user if user is not None and user.is_authenticated else None  # type: ignore[return-value]


def _apply(instance: Any, data: Mapping[str, Any]) -> None:
    for field, value in data.items():
        setattr(instance, field, value)


@transaction.atomic
def study_save(
    *,
    study: Study,
    user: User,
    interventions: Iterable[Any] | None = None,
    outcomes: Iterable[Any] | None = None,
) -> Study:
    """Validate and save a new or changed study, recording who changed it."""
    actor = actor_or_none(user)
    if study._state.adding:
        study.created_by = actor
    study.updated_by = actor
    study._history_user = actor  # type: ignore[attr-defined]
    study.full_clean()
    study.save()
    if interventions is not None:
        study.interventions.set(interventions)
    if outcomes is not None:
        study.outcomes.set(outcomes)
    return study


def study_create(*, user: User, **fields: Any) -> Study:
    interventions = fields.pop("interventions", None)
    outcomes = fields.pop("outcomes", None)
    return study_save(study=Study(**fields), user=user, interventions=interventions, outcomes=outcomes)


@transaction.atomic
def study_update(*, study: Study, user: User, data: Mapping[str, Any]) -> Study:
    data = dict(data)
    interventions = data.pop("interventions", None)
    outcomes = data.pop("outcomes", None)
    _apply(study, data)
    return study_save(study=study, user=user, interventions=interventions, outcomes=outcomes)


@transaction.atomic
def studies_set_status(*, studies: Iterable[Study], status: str, user: User) -> int:
    """Publish or unpublish studies one by one, so that each change is in the history."""
    if status not in Status.values:
        raise ValueError(f"Unknown status {status!r}.")
    changed = 0
    for study in studies:
        if study.status != status:
            study.status = status
            study_save(study=study, user=user)
            changed += 1
    return changed


@transaction.atomic
def save_validated(*, instance: ModelT, user: User) -> ModelT:
    """Validate and save any model whose history records who changed it."""
    instance._history_user = actor_or_none(user)  # type: ignore[attr-defined]
    instance.full_clean()
    instance.save()
    return instance


def appraisal_item_save(*, item: AppraisalItem, user: User) -> AppraisalItem:
    return save_validated(instance=item, user=user)


@transaction.atomic
def effect_size_save(*, effect_size: EffectSize, user: User) -> EffectSize:
    """Validate, convert to Hedges' g and save; the study is coded with the ES's row and column."""
    actor = actor_or_none(user)
    if effect_size._state.adding:
        effect_size.created_by = actor
    effect_size.updated_by = actor
    effect_size._history_user = actor  # type: ignore[attr-defined]
    effect_size.full_clean()  # runs EffectSize.clean(), which computes g from the input
    effect_size.save()
    study = effect_size.study
    study.interventions.add(effect_size.intervention)
    study.outcomes.add(effect_size.outcome)
    return effect_size


def effect_size_create(*, user: User, **fields: Any) -> EffectSize:
    return effect_size_save(effect_size=EffectSize(**fields), user=user)


@transaction.atomic
def effect_size_update(*, effect_size: EffectSize, user: User, data: Mapping[str, Any]) -> EffectSize:
    _apply(effect_size, data)
    return effect_size_save(effect_size=effect_size, user=user)


@transaction.atomic
def effect_size_delete(*, effect_size: EffectSize, user: User) -> None:
    effect_size._history_user = actor_or_none(user)  # type: ignore[attr-defined]
    effect_size.delete()
