"""A published map's page and data.json are kept whole per map version (portal.middleware): the
second request is one query and one cache read, a write is seen at once, and nothing is kept
or replayed where the response could differ between readers."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evidence.models import EvidenceMap
from studies import services
from studies.models import Status, Study

pytestmark = pytest.mark.django_db

SLUG = "human-rights-diplomacy"


def page(client: Client, name: str = "portal:map", query: str = "", **headers: Any) -> Any:
    url = reverse(name, kwargs={"slug": SLUG}) + (f"?{query}" if query else "")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    response.queries = len(queries)
    return response


@pytest.mark.parametrize("name", ["portal:map", "portal:map_data"])
def test_a_readers_second_request_is_one_query(client: Client, demo_map: EvidenceMap, name: str) -> None:
    first = page(client, name)
    second = page(client, name)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second.queries == 1 < first.queries
    assert second["Content-Type"] == first["Content-Type"]
    # The outer middleware still adds its headers to a kept response.
    if name == "portal:map":
        assert "Content-Security-Policy" in second
    assert second["X-Content-Type-Options"] == "nosniff"


def test_a_write_is_seen_at_once(client: Client, demo_map: EvidenceMap, reviewer: Any) -> None:
    study = Study.objects.filter(evidence_map=demo_map, status=Status.PUBLISHED).order_by("pk").first()
    assert study is not None
    before = page(client, "portal:map_data")
    page(client, "portal:map_data")
    services.studies_set_status(studies=[study], status=Status.DRAFT, user=reviewer)
    after = page(client, "portal:map_data")
    assert after.queries > 1  # a new version: through the view again
    assert after.content != before.content
    assert after.json()["totals"]["studies"] == before.json()["totals"]["studies"] - 1


def test_encodings_and_queries_are_kept_apart(client: Client, demo_map: EvidenceMap) -> None:
    plain = page(client, "portal:map_data")
    page(client, "portal:map_data", HTTP_ACCEPT_ENCODING="gzip")
    packed_again = page(client, "portal:map_data", HTTP_ACCEPT_ENCODING="gzip")
    assert packed_again.queries == 1 and packed_again["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in page(client, "portal:map_data")
    assert gzip.decompress(packed_again.content) == plain.content
    assert "Accept-Encoding" in packed_again["Vary"]
    filtered = page(client, "portal:map_data", "design=rct")
    assert filtered.json()["totals"]["studies"] < plain.json()["totals"]["studies"]
    assert page(client, "portal:map_data", "design=rct").content == filtered.content


def test_a_kept_response_answers_304_to_its_etag(client: Client, demo_map: EvidenceMap) -> None:
    first = page(client, "portal:map_data")
    again = page(client, "portal:map_data", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.queries == 1 and again["ETag"] == first["ETag"]
    other = page(client, "portal:map_data", HTTP_IF_NONE_MATCH='W/"something-else"')
    assert other.status_code == 200


def test_signed_in_readers_get_their_own_map_page(client: Client, demo_map: EvidenceMap, reviewer: Any) -> None:
    anonymous = page(client)
    assert page(client).queries == 1
    reviewer.is_staff = True
    reviewer.save()
    client.force_login(reviewer)
    signed_in = page(client)
    assert signed_in.queries > 1
    assert b'href="/admin/"' in signed_in.content and b'href="/admin/"' not in anonymous.content
    # data.json is the same for every reader, so it is kept for signed-in readers too.
    page(client, "portal:map_data")
    assert page(client, "portal:map_data").queries == 1


def test_an_unpublished_map_is_never_kept(client: Client, demo_map: EvidenceMap, reviewer: Any) -> None:
    page(client)
    EvidenceMap.objects.filter(pk=demo_map.pk).update(is_published=False)
    assert page(client).status_code == 404
    assert page(client, "portal:map_data").status_code == 404
    reviewer.is_staff = True
    reviewer.save()
    client.force_login(reviewer)
    for _ in range(2):
        assert page(client, "portal:map_data").queries > 1


def test_a_bad_filter_is_not_kept(client: Client, demo_map: EvidenceMap) -> None:
    for _ in range(2):
        response = page(client, "portal:map_data", "year_min=abc")
        assert response.status_code == 400 and response.queries > 1


def test_a_deployment_with_new_static_files_does_not_replay_old_pages(
    client: Client, demo_map: EvidenceMap, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal import middleware

    page(client)
    assert page(client).queries == 1
    monkeypatch.setattr(middleware, "static_fingerprint", lambda: "another-manifest")
    assert page(client).queries > 1  # the kept page names static files that may be gone
    assert page(client).queries == 1
