"""Writes to the map framework and cell summaries (admin, API and demo loader call these)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Model

from studies.services import User, actor_or_none


@transaction.atomic
def framework_save(*, instance: Model, user: User) -> Model:
    """Validate and save a map, intervention, outcome or cell summary, recording who changed it."""
    instance._history_user = actor_or_none(user)  # type: ignore[attr-defined]
    instance.full_clean()
    instance.save()
    return instance


def framework_create(*, model: type[Model], user: User, **fields: Any) -> Model:
    return framework_save(instance=model(**fields), user=user)
