from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle


@pytest.fixture(autouse=True)
def generous_throttle(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests make many anonymous requests in a second: lift the rate (one test lowers it)."""
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "100000/minute"})
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def reviewer_api(reviewer) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    token = Token.objects.create(user=reviewer)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
