"""/healthz (the process) and /readyz (database and cache) for load balancers."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


@override_settings(ALLOWED_HOSTS=["egm.example.org"], SECURE_SSL_REDIRECT=True)
def test_probes_answer_by_address_over_plain_http() -> None:
    """A probe from inside the network: an IP address as Host, plain HTTP, no throttle."""
    client = Client(HTTP_HOST="10.0.0.7:8000")
    for _ in range(3):
        health = client.get("/healthz")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        assert health["Cache-Control"] == "no-store"
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ok", "database": "ok", "cache": "ok"})
    assert client.get("/readyz/").status_code == 200
    assert client.head("/healthz").status_code == 200
    # Everything else still goes through the host check and the redirect.
    assert client.get("/").status_code == 400


def test_healthz_needs_no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_database(*args: object, **kwargs: object) -> None:
        raise AssertionError("healthz touched the database")

    monkeypatch.setattr(connections["default"], "cursor", no_database)
    assert Client().get("/healthz").status_code == 200


def test_readyz_is_503_without_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import OperationalError

    def down(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(connections["default"], "cursor", down)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable (OperationalError)", "cache": "ok"}


def test_readyz_is_503_without_the_cache() -> None:
    # A Redis that does not answer (nothing listens on port 1).
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    with override_settings(CACHES=caches):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "ok"
    assert response.json()["cache"].startswith("unreachable")
