"""Writes: token authentication, model permissions, and the services' validation as 400s."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from api import tokens
from studies.models import EffectSize, Study
from tests.api.conftest import World
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def snapshot() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every study, effect size and coding, to show that a refused write changed nothing."""
    studies = list(Study.objects.order_by("pk").values_list())
    effects = list(EffectSize.objects.order_by("pk").values_list())
    codings = list(Study.interventions.through.objects.order_by("pk").values_list()) + list(
        Study.outcomes.through.objects.order_by("pk").values_list()
    )
    return studies, effects, codings


def new_study(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "map": "open-map", "authors": "Okafor, C.; Lee, D.", "year": 2021, "title": "A new trial",
        "design": "rct", "countries": ["NG"], "status": "published",
        "interventions": [world.i_a.pk], "outcomes": [world.o_x.pk], **extra,
    }


def new_effect(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "study": world.kenya.pk, "intervention": world.i_b.pk, "outcome": world.o_x.pk,
        "label": "girls vs boys", "input_kind": "means",
        "mean_1": 10.0, "sd_1": 2.0, "n_1": 50, "mean_2": 9.0, "sd_2": 2.0, "n_2": 50, **extra,
    }


# --- who may write ---


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/v1/studies/"),
        ("patch", "/api/v1/studies/{kenya}/"),
        ("post", "/api/v1/effect-sizes/"),
        ("patch", "/api/v1/effect-sizes/{es}/"),
        ("delete", "/api/v1/effect-sizes/{es}/"),
    ],
)
def test_writes_without_a_token_are_401(api: APIClient, world: World, method: str, url: str) -> None:
    before = snapshot()
    url = url.format(kenya=world.kenya.pk, es=world.es_kenya.pk)
    response = getattr(api, method)(url, new_study(world), format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    assert response.json()["error"]["code"] == "not_authenticated"
    assert snapshot() == before


def test_a_bad_token_is_401(api: APIClient, world: World) -> None:
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api.post("/api/v1/studies/", new_study(world), format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_a_user_without_permissions_is_403(api: APIClient, world: World) -> None:
    user = UserFactory(username="partner")
    api.credentials(HTTP_AUTHORIZATION=f"Token {tokens.issue(user=user, name='tests')[1]}")
    before = snapshot()
    for method, url, data in [
        ("post", "/api/v1/studies/", new_study(world)),
        ("patch", f"/api/v1/studies/{world.kenya.pk}/", {"title": "Changed"}),
        ("post", "/api/v1/effect-sizes/", new_effect(world)),
        ("delete", f"/api/v1/effect-sizes/{world.es_kenya.pk}/", None),
    ]:
        response = getattr(api, method)(url, data, format="json")
        assert response.status_code == 403, url
        assert response.json()["error"]["code"] == "permission_denied"
    assert snapshot() == before
    # ... and reading with a token works, without drafts (no view permission).
    assert api.get("/api/v1/studies/").json()["count"] == 3


# --- studies ---


def test_create_a_study(reviewer_api: APIClient, world: World, reviewer: Any) -> None:
    response = reviewer_api.post("/api/v1/studies/", new_study(world, doi="https://doi.org/10.1234/ABC"),
                                 format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    study = Study.objects.get(pk=body["id"])
    assert study.created_by == reviewer
    assert study.doi == "10.1234/abc"  # normalised by the model
    assert body["region"] == "Africa"
    assert body["intervention_ids"] == [world.i_a.pk] and body["outcome_ids"] == [world.o_x.pk]
    assert body["map"] == "open-map"


def test_update_a_study(reviewer_api: APIClient, world: World) -> None:
    response = reviewer_api.patch(
        f"/api/v1/studies/{world.kenya.pk}/", {"title": "Schools in Kenya, revised", "countries": ["FR"]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    world.kenya.refresh_from_db()
    assert world.kenya.title == "Schools in Kenya, revised"
    assert world.kenya.region == "Europe"
    assert response.json()["year"] == 2012  # untouched


def test_reviewers_can_update_drafts(reviewer_api: APIClient, world: World) -> None:
    response = reviewer_api.patch(f"/api/v1/studies/{world.draft.pk}/", {"status": "published"}, format="json")
    assert response.status_code == 200
    world.draft.refresh_from_db()
    assert world.draft.status == "published"


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"year": 1800}, {"year"}),
        ({"year": 3000}, {"year"}),
        ({"year": "soon"}, {"year"}),
        ({"design": "poetry"}, {"design"}),
        ({"doi": "not a doi"}, {"doi"}),
        ({"title": ""}, {"title"}),
        ({"status": "secret"}, {"status"}),
        ({"countries": ["XX"]}, {"countries"}),
        ({"map": "no-such-map"}, {"map"}),
        ({"interventions": [999999]}, {"interventions"}),
        ({"outcomes": ["x"]}, {"outcomes.0"} ),
    ],
)
def test_invalid_study_is_400_and_changes_nothing(
    reviewer_api: APIClient, world: World, changes: dict[str, Any], fields: set[str]
) -> None:
    before = snapshot()
    response = reviewer_api.post("/api/v1/studies/", new_study(world, **changes), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400
    assert fields <= set(error["fields"]), error
    assert snapshot() == before


def test_missing_required_study_fields_are_reported_by_the_model(reviewer_api: APIClient, world: World) -> None:
    before = snapshot()
    response = reviewer_api.post("/api/v1/studies/", {"map": "open-map"}, format="json")
    assert response.status_code == 400
    # Authors and year may be empty (a corporate report, an undated work); title and design may not.
    assert set(response.json()["error"]["fields"]) == {"title", "design"}
    assert snapshot() == before


def test_invalid_study_update_changes_nothing(reviewer_api: APIClient, world: World) -> None:
    before = snapshot()
    response = reviewer_api.patch(
        f"/api/v1/studies/{world.kenya.pk}/", {"title": "Fine", "year": 1500, "interventions": [world.i_b.pk]},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["year"]
    assert snapshot() == before


def test_a_study_cannot_be_coded_with_another_maps_nodes(reviewer_api: APIClient, world: World) -> None:
    before = snapshot()
    other = world.hidden_es.intervention_id
    response = reviewer_api.patch(f"/api/v1/studies/{world.kenya.pk}/", {"interventions": [other]}, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["interventions"]
    assert snapshot() == before


def test_duplicate_doi_is_400(reviewer_api: APIClient, world: World) -> None:
    assert reviewer_api.post("/api/v1/studies/", new_study(world, doi="10.1234/x"), format="json").status_code == 201
    before = snapshot()
    response = reviewer_api.post("/api/v1/studies/", new_study(world, doi="10.1234/x"), format="json")
    assert response.status_code == 400
    assert snapshot() == before


# --- effect sizes ---


def test_create_an_effect_size(reviewer_api: APIClient, world: World) -> None:
    response = reviewer_api.post("/api/v1/effect-sizes/", new_effect(world), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["g"] == pytest.approx(0.496, abs=0.01)  # d = 0.5, times Hedges' correction
    assert body["native_metric"]
    world.kenya.refresh_from_db()
    assert world.i_b in world.kenya.interventions.all()  # the service codes the study


def test_update_and_delete_an_effect_size(reviewer_api: APIClient, world: World) -> None:
    url = f"/api/v1/effect-sizes/{world.es_kenya.pk}/"
    response = reviewer_api.patch(url, {"es_value": 0.45}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["g"] == pytest.approx(0.45)
    assert reviewer_api.delete(url).status_code == 204
    assert not EffectSize.objects.filter(pk=world.es_kenya.pk).exists()
    assert reviewer_api.get(url).status_code == 404


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"sd_1": -1.0}, {"sd_1"}),
        ({"n_1": 1}, {"n_1"}),
        ({"input_kind": "magic"}, {"input_kind"}),
        ({"es_value": 0.2}, {"es_value"}),  # not used by "means"
        ({"mean_1": "ten"}, {"mean_1"}),
        ({"study": 999999}, {"study"}),
        ({"intervention": 999999}, {"intervention"}),
        ({"label": ""}, {"label"}),
    ],
)
def test_invalid_effect_size_is_400_and_changes_nothing(
    reviewer_api: APIClient, world: World, changes: dict[str, Any], fields: set[str]
) -> None:
    before = snapshot()
    response = reviewer_api.post("/api/v1/effect-sizes/", new_effect(world, **changes), format="json")
    assert response.status_code == 400
    assert fields <= set(response.json()["error"]["fields"]), response.json()
    assert snapshot() == before


def test_effect_size_of_another_maps_row_is_400(reviewer_api: APIClient, world: World) -> None:
    before = snapshot()
    response = reviewer_api.post(
        "/api/v1/effect-sizes/", new_effect(world, intervention=world.hidden_es.intervention_id), format="json"
    )
    assert response.status_code == 400
    assert "intervention" in response.json()["error"]["fields"]
    assert snapshot() == before


def test_invalid_effect_size_update_changes_nothing(reviewer_api: APIClient, world: World) -> None:
    before = snapshot()
    response = reviewer_api.patch(f"/api/v1/effect-sizes/{world.es_kenya.pk}/", {"es_se": -0.1}, format="json")
    assert response.status_code == 400
    assert "es_se" in response.json()["error"]["fields"]
    assert snapshot() == before


def test_malformed_json_is_400(reviewer_api: APIClient, world: World) -> None:
    response = reviewer_api.generic("POST", "/api/v1/studies/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
