"""Tokens for the partner API: `Authorization: Token <key>` against api.models.ApiToken.

Revoked or expired keys fail. Tokens are required for writes and never in the way of public
reads: a read (GET, HEAD, OPTIONS) with a token that is unknown or no longer valid is answered
as for an anonymous client (published data only) instead of 401, so a partner's script that
keeps an old token keeps reading public data; the response then carries `Token-Ignored`
saying why. A write with such a token is still a 401.
"""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from api import tokens

# The response header that tells a reader its token was not used.
TOKEN_IGNORED_HEADER = "Token-Ignored"


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token header, checked against the digests of active (unrevoked, unexpired) tokens;
    on a read, a token that fails is ignored (see the module's docstring)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        try:
            return super().authenticate(request)
        except AuthenticationFailed as exc:
            if request.method not in SAFE_METHODS:
                raise
            request._request.token_ignored = str(exc.detail)  # type: ignore[attr-defined]
            return None

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        token = tokens.authenticate(key)
        if token is None:
            raise AuthenticationFailed("Invalid, expired or revoked token.")
        if not token.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return token.user, token
