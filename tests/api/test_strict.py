"""A strict and consistent API: parameters, errors, validators, rate-limit headers, methods, tokens."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import World

pytestmark = pytest.mark.django_db


def error_fields(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    return response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/v1/studies/?desgn=rct", "desgn"),
        ("/api/v1/effect-sizes/?design=rct", "design"),  # effect sizes take no study filters
        ("/api/v1/maps/?page=2", "page"),  # the map list is not paginated
        ("/api/v1/maps/open-map/cells/?page_size=3", "page_size"),
        ("/api/v1/maps/open-map/?region=Africa", "region"),
        ("/api/v1/maps/open-map/interventions/?x=1", "x"),
    ],
)
def test_unknown_query_parameter_is_a_400_naming_it(api: APIClient, world: World, url: str, name: str) -> None:
    response = api.get(url)
    assert response.status_code == 400
    assert list(error_fields(response)) == [name]


def test_unknown_parameter_is_refused_with_a_token_too(reviewer_api: APIClient, world: World) -> None:
    for name in ("stauts", "status"):  # status is not a filter: never silently ignored
        response = reviewer_api.get(f"/api/v1/studies/?{name}=published")
        assert response.status_code == 400 and list(error_fields(response)) == [name]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("page=abc", "page"), ("page=0", "page"), ("page=-1", "page"),
        ("page_size=0", "page_size"), ("page_size=-5", "page_size"), ("page_size=1.5", "page_size"),
        ("page_size=501", "page_size"), ("format=xml", "format"),
    ],
)
def test_bad_page_page_size_and_format_are_a_400(api: APIClient, world: World, query: str, name: str) -> None:
    response = api.get(f"/api/v1/studies/?{query}")
    assert response.status_code == 400
    assert list(error_fields(response)) == [name]


def test_errors_are_json_even_when_csv_is_asked(api: APIClient, world: World) -> None:
    for url in ("/api/v1/studies/?format=csv&design=nonsense", "/api/v1/maps/open-map/cells/?format=csv&year_min=x"):
        response = api.get(url)
        assert response.status_code == 400
        assert error_fields(response)
    response = api.get("/api/v1/studies/?design=nonsense", HTTP_ACCEPT="text/csv")
    assert response.status_code == 400 and "design" in error_fields(response)


def test_page_csv_with_a_bad_filter_is_a_plain_400(client, world: World) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/maps/open-map/studies.csv?design=nonsense")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode().startswith("design:")
    response = client.get("/maps/open-map/studies.csv?desgn=rct")
    assert response.status_code == 400 and response.content.decode().startswith("desgn:")


def test_every_get_has_validators(api: APIClient, world: World) -> None:
    urls = [
        "/api/v1/", "/api/v1/maps/", "/api/v1/maps/open-map/", "/api/v1/maps/open-map/interventions/",
        "/api/v1/maps/open-map/outcomes/", "/api/v1/maps/open-map/code-sets/", "/api/v1/maps/open-map/cells/",
        f"/api/v1/maps/open-map/cells/{world.i_a.pk}/{world.o_x.pk}/", "/api/v1/studies/",
        f"/api/v1/studies/{world.kenya.pk}/", "/api/v1/effect-sizes/", f"/api/v1/effect-sizes/{world.es_kenya.pk}/",
        "/api/v1/maps/open-map/changes/?since=2000-01-01", "/api/v1/maps/open-map/dump/",
        "/api/v1/schema/", "/api/v1/docs/",
    ]
    for url in urls:
        response = api.get(url)
        assert response.status_code == 200, url
        assert response["ETag"] and response["Last-Modified"], url
        again = api.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
        assert again.status_code == 304, url


def test_study_detail_validators_move_with_the_study(api: APIClient, world: World) -> None:
    url = f"/api/v1/studies/{world.kenya.pk}/"
    etag = api.get(url)["ETag"]
    world.kenya.title = "Schools in Kenya, revised"
    world.kenya.save()
    assert api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_rate_limit_headers_before_the_429(api: APIClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from rest_framework.throttling import AnonRateThrottle

    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/minute"})
    first = api.get("/api/v1/maps/")
    assert (first["RateLimit-Limit"], first["RateLimit-Remaining"]) == ("2", "1")
    assert 0 < int(first["RateLimit-Reset"]) <= 60
    second = api.get("/api/v1/maps/")
    assert second["RateLimit-Remaining"] == "0"
    third = api.get("/api/v1/maps/")
    assert third.status_code == 429 and third["RateLimit-Remaining"] == "0"


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("delete", "/api/v1/studies/{study}/"),  # studies are changed, never deleted, through the API
        ("put", "/api/v1/studies/{study}/"),
        ("delete", "/api/v1/studies/"),
        ("post", "/api/v1/maps/open-map/cells/"),
        ("delete", "/api/v1/maps/open-map/"),
    ],
)
def test_a_method_the_resource_lacks_is_405_for_everyone(
    api: APIClient, reviewer_api: APIClient, world: World, method: str, url: str
) -> None:
    url = url.format(study=world.kenya.pk)
    for client in (api, reviewer_api):
        response = getattr(client, method)(url)
        assert response.status_code == 405, (method, url)
        assert response.json()["error"]["code"] == "method_not_allowed"


def test_public_reads_ignore_a_bad_token_writes_do_not(world: World) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-or-an-expired-token")
    response = client.get("/api/v1/studies/")
    assert response.status_code == 200
    assert response.json()["count"] == 3  # published only, as for an anonymous client
    assert "Invalid, expired or revoked token" in response["Token-Ignored"]
    assert client.post("/api/v1/studies/", {"map": "open-map", "title": "x"}, format="json").status_code == 401


def test_missing_values_are_null_never_empty_text(api: APIClient, world: World) -> None:
    study = api.get(f"/api/v1/studies/{world.kenya.pk}/").json()
    assert study["doi"] is None and study["volume"] is None and study["external_id"] is None
    effect = api.get(f"/api/v1/effect-sizes/{world.es_kenya.pk}/").json()
    assert effect["notes"] is None and effect["n_1"] is None
    nodes = api.get("/api/v1/maps/open-map/interventions/").json()
    assert all(node["description"] is None for node in nodes)
    for body in (study, effect, *nodes):
        assert "" not in body.values()


def test_cell_list_says_how_empty_cells_are_treated(api: APIClient, world: World) -> None:
    body = api.get("/api/v1/maps/open-map/cells/").json()
    assert body["empty_cells"] == "omitted"
    assert all(cell["n_studies"] > 0 for cell in body["cells"])
