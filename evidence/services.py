"""Writes to the map framework and cell summaries (admin, API and demo loader call these)."""

from __future__ import annotations

from studies.services import ModelT, User, save_validated


def framework_save(*, instance: ModelT, user: User) -> ModelT:
    """Validate and save a map, intervention, outcome or cell summary, recording who changed it."""
    return save_validated(instance=instance, user=user)
