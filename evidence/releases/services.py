"""Making a release: the one write of evidence.models.Release."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max

from evidence.models import EvidenceMap, Release
from evidence.releases import snapshot
from studies.services import User, actor_or_none


def _authorize(evidence_map: EvidenceMap, user: User) -> None:
    """Only the map's publishers release it (`user=None` is the system: the shell, a command
    run without --user)."""
    if user is None:
        return
    has_perm = getattr(user, "has_perm", None)
    if not user.is_authenticated or not getattr(user, "is_active", False) or has_perm is None:
        raise PermissionDenied("Sign in with an account that has the publisher role on the map to release it.")
    if not has_perm("evidence.publisher", evidence_map):
        raise PermissionDenied(f"{user} may not release the map “{evidence_map}”: that needs the publisher role on it.")


@transaction.atomic
def release_map(
    *,
    evidence_map: EvidenceMap,
    user: User,
    notes: str,
    search_from: date | None = None,
    search_to: date | None = None,
) -> Release:
    """Snapshot everything readers see of the map now as its next release (1, 2, 3, …)."""
    _authorize(evidence_map, user)
    # The map's row is locked until the release is stored: two releases at once wait for each
    # other instead of taking one number, and no write to the map (which bumps its version,
    # an UPDATE of this row) lands between the snapshot and the numbering.
    locked = EvidenceMap.objects.select_for_update().get(pk=evidence_map.pk)
    if not locked.is_published:
        raise ValidationError(f"The map “{locked}” is not published: publish it before releasing it.")
    document = snapshot.build_document(locked)
    data = snapshot.encode(document)
    publisher: Any = actor_or_none(user)  # the user model, whatever AUTH_USER_MODEL is
    latest = Release.objects.filter(evidence_map=locked).aggregate(n=Max("number"))["n"] or 0
    release = Release(
        evidence_map=locked,
        number=latest + 1,
        released_by=publisher,
        notes=notes,
        search_from=search_from,
        search_to=search_to,
        document=data,
        document_sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        **snapshot.counts(document),
    )
    release.full_clean()
    release.save()
    return release
