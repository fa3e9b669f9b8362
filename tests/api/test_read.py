"""Reads: every endpoint and filter, as an anonymous partner sees them."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import World

pytestmark = pytest.mark.django_db


def ids(response: Any) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


# --- maps and frameworks ---


def test_maps_list_only_published(api: APIClient, world: World) -> None:
    response = api.get("/api/v1/maps/")
    assert response.status_code == 200
    body = response.json()
    assert [m["slug"] for m in body] == ["open-map"]
    assert body[0]["n_studies"] == 3  # the draft study is not counted


def test_map_detail(api: APIClient, world: World) -> None:
    body = api.get("/api/v1/maps/open-map/").json()
    assert body["title"] == "Open map"
    assert body["pooling_method"] == "REML"
    assert api.get("/api/v1/maps/hidden-map/").status_code == 404
    assert api.get("/api/v1/maps/no-such-map/").status_code == 404


def test_interventions_tree(api: APIClient, world: World) -> None:
    body = api.get("/api/v1/maps/open-map/interventions/").json()
    assert [n["name"] for n in body] == ["Top intervention", "Child A", "Child B"]
    top, a, b = body
    assert top["parent_id"] is None and top["depth"] == 0 and top["children"] == [a["id"], b["id"]]
    assert a["parent_id"] == top["id"] and a["depth"] == 1 and a["children"] == []


def test_outcomes_tree_with_direction(api: APIClient, world: World) -> None:
    body = api.get("/api/v1/maps/open-map/outcomes/").json()
    assert [(n["name"], n["depth"], n["desirable_direction"]) for n in body] == [
        ("Top outcome", 0, "higher"), ("Outcome X", 1, "lower"),
    ]
    assert api.get("/api/v1/maps/hidden-map/outcomes/").status_code == 404


# --- studies ---


def test_studies_list_and_detail(api: APIClient, world: World) -> None:
    response = api.get("/api/v1/studies/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    study = next(s for s in body["results"] if s["id"] == world.kenya.pk)
    assert study["map"] == "open-map"
    assert study["countries"] == ["KE"]
    assert study["region"] == "Africa"
    assert study["intervention_ids"] == [world.i_a.pk]
    assert study["outcome_ids"] == [world.o_x.pk]
    detail = api.get(f"/api/v1/studies/{world.kenya.pk}/").json()
    assert detail == study


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("map=open-map", {"kenya", "peru", "india"}),
        ("region=Africa", {"kenya"}),
        ("region=Americas,Asia", {"peru", "india"}),
        ("country=pe", {"peru"}),
        ("design=rct", {"kenya", "india"}),
        ("design=rct&design=did", {"kenya", "peru", "india"}),
        ("population=adults", {"peru", "india"}),
        ("confidence=high", {"kenya"}),
        ("year_min=2015", {"peru", "india"}),
        ("year_max=2018", {"kenya", "peru"}),
        ("year_min=2013&year_max=2019", {"peru"}),
        ("q=kenya", {"kenya"}),
        ("q=markets india", {"india"}),
        ("intervention=A", {"kenya", "peru"}),
        ("intervention=B", {"india"}),
        ("intervention=TOP", {"kenya", "peru", "india"}),  # a category includes its children
        ("outcome=X", {"kenya", "peru", "india"}),
        ("intervention=B&outcome=X&design=rct", {"india"}),
    ],
)
def test_study_filters(api: APIClient, world: World, query: str, expected: set[str]) -> None:
    query = (
        query.replace("intervention=A", f"intervention={world.i_a.pk}")
        .replace("intervention=B", f"intervention={world.i_b.pk}")
        .replace("intervention=TOP", f"intervention={world.i_top.pk}")
        .replace("outcome=X", f"outcome={world.o_x.pk}")
    )
    names = {world.kenya.pk: "kenya", world.peru.pk: "peru", world.india.pk: "india"}
    response = api.get(f"/api/v1/studies/?{query}")
    assert response.status_code == 200, response.json()
    assert {names[i] for i in ids(response)} == expected


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("year_min=abc", "year_min"),
        ("year_min=1800", "year_min"),
        ("year_min=2020&year_max=2010", "year_min"),
        ("design=poetry", "design"),
        ("region=Atlantis", "region"),
        ("country=XX", "country"),
        ("confidence=total", "confidence"),
        ("map=no-such-map", "map"),
        ("map=hidden-map", "map"),
        ("intervention=abc", "intervention"),
        ("intervention=999999", "intervention"),
        ("outcome=-3", "outcome"),
        ("q=a%00b", "q"),
    ],
)
def test_bad_study_filter_is_400_naming_the_parameter(
    api: APIClient, world: World, query: str, parameter: str
) -> None:
    response = api.get(f"/api/v1/studies/?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400
    assert error["code"] == "invalid_parameter"
    assert list(error["fields"]) == [parameter]
    assert parameter in error["message"]


def test_intervention_of_a_draft_map_is_unknown(api: APIClient, world: World) -> None:
    node = world.hidden_es.intervention_id
    assert api.get(f"/api/v1/studies/?intervention={node}").status_code == 400


def test_studies_pagination(api: APIClient, world: World) -> None:
    first = api.get("/api/v1/studies/?page_size=2").json()
    assert first["count"] == 3 and len(first["results"]) == 2 and first["next"]
    second = api.get("/api/v1/studies/?page_size=2&page=2").json()
    assert len(second["results"]) == 1 and second["next"] is None
    response = api.get("/api/v1/studies/?page=99")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"page": ["99 is past the last page (1)."]}


# --- effect sizes ---


def test_effect_sizes_list_fields(api: APIClient, world: World) -> None:
    body = api.get("/api/v1/effect-sizes/").json()
    assert body["count"] == 3
    row = next(r for r in body["results"] if r["id"] == world.es_kenya.pk)
    assert row["input_kind"] == "es_se"
    assert row["es_value"] == 0.3 and row["es_se"] == 0.1 and row["mean_1"] is None
    assert row["g"] == pytest.approx(0.3)
    assert row["se_g"] == pytest.approx(0.1)
    assert row["var_g"] == pytest.approx(0.01)
    assert row["ci_low_g"] < row["g"] < row["ci_high_g"]
    assert row["native_metric"]
    assert (row["study_id"], row["intervention_id"], row["outcome_id"]) == (
        world.kenya.pk, world.i_a.pk, world.o_x.pk,
    )
    assert api.get(f"/api/v1/effect-sizes/{world.es_kenya.pk}/").json() == row


def test_effect_size_filters(api: APIClient, world: World) -> None:
    def got(query: str) -> set[int]:
        response = api.get(f"/api/v1/effect-sizes/?{query}")
        assert response.status_code == 200, response.json()
        return set(ids(response))

    assert got("map=open-map") == {world.es_kenya.pk, world.es_peru.pk, world.es_india.pk}
    assert got(f"study={world.peru.pk}") == {world.es_peru.pk}
    assert got(f"intervention={world.i_b.pk}") == {world.es_india.pk}
    assert got(f"intervention={world.i_top.pk}&outcome={world.o_x.pk}") == {
        world.es_kenya.pk, world.es_peru.pk, world.es_india.pk,
    }
    assert got(f"study={world.draft.pk}") == set()
    assert api.get("/api/v1/effect-sizes/?study=x").status_code == 400
    assert api.get("/api/v1/effect-sizes/?map=hidden-map").status_code == 400


# --- cells ---


def test_cells_of_a_map(api: APIClient, world: World) -> None:
    response = api.get("/api/v1/maps/open-map/cells/")
    assert response.status_code == 200
    body = response.json()
    assert body["n_studies"] == 3 and body["n_effects"] == 3
    cells = {(c["intervention_id"], c["outcome_id"]): c for c in body["cells"]}
    a = cells[(world.i_a.pk, world.o_x.pk)]
    assert a["aggregate"] is False
    assert (a["n_studies"], a["n_effects"], a["k"]) == (2, 2, 2)
    assert 0.1 < a["estimate"] < 0.3
    assert a["ci_low"] < a["estimate"] < a["ci_high"]
    for name in ("se", "pi_low", "pi_high", "tau2", "i2", "p_value"):
        assert name in a
    assert set(a["label"]) == {"text", "band", "direction", "beneficial", "ci_includes_zero"}
    # Outcome X: lower is better, so a positive g is not beneficial.
    assert a["label"]["beneficial"] is False
    assert a["confidence"]["level"] in {"high", "medium", "low"}
    assert a["confidence"]["reasons"]  # two studies are fewer than the minimum of three
    top = cells[(world.i_top.pk, world.o_top.pk)]
    assert top["aggregate"] is True and top["n_studies"] == 3


def test_cells_honour_filters(api: APIClient, world: World) -> None:
    body = api.get("/api/v1/maps/open-map/cells/?country=KE").json()
    assert body["n_studies"] == 1
    assert body["filters"] == "country=KE"
    cell = next(c for c in body["cells"] if (c["intervention_id"], c["outcome_id"]) == (world.i_a.pk, world.o_x.pk))
    assert cell["estimate"] == pytest.approx(0.3)
    response = api.get("/api/v1/maps/open-map/cells/?design=nonsense")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["design"]


def test_cells_of_a_draft_map_are_404(api: APIClient, world: World) -> None:
    response = api.get("/api/v1/maps/hidden-map/cells/")
    assert response.status_code == 404
    assert response.json() == {"error": {"status": 404, "code": "not_found", "message": "Not found."}}


def test_one_cell_with_its_studies_and_effect_sizes(api: APIClient, world: World) -> None:
    response = api.get(f"/api/v1/maps/open-map/cells/{world.i_a.pk}/{world.o_x.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["n_studies"] == 2
    assert {s["id"] for s in body["studies"]} == {world.kenya.pk, world.peru.pk}
    assert {e["id"] for e in body["effect_sizes"]} == {world.es_kenya.pk, world.es_peru.pk}
    assert body["summary"] is None
    full = api.get("/api/v1/maps/open-map/cells/").json()["cells"]
    same = next(c for c in full if (c["intervention_id"], c["outcome_id"]) == (world.i_a.pk, world.o_x.pk))
    assert body["estimate"] == pytest.approx(same["estimate"])


def test_one_cell_filters_and_404s(api: APIClient, world: World) -> None:
    url = f"/api/v1/maps/open-map/cells/{world.i_a.pk}/{world.o_x.pk}/"
    assert api.get(url + "?year_min=2015").json()["n_studies"] == 1
    assert api.get(url + "?year_min=nope").status_code == 400
    empty = api.get(f"/api/v1/maps/open-map/cells/{world.i_b.pk}/{world.o_top.pk}/?design=did").json()
    assert empty["n_studies"] == 0 and empty["estimate"] is None and empty["studies"] == []
    other_map_node = world.hidden_es.intervention_id
    assert api.get(f"/api/v1/maps/open-map/cells/{other_map_node}/{world.o_x.pk}/").status_code == 404
    assert api.get(f"/api/v1/maps/hidden-map/cells/{other_map_node}/{world.o_x.pk}/").status_code == 404


def test_cell_summary_is_included(api: APIClient, world: World) -> None:
    from tests.factories import CellSummaryFactory

    CellSummaryFactory(evidence_map=world.map, intervention=world.i_a, outcome=world.o_x, headline="It works")
    body = api.get(f"/api/v1/maps/open-map/cells/{world.i_a.pk}/{world.o_x.pk}/").json()
    assert body["summary"]["headline"] == "It works"


# --- drafts never leak to anonymous clients ---


def test_drafts_never_reach_anonymous_clients(api: APIClient, world: World) -> None:
    urls = [
        "/api/v1/maps/", "/api/v1/maps/open-map/", "/api/v1/studies/", "/api/v1/studies/?format=csv",
        "/api/v1/studies/?q=SECRET", "/api/v1/effect-sizes/", "/api/v1/effect-sizes/?format=csv",
        "/api/v1/maps/open-map/cells/", "/api/v1/maps/open-map/cells/?format=csv",
        f"/api/v1/maps/open-map/cells/{world.i_a.pk}/{world.o_x.pk}/",
        f"/api/v1/maps/open-map/cells/{world.i_top.pk}/{world.o_top.pk}/",
    ]
    for url in urls:
        response = api.get(url)
        assert response.status_code == 200, url
        text = response.content.decode()
        assert "SECRET" not in text, url
        assert "9.99" not in text and "7.77" not in text, url
        assert "hidden-map" not in text, url
    assert api.get("/api/v1/studies/?q=SECRET").json()["count"] == 0
    for url in [
        f"/api/v1/studies/{world.draft.pk}/", f"/api/v1/studies/{world.hidden_study.pk}/",
        f"/api/v1/effect-sizes/{world.es_draft.pk}/", f"/api/v1/effect-sizes/{world.hidden_es.pk}/",
        "/api/v1/maps/hidden-map/", "/api/v1/maps/hidden-map/interventions/",
    ]:
        assert api.get(url).status_code == 404, url
    counts = api.get("/api/v1/maps/open-map/cells/").json()
    assert (counts["n_studies"], counts["n_effects"]) == (3, 3)


def test_reviewers_read_drafts(reviewer_api: APIClient, world: World) -> None:
    assert {m["slug"] for m in reviewer_api.get("/api/v1/maps/").json()} == {"open-map", "hidden-map"}
    assert reviewer_api.get("/api/v1/studies/").json()["count"] == 5
    assert reviewer_api.get(f"/api/v1/studies/{world.draft.pk}/").json()["status"] == "draft"
    assert reviewer_api.get(f"/api/v1/effect-sizes/{world.hidden_es.pk}/").status_code == 200
    assert reviewer_api.get("/api/v1/maps/hidden-map/cells/").status_code == 200


# --- CSV ---


def _csv(response: Any) -> list[dict[str, str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_csv_studies_effect_sizes_and_cells(api: APIClient, world: World) -> None:
    studies = _csv(api.get("/api/v1/studies/?format=csv&design=rct"))
    assert {r["title"] for r in studies} == {"Schools in Kenya", "Markets in India"}
    assert studies[0]["countries"] in {"KE", "IN"}
    effects = _csv(api.get("/api/v1/effect-sizes/", HTTP_ACCEPT="text/csv"))
    assert len(effects) == 3 and {"g", "se_g", "input_kind", "es_value"} <= set(effects[0])
    cells = _csv(api.get("/api/v1/maps/open-map/cells/?format=csv"))
    assert cells and {"estimate", "ci_low", "label.text", "confidence.level", "designs.rct"} <= set(cells[0])
    assert len({tuple(row) for row in cells}) == 1  # the same columns in every row


def test_csv_is_not_offered_for_maps(api: APIClient, world: World) -> None:
    response = api.get("/api/v1/maps/", HTTP_ACCEPT="text/csv")
    assert response.status_code == 406
    assert response.json()["error"]["code"] == "not_acceptable"


def test_csv_neutralises_formulas() -> None:
    from api.renderers import CSVRenderer

    text = CSVRenderer().render([{"title": "=HYPERLINK(1)", "g": -0.2}]).decode()
    assert "'=HYPERLINK(1)" in text and ",-0.2" in text


# --- conditional requests ---


def test_etag_and_304(api: APIClient, world: World) -> None:
    for url in ["/api/v1/maps/", "/api/v1/studies/", "/api/v1/effect-sizes/", "/api/v1/maps/open-map/cells/",
                "/api/v1/maps/open-map/interventions/",
                f"/api/v1/maps/open-map/cells/{world.i_a.pk}/{world.o_x.pk}/"]:
        first = api.get(url)
        assert first.status_code == 200 and first["ETag"] and first["Last-Modified"], url
        again = api.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
        assert again.status_code == 304, url
        assert again["ETag"] == first["ETag"]
        assert {"Accept", "Authorization"} <= {v.strip() for v in first["Vary"].split(",")}
        assert api.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code == 304, url


def test_etag_changes_with_data_and_query(api: APIClient, world: World) -> None:
    from studies import services

    url = "/api/v1/maps/open-map/cells/"
    tag = api.get(url)["ETag"]
    assert api.get(url + "?design=rct")["ETag"] != tag
    assert api.get(url + "?format=csv")["ETag"] != tag
    services.effect_size_delete(effect_size=world.es_peru, user=None)  # a deletion changes no updated_at
    after_delete = api.get(url, HTTP_IF_NONE_MATCH=tag)
    assert after_delete.status_code == 200 and after_delete["ETag"] != tag
    tag = after_delete["ETag"]
    services.study_update(study=world.india, user=None, data={"title": "Markets in India, again"})
    assert api.get(url, HTTP_IF_NONE_MATCH=tag).status_code == 200


def test_etag_differs_for_reviewers(api: APIClient, reviewer_api: APIClient, world: World) -> None:
    assert api.get("/api/v1/studies/")["ETag"] != reviewer_api.get("/api/v1/studies/")["ETag"]


# --- CORS, throttling, unknown paths, documentation ---


def test_cors_on_reads(api: APIClient, world: World) -> None:
    response = api.get("/api/v1/maps/", HTTP_ORIGIN="https://partner.example")
    assert response["Access-Control-Allow-Origin"] == "*"
    # Partners' browser code may read the caching headers it needs for conditional requests.
    assert {"etag", "last-modified"} <= {h.strip().lower() for h in response["Access-Control-Expose-Headers"].split(",")}
    preflight = api.options(
        "/api/v1/studies/", HTTP_ORIGIN="https://partner.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert preflight.status_code == 200
    assert "GET" in preflight["Access-Control-Allow-Methods"]
    assert "POST" not in preflight["Access-Control-Allow-Methods"]


def test_anonymous_throttling(api: APIClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from rest_framework.throttling import AnonRateThrottle

    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/minute"})
    assert api.get("/api/v1/maps/").status_code == 200
    assert api.get("/api/v1/maps/").status_code == 200
    response = api.get("/api/v1/maps/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (429, "throttled")


def test_unknown_api_path_is_a_json_404(api: APIClient) -> None:
    for url in ["/api/v1/nothing/here/", "/api/v1/maps/a%0Ab/", "/api/v1/studies/12345678901234567890/"]:
        response = api.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"


def test_method_not_allowed_has_the_error_format(api: APIClient, world: World) -> None:
    response = api.delete("/api/v1/maps/")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_empty_csv_still_has_its_header(api: APIClient, world: World) -> None:
    for url in ["/api/v1/studies/?format=csv&year_min=2025", "/api/v1/effect-sizes/?format=csv&study=999",
                "/api/v1/maps/open-map/cells/?format=csv&year_min=2025"]:
        response = api.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("text/csv"), url
        header = response.content.decode().splitlines()
        assert len(header) == 1 and header[0].startswith(("id,", "intervention_id,")), url


def test_every_url_of_the_site_can_still_be_reversed() -> None:
    from django.urls import reverse

    assert reverse("api:cells", kwargs={"slug": "m"}) == "/api/v1/maps/m/cells/"
    assert reverse("api:cell", kwargs={"slug": "m", "intervention_id": 1, "outcome_id": 2}) == (
        "/api/v1/maps/m/cells/1/2/"
    )
    assert reverse("portal:home") == "/"
