"""A write commits and answers 2xx, or answers an error and commits nothing; request bodies
have a size and a depth limit; every API error, 500 and 413 included, is in the API's JSON
format with DEBUG off (as the tests run)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.admin import ModelAdmin
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from api.errors import bad_request
from api.parsers import MAX_DEPTH
from api.serializers import EffectSizeOutputSerializer, StudyOutputSerializer
from studies.models import AppraisalItem, EffectSize, Study
from tests.api.conftest import World
from tests.api.test_write import new_effect, new_study
from tests.studies.test_admin import means, study_form

pytestmark = pytest.mark.django_db


def everything() -> list[Any]:
    """Every row a write may touch, its history included."""
    return [
        list(model.objects.order_by("pk").values_list())
        for model in (Study, EffectSize, AppraisalItem, Study.interventions.through, Study.outcomes.through,
                      Study.codes.through, Study.history.model, EffectSize.history.model)
    ]


def writes(w: World) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("post", "/api/v1/studies/", new_study(w)),
        ("patch", f"/api/v1/studies/{w.kenya.pk}/", {"title": "Changed", "codes": [w.rural.pk]}),
        ("post", "/api/v1/effect-sizes/", new_effect(w)),
        ("patch", f"/api/v1/effect-sizes/{w.es_kenya.pk}/", {"es_value": 0.35}),
        ("delete", f"/api/v1/effect-sizes/{w.es_kenya.pk}/", {}),
    ]


def _raise(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("failure after the save")


@pytest.mark.parametrize("index", range(5), ids=["POST study", "PATCH study", "POST effect", "PATCH effect",
                                                  "DELETE effect"])
@pytest.mark.parametrize("where", ["serializer", "renderer"])
def test_a_failure_after_the_save_commits_nothing(
    reviewer_api: APIClient, world: World, monkeypatch: pytest.MonkeyPatch, index: int, where: str
) -> None:
    method, url, body = writes(world)[index]
    if where == "serializer":
        if method == "delete":
            pytest.skip("a delete answers with no body")
        for serializer in (StudyOutputSerializer, EffectSizeOutputSerializer):
            monkeypatch.setattr(serializer, "to_representation", _raise)
    else:
        monkeypatch.setattr(JSONRenderer, "render", _raise)
    before = everything()
    response = getattr(reviewer_api, method)(url, json.dumps(body), content_type="application/json")
    assert response.status_code == 500
    assert json.loads(response.content) == {"error": {
        "status": 500, "code": "server_error",
        "message": "Something went wrong on our side; nothing was changed. Please try again later.",
    }}
    assert everything() == before


@pytest.mark.parametrize("index", range(5), ids=["POST study", "PATCH study", "POST effect", "PATCH effect",
                                                  "DELETE effect"])
def test_the_same_writes_commit_when_nothing_fails(reviewer_api: APIClient, world: World, index: int) -> None:
    """The control: without the forced failure each write does change the data."""
    method, url, body = writes(world)[index]
    before = everything()
    response = getattr(reviewer_api, method)(url, body, format="json")
    assert response.status_code in (200, 201, 204), response.content
    assert everything() != before


@pytest.mark.parametrize(
    ("url", "form", "hook"),
    [
        ("admin:studies_study_add", "new study", "response_add"),
        ("admin:studies_study_change", "changed study", "response_change"),
        ("admin:studies_effectsize_change", "changed effect", "response_change"),
        ("admin:studies_effectsize_delete", "delete effect", "response_delete"),
    ],
)
def test_an_admin_save_that_fails_after_saving_commits_nothing(
    admin_user: Any, world: World, monkeypatch: pytest.MonkeyPatch, url: str, form: str, hook: str
) -> None:
    client = Client()
    client.force_login(admin_user)
    w = world
    effect = {"intervention": w.i_a.pk, "outcome": w.o_x.pk, "label": "L", "input_kind": "es_se",
              "es_value": "0.25", "es_se": "0.1"}
    forms: dict[str, tuple[Any, dict[str, Any]]] = {
        "new study": ((), study_form(w.map.pk, [means(w.i_a, w.o_x)])),
        "changed study": ((w.peru.pk,), {**study_form(w.map.pk, [means(w.i_a, w.o_x)]), "title": "Changed"}),
        "changed effect": ((w.es_peru.pk,), {"study": w.peru.pk, **effect}),
        "delete effect": ((w.es_peru.pk,), {"post": "yes"}),
    }
    args, data = forms[form]
    before = everything()
    monkeypatch.setattr(ModelAdmin, hook, _raise)
    with pytest.raises(RuntimeError):
        client.post(reverse(url, args=args), data)
    assert everything() == before
    monkeypatch.undo()
    client.force_login(admin_user)
    response = client.post(reverse(url, args=args), data)
    assert response.status_code == 302, response.context and response.context.get("errors")
    assert everything() != before


# --- Limits and the error format ---


def test_a_body_over_the_limit_is_a_413_that_changes_nothing(reviewer_api: APIClient, world: World) -> None:
    before = everything()
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2_000):
        response = reviewer_api.post("/api/v1/studies/", new_study(world, abstract="x" * 3_000), format="json")
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "request_too_large"
        assert "2000 bytes" in response.json()["error"]["message"]
        small = reviewer_api.post("/api/v1/studies/", new_study(world, abstract="x" * 500), format="json")
        assert small.status_code == 201
    assert len(everything()[0]) == len(before[0]) + 1


def _nested(depth: int) -> str:
    return '{"title": ' + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "}"


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 100_000])
def test_json_nested_too_deep_is_a_400(reviewer_api: APIClient, world: World, depth: int) -> None:
    before = everything()
    response = reviewer_api.post("/api/v1/studies/", _nested(depth), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert f"nested deeper than {MAX_DEPTH}" in response.json()["error"]["message"]
    assert everything() == before


def test_nesting_within_the_limit_reaches_validation(reviewer_api: APIClient, world: World) -> None:
    response = reviewer_api.post("/api/v1/studies/", _nested(MAX_DEPTH), content_type="application/json")
    assert response.status_code == 400
    assert "title" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "parse_error"),
        ('{"year": NaN}', "application/json", 400, "parse_error"),
        ('{"year": Infinity}', "application/json", 400, "parse_error"),
        (b'{"title": "\xff\xfe"}', "application/json", 400, "parse_error"),
        ("title=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("<x/>", "application/xml", 415, "unsupported_media_type"),
    ],
)
def test_unreadable_bodies_are_json_errors(
    reviewer_api: APIClient, world: World, body: Any, content_type: str, status: int, code: str
) -> None:
    before = everything()
    response = reviewer_api.post("/api/v1/studies/", body, content_type=content_type)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert everything() == before


def test_throttling_is_a_json_429(api: APIClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from rest_framework.throttling import AnonRateThrottle

    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/minute"})
    statuses = [api.get("/api/v1/maps/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = api.get("/api/v1/maps/")
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def _break_middleware(monkeypatch: pytest.MonkeyPatch) -> None:
    from portal.middleware import ReaderCacheMiddleware

    monkeypatch.setattr(ReaderCacheMiddleware, "_key", staticmethod(_raise))


def test_a_500_outside_the_api_views_is_json_under_api_and_a_page_elsewhere(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _break_middleware(monkeypatch)
    client = Client(raise_request_exception=False)
    api = client.get("/api/v1/maps/")
    assert api.status_code == 500
    assert api.json()["error"]["code"] == "server_error"
    page = client.get(f"/maps/{world.map.slug}/")
    assert page.status_code == 500
    assert page["Content-Type"].startswith("text/html")


def test_a_500_inside_an_api_view_is_json(api: APIClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.views import MapListView

    monkeypatch.setattr(MapListView, "get", _raise)
    response = api.get("/api/v1/maps/")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"


@pytest.mark.parametrize(("path", "status", "kind"), [("/api/v1/studies/", 413, "json"), ("/admin/", 400, "html")])
def test_a_body_too_large_for_django_is_413_json_under_api(path: str, status: int, kind: str) -> None:
    from django.core.exceptions import RequestDataTooBig

    response = bad_request(RequestFactory().post(path), RequestDataTooBig("too big"))
    assert response.status_code == status
    assert ("json" in response["Content-Type"]) == (kind == "json")
