"""Every write to studies, appraisal items and effect sizes goes through here (admin, API,
importers, demo), and every write anywhere goes through `save_validated` / `delete_recorded`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model

from studies.models import AppraisalItem, EffectSize, Status, Study

User = AbstractBaseUser | AnonymousUser | None
ModelT = TypeVar("ModelT", bound=Model)


def actor_or_none(user: User) -> AbstractBaseUser | None:
    return user if isinstance(user, AbstractBaseUser) and user.is_authenticated else None


def _attribute(instance: Model, user: User) -> None:
    """Record who makes this change: created_by/updated_by where the model has them, and the
    history record's user."""
    actor = actor_or_none(user)
    if instance._state.adding and hasattr(instance, "created_by"):
        instance.created_by = actor
    if hasattr(instance, "updated_by"):
        instance.updated_by = actor
    instance._history_user = actor  # type: ignore[attr-defined]


@transaction.atomic
def save_validated(*, instance: ModelT, user: User) -> ModelT:
    """The one audited write: attribute, validate (full_clean and the database's constraints), save."""
    _attribute(instance, user)
    instance.full_clean()
    instance.save()
    return instance


@transaction.atomic
def delete_recorded(*, instance: Model, user: User) -> None:
    """The one audited delete: the history keeps the row and who deleted it."""
    _attribute(instance, user)
    instance.delete()


def _apply(instance: Any, data: Mapping[str, Any]) -> None:
    for field, value in data.items():
        setattr(instance, field, value)


def check_codes(study: Study, codes: Iterable[Any]) -> None:
    """Raise a ValidationError on `codes` unless every code is of a code set of the study's map
    (one query)."""
    ids = {code if isinstance(code, int) else code.pk for code in codes}
    code_model: Any = Study.codes.field.related_model  # evidence.Code: studies imports no other app
    others = code_model.objects.filter(pk__in=ids).exclude(code_set__evidence_map=study.evidence_map_id)
    names = sorted(str(code) for code in others.select_related("code_set"))
    if names:
        raise ValidationError({"codes": f"Not codes of this study's map: {'; '.join(names)}."})


@transaction.atomic
def study_save(
    *,
    study: Study,
    user: User,
    interventions: Iterable[Any] | None = None,
    outcomes: Iterable[Any] | None = None,
    codes: Iterable[Any] | None = None,
) -> Study:
    """Validate and save a new or changed study, recording who changed it; `codes` must be of
    the map's code sets."""
    codes = list(codes) if codes is not None else None
    if codes and study.evidence_map_id is not None:  # without a map, full_clean says so
        check_codes(study, codes)
    save_validated(instance=study, user=user)
    if interventions is not None:
        study.interventions.set(interventions)
    if outcomes is not None:
        study.outcomes.set(outcomes)
    if codes is not None:
        study.codes.set(codes)
    return study


def study_create(*, user: User, **fields: Any) -> Study:
    interventions = fields.pop("interventions", None)
    outcomes = fields.pop("outcomes", None)
    codes = fields.pop("codes", None)
    return study_save(study=Study(**fields), user=user, interventions=interventions, outcomes=outcomes, codes=codes)


@transaction.atomic
def study_update(*, study: Study, user: User, data: Mapping[str, Any]) -> Study:
    data = dict(data)
    interventions = data.pop("interventions", None)
    outcomes = data.pop("outcomes", None)
    codes = data.pop("codes", None)
    _apply(study, data)
    return study_save(study=study, user=user, interventions=interventions, outcomes=outcomes, codes=codes)


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


def appraisal_item_save(*, item: AppraisalItem, user: User) -> AppraisalItem:
    return save_validated(instance=item, user=user)


def appraisal_item_delete(*, item: AppraisalItem, user: User) -> None:
    delete_recorded(instance=item, user=user)


@transaction.atomic
def effect_size_save(*, effect_size: EffectSize, user: User) -> EffectSize:
    """Validate, convert to Hedges' g and save; the study is coded with the ES's row and column."""
    save_validated(instance=effect_size, user=user)  # full_clean runs EffectSize.clean(), which computes g
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
    delete_recorded(instance=effect_size, user=user)
