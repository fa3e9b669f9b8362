"""Throttling that holds: the client is who the trusted proxies say (X-Forwarded-For is ignored
without them), counters live in the shared cache (Redis), and data.json and the downloads are
throttled for anonymous clients."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.test import Client, override_settings
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle

from tests.api.conftest import World

pytestmark = pytest.mark.django_db

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def two_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/minute"})


def _statuses(client: APIClient, headers: list[dict[str, str]], url: str = "/api/v1/maps/") -> list[int]:
    return [client.get(url, headers=h).status_code for h in headers]


def test_forwarded_for_is_ignored_without_trusted_proxies(api: APIClient, world: World, two_a_minute: None) -> None:
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0
    spoofed = [{"X-Forwarded-For": f"203.0.113.{n}"} for n in range(4)]
    assert _statuses(api, spoofed) == [200, 200, 429, 429]


def test_one_trusted_proxy_names_the_client(api: APIClient, world: World, two_a_minute: None) -> None:
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}):
        # The proxy appends the address it saw; what the client wrote before it does not count.
        alice = [{"X-Forwarded-For": f"10.9.9.{n}, 198.51.100.1"} for n in range(3)]
        bob = [{"X-Forwarded-For": "198.51.100.2"}] * 3
        assert _statuses(api, alice) == [200, 200, 429]
        assert _statuses(api, bob) == [200, 200, 429]


@pytest.fixture
def redis_cache() -> Iterator[str]:
    """The default cache on the local Redis, under a key prefix of this test's own (removed after)."""
    prefix = f"egm-test-{uuid.uuid4().hex}"
    config = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS,
                          "KEY_PREFIX": prefix}}
    try:
        import redis

        redis.Redis.from_url(REDIS).ping()
    except Exception:
        pytest.skip("no Redis on 127.0.0.1:6379")
    with override_settings(CACHES=config):
        yield prefix
    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_counters_are_shared_through_redis(
    api: APIClient, world: World, two_a_minute: None, redis_cache: str
) -> None:
    assert _statuses(api, [{}, {}]) == [200, 200]
    # Another process (a cache client of its own) sees the same two requests...
    other = RedisCache(REDIS, {"KEY_PREFIX": redis_cache})
    assert len(other.get("throttle_anon_127.0.0.1")) == 2
    # ... and a request counted there counts here.
    other.set("throttle_anon_127.0.0.1", [], 60)
    assert _statuses(api, [{}, {}, {}]) == [200, 200, 429]


def _reader_urls(w: World) -> list[str]:
    slug = w.map.slug
    return [
        f"/maps/{slug}/studies.csv", f"/maps/{slug}/studies.ris", f"/maps/{slug}/eppi.json",
        f"/maps/{slug}/map.xlsx", f"/maps/{slug}/cells/{w.i_a.pk}/{w.o_x.pk}/effect-sizes.csv",
        f"/maps/{slug}/download.html",
    ]


@override_settings(READER_ANON_RATE="3/minute")
def test_data_json_and_the_downloads_are_throttled_for_anonymous_clients(world: World, admin_user: object) -> None:
    client = Client()
    data = f"/maps/{world.map.slug}/data.json"
    assert [client.get(f"{data}?year_min={y}").status_code for y in (2000, 2001, 2002)] == [200, 200, 200]
    refused = client.get(f"{data}?year_min=2003")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["error"].startswith("Too many requests")
    # A response the reader cache keeps is replayed without reaching the throttle.
    assert client.get(f"{data}?year_min=2000").status_code == 200
    # The downloads count on the same budget, which is spent.
    for url in _reader_urls(world):
        response = client.get(url)
        assert response.status_code == 429, url
        assert "Retry-After" in response
    # Pages are not throttled, nor are signed-in readers.
    assert client.get(f"/maps/{world.map.slug}/").status_code == 200
    client.force_login(admin_user)  # type: ignore[arg-type]
    assert all(client.get(url).status_code == 200 for url in [data, *_reader_urls(world)])


@override_settings(READER_ANON_RATE="2/minute")
def test_each_download_is_counted(world: World) -> None:
    client = Client()
    url = _reader_urls(world)[0]
    assert [client.get(url).status_code for _ in range(3)] == [200, 200, 429]
