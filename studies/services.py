"""Every write to studies, appraisal items and effect sizes goes through here (admin, API,
importers, demo), and every write anywhere goes through `save_validated` / `delete_recorded`,
which check the writer's role on the record's map first (`authorize`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
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


def _is_public(instance: Model, field: str) -> bool:
    model_field: Any = instance._meta.get_field(field)
    return bool(getattr(instance, field) != model_field.get_default())


def _publishes(instance: Model, stored: Model | None, *, deleting: bool) -> bool:
    """Whether this write changes what is published (a study's status, a map's is_published)."""
    field = getattr(type(instance), "publish_field", None)
    if field is None:
        return False
    if deleting:
        return _is_public(stored or instance, field)
    if stored is None:
        return _is_public(instance, field)
    return bool(getattr(stored, field) != getattr(instance, field))


def authorize(*, instance: Model, user: User, deleting: bool = False) -> None:
    """Raise PermissionDenied unless `user` may write (or delete) `instance`.

    The model's `write_role` (`delete_role` to delete, where it has one) on the record's map is needed (its stored map's too, when a record
    moves), and the publisher role to change what is published; a model with a
    `create_permission` (a map) needs that model permission to be created. The rules live in
    evidence.roles, asked through `has_perm`. `user=None` is the system itself (the shell, a
    loader or an import run without --user), which is not checked.
    """
    if user is None:
        return
    role = getattr(type(instance), "write_role", None)
    if role is None:
        return
    if deleting:
        role = getattr(type(instance), "delete_role", role)
    label = instance._meta.verbose_name
    has_perm = getattr(user, "has_perm", None)
    if not user.is_authenticated or not getattr(user, "is_active", False) or has_perm is None:
        raise PermissionDenied(f"Sign in with an account that has a role on the map to change this {label}.")
    verb = "delete" if deleting else "change"
    stored = None
    if instance.pk is not None and not instance._state.adding:
        stored = type(instance)._default_manager.filter(pk=instance.pk).first()
    create_permission = getattr(type(instance), "create_permission", None)
    if stored is None and create_permission and not deleting:
        if not has_perm(create_permission):
            raise PermissionDenied(f"{user} may not create a {label}: it needs the {create_permission} permission.")
        return  # its creator becomes its publisher (evidence.services)
    for record in (instance, stored) if stored is not None else (instance,):
        if not has_perm(f"evidence.{role}", record):
            raise PermissionDenied(
                f"{user} may not {verb} the {label} “{record}”: that needs the {role} role on its map."
            )
    if _publishes(instance, stored, deleting=deleting) and not has_perm("evidence.publisher", instance):
        field = getattr(type(instance), "publish_field", "")
        raise PermissionDenied(
            f"{user} may not publish or unpublish the {label} “{instance}” ({field}): "
            "only the map's publishers may."
        )


@transaction.atomic
def save_validated(*, instance: ModelT, user: User) -> ModelT:
    """The one audited write: authorize, attribute, validate (full_clean and the database's
    constraints), save."""
    authorize(instance=instance, user=user)
    _attribute(instance, user)
    instance.full_clean()
    instance.save()
    return instance


@transaction.atomic
def delete_recorded(*, instance: Model, user: User) -> None:
    """The one audited delete: authorize; the history keeps the row and who deleted it."""
    authorize(instance=instance, user=user, deleting=True)
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
