"""Code sets in the partner API: the code-sets endpoint, the studies' codes, the `code` filter
on the list endpoints (with clear 400s), and codes in study writes."""

from __future__ import annotations

import csv
import io

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import World

pytestmark = pytest.mark.django_db


def titles(response) -> set[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return {s["title"] for s in response.json()["results"]}


def test_code_sets_endpoint_lists_each_set_with_its_tree(api: APIClient, world: World) -> None:
    world.map.segment_code_set = world.funding
    world.map.save()
    body = api.get("/api/v1/maps/open-map/code-sets/").json()
    assert [(s["name"], s["slug"], s["is_filter"], s["is_segment"]) for s in body] == [
        ("Setting", "setting", True, False), ("Funding", "funding", False, True),
    ]
    setting = body[0]
    assert [(c["name"], c["depth"], c["parent_id"]) for c in setting["codes"]] == [
        ("Urban", 0, None), ("Capital city", 1, world.urban.pk), ("Informal settlements", 1, world.urban.pk),
        ("Rural", 0, None),
    ]
    assert setting["codes"][0]["children"] == [world.capital.pk, world.slums.pk]
    assert set(setting["codes"][0]) == {"id", "name", "description", "parent_id", "depth", "position", "children",
                                        "external_id"}


def test_code_sets_of_a_draft_map_are_for_reviewers_only(api: APIClient, reviewer_api: APIClient, world: World) -> None:
    assert api.get("/api/v1/maps/hidden-map/code-sets/").status_code == 404
    assert [s["name"] for s in reviewer_api.get("/api/v1/maps/hidden-map/code-sets/").json()] == ["Setting"]
    listed = api.get("/api/v1/").json()["map_resources"]
    assert listed["code_sets"] == "maps/{slug}/code-sets/"


def test_studies_carry_their_codes(api: APIClient, world: World) -> None:
    study = api.get(f"/api/v1/studies/{world.india.pk}/").json()
    assert study["codes"] == [
        {"id": world.urban.pk, "name": "Urban", "code_set": world.setting.pk},
        {"id": world.public.pk, "name": "Public", "code_set": world.funding.pk},
        {"id": world.private.pk, "name": "Private", "code_set": world.funding.pk},
    ]
    listed = {s["title"]: s for s in api.get("/api/v1/studies/?map=open-map").json()["results"]}
    assert [c["name"] for c in listed["Schools in Kenya"]["codes"]] == ["Informal settlements", "Public"]
    rows = {r["title"]: r for r in csv.DictReader(io.StringIO(api.get("/api/v1/studies/?map=open-map&format=csv").content.decode()))}
    # CSV: the codes' ids and names, "|"-joined (the list of objects is JSON only).
    assert "codes" not in rows["Clinics in Peru"]
    assert rows["Clinics in Peru"]["code_ids"] == f"{world.rural.pk}|{world.private.pk}"
    assert rows["Clinics in Peru"]["code_labels"] == "Rural|Private"


def test_the_studies_list_filters_by_codes(api: APIClient, reviewer_api: APIClient, world: World) -> None:
    def get(query: str, client: APIClient = api) -> set[str]:
        return titles(client.get(f"/api/v1/studies/?map=open-map&{query}"))

    urban, slums, rural = world.urban.pk, world.slums.pk, world.rural.pk
    public, private = world.public.pk, world.private.pk
    assert get(f"code={urban}") == {"Schools in Kenya", "Markets in India"}  # Kenya through its child
    assert get(f"code={slums}") == {"Schools in Kenya"}
    assert get(f"code={slums},{rural}") == {"Schools in Kenya", "Clinics in Peru"}  # one set: either
    assert get(f"code={slums}&code={rural}") == {"Schools in Kenya", "Clinics in Peru"}
    assert get(f"code={urban}&code={private}") == {"Markets in India"}  # two sets: both
    assert get(f"code={rural}&code={public}") == set()
    # Reviewers see drafts, filtered the same way; without `map`, codes of every visible map.
    assert get(f"code={slums}", reviewer_api) == {"Schools in Kenya", "SECRET DRAFT study"}
    assert titles(api.get(f"/api/v1/studies/?code={rural}")) == {"Clinics in Peru"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("code=urban", "'urban' is not a code id (a whole number from 1)."),
        ("code=0", "'0' is not a code id"),
        ("code=1,,x", "'x' is not a code id"),
        ("code=2147483648", "'2147483648' is not a code id"),
        ("code=%C2%B2", "'²' is not a code id"),
        ("code=987654", "unknown code id(s) 987654: not codes of this map's code sets"),
    ],
)
def test_bad_code_ids_are_a_400_naming_the_parameter(api: APIClient, world: World, query: str, message: str) -> None:
    for url in (f"/api/v1/studies/?map=open-map&{query}", f"/api/v1/maps/open-map/cells/?{query}",
                f"/api/v1/maps/open-map/cells/{world.i_a.pk}/{world.o_x.pk}/?{query}"):
        response = api.get(url)
        assert response.status_code == 400, url
        error = response.json()["error"]
        assert error["code"] == "invalid_parameter" and list(error["fields"]) == ["code"], url
        assert message in error["fields"]["code"][0], url


def test_a_code_of_a_map_the_client_cannot_see_is_unknown(api: APIClient, reviewer_api: APIClient, world: World) -> None:
    hidden = world.hidden_code.pk
    response = api.get(f"/api/v1/studies/?code={hidden}")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["code"] == [  # the one map this client sees
        f"unknown code id(s) {hidden}: not codes of this map's code sets (/api/v1/maps/<slug>/code-sets/ lists them)."
    ]
    assert "SECRET" not in response.content.decode()
    assert titles(reviewer_api.get(f"/api/v1/studies/?code={hidden}")) == {"SECRET study on a draft map"}
    # A code of another (visible) map than the one asked about is unknown for that map.
    assert api.get(f"/api/v1/maps/open-map/cells/?code={hidden}").status_code == 400


def test_the_cells_follow_the_code_filter(api: APIClient, world: World) -> None:
    every = {(c["intervention_id"], c["outcome_id"]): c for c in api.get("/api/v1/maps/open-map/cells/").json()["cells"]}
    body = api.get(f"/api/v1/maps/open-map/cells/?code={world.public.pk}").json()
    assert body["filters"] == f"code={world.public.pk}"
    cells = {(c["intervention_id"], c["outcome_id"]): c for c in body["cells"]}
    assert every[(world.i_a.pk, world.o_x.pk)]["n_studies"] == 2
    assert cells[(world.i_a.pk, world.o_x.pk)]["n_studies"] == 1  # Kenya; Peru is privately funded
    assert cells[(world.i_b.pk, world.o_x.pk)]["n_studies"] == 1  # India
    detail = api.get(f"/api/v1/maps/open-map/cells/{world.i_a.pk}/{world.o_x.pk}/?code={world.private.pk}").json()
    assert [s["title"] for s in detail["studies"]] == ["Clinics in Peru"]
    assert [e["id"] for e in detail["effect_sizes"]] == [world.es_peru.pk]
    rows = list(csv.DictReader(io.StringIO(
        api.get(f"/api/v1/maps/open-map/cells/?code={world.rural.pk}&format=csv").content.decode())))
    assert {(int(r["intervention_id"]), int(r["n_studies"])) for r in rows} == {(world.i_a.pk, 1), (world.i_top.pk, 1)}


def test_reviewers_code_studies_through_the_api(reviewer_api: APIClient, world: World) -> None:
    created = reviewer_api.post("/api/v1/studies/", {
        "map": "open-map", "authors": "Okafor, N.", "year": 2020, "title": "Coded through the API", "design": "rct",
        "codes": [world.capital.pk, world.private.pk],
    }, format="json")
    assert created.status_code == 201, created.content
    assert [c["id"] for c in created.json()["codes"]] == [world.capital.pk, world.private.pk]
    study = created.json()["id"]
    changed = reviewer_api.patch(f"/api/v1/studies/{study}/", {"codes": [world.rural.pk]}, format="json")
    assert [c["name"] for c in changed.json()["codes"]] == ["Rural"]
    refused = reviewer_api.patch(f"/api/v1/studies/{study}/", {"codes": [world.hidden_code.pk]}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"codes": [f"Unknown id(s) for this map: {world.hidden_code.pk}."]}
    assert [c["name"] for c in reviewer_api.get(f"/api/v1/studies/{study}/").json()["codes"]] == ["Rural"]
