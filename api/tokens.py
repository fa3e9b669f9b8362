"""Issuing, checking and revoking API tokens (the admin, the API and the tests call these)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from api.models import ApiToken
from studies.services import actor_or_none

# A token's last use is written at most this often, not on every request.
LAST_USED_GRANULARITY = timedelta(minutes=1)


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue(*, user: Any, name: str, days: int | None = None) -> tuple[ApiToken, str]:
    """A new token for `user`, valid `days` (default: settings.API_TOKEN_DAYS), and its key,
    which is not stored and cannot be seen again."""
    days = settings.API_TOKEN_DAYS if days is None else days
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise ValueError(f"A token lives 1 to {settings.API_TOKEN_MAX_DAYS} days, not {days}.")
    key = secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken(
        user=user, name=name, prefix=key[:8], digest=digest_of(key), created_at=now,
        expires_at=now + timedelta(days=days),
    )
    token._history_user = actor_or_none(user)  # type: ignore[attr-defined]
    token.full_clean()
    token.save()
    return token, key


def authenticate(key: str) -> ApiToken | None:
    """The active token with this key (its user selected), recording that it was used."""
    token = ApiToken.objects.active().select_related("user").filter(digest=digest_of(key)).first()
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)  # no history row for a use
        token.last_used_at = now
    return token


@transaction.atomic
def revoke(*, token: ApiToken, user: Any) -> ApiToken:
    """Revoke `token` from now on (kept, with its history, as revoked). Its owner or a
    superuser may; anyone else gets PermissionError."""
    if token.user_id != getattr(user, "pk", None) and not getattr(user, "is_superuser", False):
        raise PermissionError(f"{user} may not revoke another user's token.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token._history_user = actor_or_none(user)  # type: ignore[attr-defined]
        token.save(update_fields=["revoked_at"])
    return token
