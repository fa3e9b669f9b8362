"""`Authorization: Token <key>` against api.models.ApiToken: revoked or expired keys fail."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from api import tokens


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token header, checked against the digests of active (unrevoked, unexpired) tokens."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        token = tokens.authenticate(key)
        if token is None:
            raise AuthenticationFailed("Invalid, expired or revoked token.")
        if not token.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return token.user, token
