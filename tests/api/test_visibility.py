"""The one visibility rule reaches the validators: an anonymous client's ETag and
Last-Modified move with what it can see, never with a draft."""

from __future__ import annotations

import time

import pytest
from rest_framework.test import APIClient

from studies.models import Status
from tests.api.conftest import World

LISTS = [
    "/api/v1/maps/",
    "/api/v1/maps/open-map/",
    "/api/v1/studies/",
    "/api/v1/effect-sizes/",
    "/api/v1/maps/open-map/cells/",
]


def validators(api: APIClient) -> dict[str, tuple[str, str]]:
    found = {}
    for url in LISTS:
        response = api.get(url)
        assert response.status_code == 200, url
        found[url] = (response["ETag"], response["Last-Modified"])
    return found


@pytest.mark.django_db
def test_a_draft_change_moves_no_anonymous_validator(api: APIClient, world: World) -> None:
    before = validators(api)
    time.sleep(1.1)  # Last-Modified has a resolution of one second
    world.draft.title = "SECRET DRAFT study, edited"
    world.draft.save()
    world.es_draft.es_value = 1.5
    world.es_draft.save()
    world.hidden_study.title = "Edited on the draft map"
    world.hidden_study.save()
    assert validators(api) == before


@pytest.mark.django_db
def test_publishing_a_draft_moves_them(api: APIClient, world: World) -> None:
    before = validators(api)
    world.draft.status = Status.PUBLISHED
    world.draft.save()
    after = validators(api)
    for url in ("/api/v1/studies/", "/api/v1/effect-sizes/", "/api/v1/maps/open-map/cells/"):
        assert after[url][0] != before[url][0], url


@pytest.mark.django_db
def test_reviewers_validators_do_move_with_drafts(reviewer_api: APIClient, world: World) -> None:
    tag = reviewer_api.get("/api/v1/studies/")["ETag"]
    world.draft.title = "SECRET DRAFT study, edited again"
    world.draft.save()
    assert reviewer_api.get("/api/v1/studies/")["ETag"] != tag
