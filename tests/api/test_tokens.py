"""API tokens: kept as digests, expiring, listed and revoked by their owner only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from api import tokens
from api.models import ApiToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_token_is_stored_as_a_digest_and_records_its_use(settings) -> None:  # type: ignore[no-untyped-def]
    user = UserFactory(username="ana")
    token, key = tokens.issue(user=user, name="sync script")
    assert key not in {token.digest, token.prefix} and token.prefix == key[:8]
    assert token.expires_at - token.created_at == timedelta(days=settings.API_TOKEN_DAYS)
    assert token.last_used_at is None
    assert client_with(key).get("/api/v1/tokens/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_an_expired_or_revoked_token_authenticates_nothing() -> None:
    user = UserFactory(username="ana")
    token, key = tokens.issue(user=user, name="old", days=1)
    now = timezone.now()
    ApiToken.objects.filter(pk=token.pk).update(created_at=now - timedelta(days=1, seconds=1), expires_at=now - timedelta(seconds=1))
    response = client_with(key).get("/api/v1/tokens/")
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]
    other, other_key = tokens.issue(user=user, name="revoked")
    tokens.revoke(token=other, user=user)
    assert client_with(other_key).get("/api/v1/tokens/").status_code == 401


def test_the_lifetime_is_bounded(settings) -> None:  # type: ignore[no-untyped-def]
    user = UserFactory(username="ana")
    with pytest.raises(ValueError, match="1 to"):
        tokens.issue(user=user, name="forever", days=settings.API_TOKEN_MAX_DAYS + 1)


def test_owners_list_and_revoke_their_own_tokens_only() -> None:
    ana, bo = UserFactory(username="ana"), UserFactory(username="bo")
    first, key = tokens.issue(user=ana, name="laptop")
    second, _ = tokens.issue(user=ana, name="server")
    theirs, _ = tokens.issue(user=bo, name="bo's")
    api = client_with(key)
    listed = api.get("/api/v1/tokens/").json()
    assert {t["name"] for t in listed} == {"laptop", "server"} and all("digest" not in t for t in listed)
    assert api.delete(f"/api/v1/tokens/{theirs.pk}/").status_code == 404
    assert ApiToken.objects.get(pk=theirs.pk).revoked_at is None
    assert api.delete(f"/api/v1/tokens/{second.pk}/").status_code == 204
    assert not ApiToken.objects.get(pk=second.pk).is_active
    assert api.get(f"/api/v1/tokens/{second.pk}/").json()["active"] is False
    # Revoking the token in use ends it at once.
    assert api.delete(f"/api/v1/tokens/{first.pk}/").status_code == 204
    assert api.get("/api/v1/tokens/").status_code == 401
    with pytest.raises(PermissionError):
        tokens.revoke(token=theirs, user=ana)


def test_anonymous_clients_have_no_tokens() -> None:
    assert APIClient().get("/api/v1/tokens/").status_code == 401


def test_in_the_admin_each_user_issues_sees_and_revokes_their_own(client: Client) -> None:
    ana, bo = UserFactory(username="ana", is_staff=True), UserFactory(username="bo", is_staff=True)
    tokens.issue(user=bo, name="bo's")
    client.force_login(ana)
    response = client.post(reverse("admin:api_apitoken_add"), {"name": "notebook", "days": "30"}, follow=True)
    shown = next(str(m) for m in response.context["messages"] if "not shown again" in str(m))
    key = shown.rsplit(" ", 1)[-1]
    mine = ApiToken.objects.get(user=ana)
    assert mine.name == "notebook" and mine.digest == tokens.digest_of(key)
    assert (mine.expires_at - mine.created_at).days == 30
    listed = client.get(reverse("admin:api_apitoken_changelist")).context["cl"].result_list
    assert [t.name for t in listed] == ["notebook"]
    theirs = ApiToken.objects.get(user=bo)
    assert client.get(reverse("admin:api_apitoken_change", args=[theirs.pk])).status_code in (302, 403)
    client.post(reverse("admin:api_apitoken_changelist"), {"action": "revoke", "_selected_action": [mine.pk, theirs.pk]})
    assert not ApiToken.objects.get(pk=mine.pk).is_active
    assert ApiToken.objects.get(pk=theirs.pk).is_active


def test_the_command_issues_a_token_that_works() -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    UserFactory(username="ana")
    out = StringIO()
    call_command("issue_token", "ana", "ci", "--days", "7", stdout=out, stderr=StringIO())
    key = out.getvalue().strip()
    assert client_with(key).get("/api/v1/tokens/").json()[0]["name"] == "ci"
    with pytest.raises(CommandError, match="no user"):
        call_command("issue_token", "nobody", "x")
    with pytest.raises(CommandError, match="1 to"):
        call_command("issue_token", "ana", "x", "--days", "0")
