"""The caller's own API tokens: list them, and revoke one (api.tokens)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from api import tokens
from api.models import ApiToken
from api.views.base import WRITE_ERRORS, ApiView


class TokenOutputSerializer(serializers.ModelSerializer[ApiToken]):
    active = serializers.BooleanField(source="is_active", help_text="Neither revoked nor expired.")

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at", "active"]


class TokenListView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="tokens_list", summary="Your API tokens",
        description="The caller's own tokens, newest first, revoked and expired ones included "
        "(their keys are never shown again).",
        responses={200: TokenOutputSerializer(many=True), 401: WRITE_ERRORS[401]},
    )
    def get(self, request: Request) -> Response:
        owner: Any = request.user
        rows = ApiToken.objects.filter(user=owner)
        return Response(TokenOutputSerializer(rows, many=True).data)


class TokenDetailView(ApiView):
    permission_classes = [IsAuthenticated]

    def get_object(self, request: Request, pk: int) -> ApiToken:
        owner: Any = request.user
        token = ApiToken.objects.filter(user=owner, pk=pk).first()
        if token is None:  # another user's token is as unknown as a missing one
            raise NotFound()
        return token

    @extend_schema(operation_id="tokens_revoke", summary="Revoke one of your tokens",
                   description="From now on the token authenticates nothing; it stays listed as revoked.",
                   responses={204: None, 401: WRITE_ERRORS[401], 404: WRITE_ERRORS[404]})
    def delete(self, request: Request, pk: int) -> Response:
        tokens.revoke(token=self.get_object(request, pk), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(operation_id="tokens_retrieve", summary="One of your tokens",
                   description="One of the caller's own tokens: its name and its created, expiry, last-use and "
                   "revocation times (never its key).",
                   responses={200: TokenOutputSerializer, 401: WRITE_ERRORS[401], 404: WRITE_ERRORS[404]})
    def get(self, request: Request, pk: int) -> Any:
        return Response(TokenOutputSerializer(self.get_object(request, pk)).data)
