"""Releases in the API: `?release=n`, the latest release by default for non-members, the list."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from api import tokens
from evidence.models import EvidenceMap
from evidence.releases import store
from evidence.releases.services import release_map
from studies.models import Status, Study
from tests.conftest import grant
from tests.factories import UserFactory
from tests.portal.test_pages import example_cell
from tests.portal.test_releases import change_everything

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def release_cache(settings: Any, tmp_path: Any) -> Iterator[None]:
    settings.RELEASE_CACHE_DIR = tmp_path / "releases"
    yield
    store.forget_all()


def api_urls(demo_map: EvidenceMap) -> list[str]:
    intervention, outcome = example_cell(demo_map)
    base = f"/api/v1/maps/{demo_map.slug}/"
    return [
        base,
        f"{base}interventions/",
        f"{base}outcomes/",
        f"{base}code-sets/",
        f"{base}cells/",
        f"{base}cells/?design=rct&ordering=-estimate",
        f"{base}cells/?format=csv",
        f"{base}cells/{intervention.pk}/{outcome.pk}/",
        f"/api/v1/studies/?map={demo_map.slug}",
        f"/api/v1/studies/?map={demo_map.slug}&format=csv",
        f"/api/v1/effect-sizes/?map={demo_map.slug}&page_size=500",
    ]


def _with_release(url: str, number: int) -> str:
    return f"{url}{'&' if '?' in url else '?'}release={number}"


def _answers(api: APIClient, urls: list[str]) -> dict[str, tuple[bytes, str]]:
    found = {}
    for url in urls:
        response = api.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        found[url] = (response.content, response["ETag"])
    return found


def test_nothing_after_a_release_changes_its_answers(api: APIClient, demo_map: EvidenceMap) -> None:
    release_map(evidence_map=demo_map, user=None, notes="")
    urls = api_urls(demo_map)
    asked = [_with_release(url, 1) for url in urls]
    before = _answers(api, asked)
    by_default = _answers(api, urls)
    assert {url: body for url, (body, _) in by_default.items()} == {
        url: before[_with_release(url, 1)][0] for url in urls
    }

    change_everything(demo_map)
    store.forget_all()

    assert _answers(api, asked) == before
    assert _answers(api, urls) == by_default  # anonymous clients read the latest release
    # The working copy did change, for its members.
    member = UserFactory(username="api-viewer")
    grant(member, demo_map, "viewer")
    api.credentials(HTTP_AUTHORIZATION=f"Token {tokens.issue(user=member, name='t')[1]}")
    assert api.get(urls[0]).json()["title"] == "Retitled"
    assert api.get(asked[0]).json()["title"] == demo_map.title


def test_unknown_release_is_a_404(api: APIClient, demo_map: EvidenceMap) -> None:
    response = api.get(f"/api/v1/maps/{demo_map.slug}/cells/?release=1")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "This map has no release 1."
    assert api.get(f"/api/v1/maps/{demo_map.slug}/?release=abc").status_code == 400
    assert api.get(f"/api/v1/maps/{demo_map.slug}/changes/?release=1").status_code == 400


def test_release_list(api: APIClient, demo_map: EvidenceMap) -> None:
    assert api.get(f"/api/v1/maps/{demo_map.slug}/releases/").json() == []
    import datetime

    release_map(evidence_map=demo_map, user=None, notes="One.", search_from=datetime.date(2000, 1, 1),
                search_to=datetime.date(2024, 6, 30))
    Study.objects.filter(evidence_map=demo_map).update(status=Status.DRAFT)
    release_map(evidence_map=demo_map, user=None, notes="Two.")
    listed = api.get(f"/api/v1/maps/{demo_map.slug}/releases/").json()
    assert [r["number"] for r in listed] == [2, 1]
    assert listed[1]["notes"] == "One." and listed[1]["search_from"] == "2000-01-01"
    assert listed[1]["search_to"] == "2024-06-30" and listed[1]["n_studies"] > 0
    assert listed[0]["n_studies"] == 0
    assert listed[1]["page"] == f"http://testserver/maps/{demo_map.slug}/releases/1/"
    assert listed[1]["api"] == f"http://testserver/api/v1/maps/{demo_map.slug}/?release=1"
    assert api.get(listed[1]["api"]).json()["n_studies"] == listed[1]["n_studies"]
