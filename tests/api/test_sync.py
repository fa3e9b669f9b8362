"""Keeping a copy in sync: updated_since and ordering, the changes since a time, the whole map."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from studies import services
from studies.models import Status
from tests.api.conftest import World

pytestmark = pytest.mark.django_db


def changes(client: APIClient, since: str) -> list[tuple[str, int, str]]:
    response = client.get("/api/v1/maps/open-map/changes/", {"since": since})
    assert response.status_code == 200, response.content
    return [(c["type"], c["id"], c["action"]) for c in response.json()["changes"]]


def test_updated_since_on_every_record_list(api: APIClient, world: World) -> None:
    before = timezone.now()
    world.peru.title = "Clinics in Peru, revised"
    world.peru.save()
    since = before.isoformat()
    studies = api.get("/api/v1/studies/", {"updated_since": since}).json()["results"]
    assert [s["id"] for s in studies] == [world.peru.pk]
    assert api.get("/api/v1/effect-sizes/", {"updated_since": since}).json()["count"] == 0
    assert [m["slug"] for m in api.get("/api/v1/maps/", {"updated_since": since}).json()] == ["open-map"]
    future = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%d")
    assert api.get("/api/v1/maps/", {"updated_since": future}).json() == []
    # An unencoded "+00:00" arrives as " 00:00"; it is still read.
    assert api.get(f"/api/v1/studies/?updated_since={before.strftime('%Y-%m-%dT%H:%M:%S.%f')}+00:00").status_code == 200


@pytest.mark.parametrize("url", ["/api/v1/studies/", "/api/v1/effect-sizes/", "/api/v1/maps/"])
def test_updated_since_must_be_iso_8601(api: APIClient, world: World, url: str) -> None:
    response = api.get(url, {"updated_since": "last tuesday"})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["updated_since"]


def test_ordering_is_whitelisted_and_stable(api: APIClient, world: World) -> None:
    from tests.factories import StudyFactory

    StudyFactory(evidence_map=world.map, year=None, status=Status.PUBLISHED)
    by_year = api.get("/api/v1/studies/", {"ordering": "-year"}).json()["results"]
    assert [s["year"] for s in by_year] == [2020, 2018, 2012, None]  # nulls last on every database
    by_year = api.get("/api/v1/studies/", {"ordering": "year"}).json()["results"]
    assert [s["year"] for s in by_year] == [2012, 2018, 2020, None]
    by_id = api.get("/api/v1/effect-sizes/", {"ordering": "id"}).json()["results"]
    assert [e["id"] for e in by_id] == sorted(e["id"] for e in by_id)
    maps = api.get("/api/v1/maps/", {"ordering": "-updated_at"})
    assert maps.status_code == 200
    response = api.get("/api/v1/studies/", {"ordering": "abstract"})
    assert response.status_code == 400
    assert "abstract" in response.json()["error"]["fields"]["ordering"][0]


def test_changes_list_creations_updates_and_deletions(
    api: APIClient, reviewer_api: APIClient, world: World, reviewer
) -> None:  # type: ignore[no-untyped-def]
    since = timezone.now().isoformat()
    assert changes(api, since) == []
    india_id, es_peru_id, draft_id = world.india.pk, world.es_peru.pk, world.draft.pk
    services.effect_size_delete(effect_size=world.es_peru, user=reviewer)
    world.kenya.title = "Schools in Kenya, revised"
    world.kenya.save()
    world.india.delete()  # its effect size goes with it
    world.draft.delete()  # never published: anonymous clients never saw it
    new = services.study_create(
        user=reviewer, evidence_map=world.map, title="A new study", design="rct", status=Status.PUBLISHED,
    )
    listed = changes(api, since)
    assert set(listed) == {
        ("effect_size", es_peru_id, "deleted"), ("study", world.kenya.pk, "updated"),
        ("study", india_id, "deleted"), ("effect_size", world.es_india.pk, "deleted"),
        ("study", new.pk, "created"),
    }
    # Reviewers saw the draft, so its deletion is listed for them (with its effect size).
    reviewer_listed = changes(reviewer_api, since)
    assert ("study", draft_id, "deleted") in reviewer_listed
    assert ("effect_size", world.es_draft.pk, "deleted") in reviewer_listed
    body = api.get("/api/v1/maps/open-map/changes/", {"since": since}).json()
    assert body["until"] >= body["since"]
    times = [c["at"] for c in body["changes"]]
    assert times == sorted(times)


def test_unpublishing_is_a_deletion_for_readers_of_published_data(api: APIClient, world: World) -> None:
    since = timezone.now().isoformat()
    world.peru.status = Status.DRAFT
    world.peru.save()
    assert set(changes(api, since)) == {("study", world.peru.pk, "deleted"), ("effect_size", world.es_peru.pk, "deleted")}


def test_a_coding_change_lists_the_study(api: APIClient, world: World) -> None:
    since = timezone.now().isoformat()
    world.peru.codes.add(world.urban)
    world.kenya.interventions.add(world.i_b)
    assert set(changes(api, since)) == {("study", world.peru.pk, "updated"), ("study", world.kenya.pk, "updated")}


def test_changes_need_a_valid_since_and_a_visible_map(api: APIClient, world: World) -> None:
    assert api.get("/api/v1/maps/open-map/changes/").status_code == 400
    response = api.get("/api/v1/maps/open-map/changes/", {"since": "yesterday"})
    assert response.status_code == 400 and list(response.json()["error"]["fields"]) == ["since"]
    assert api.get("/api/v1/maps/hidden-map/changes/", {"since": "2000-01-01"}).status_code == 404


def test_changes_list_framework_edits(api: APIClient, world: World) -> None:
    since = timezone.now().isoformat()
    world.rural.name = "Rural areas"
    world.rural.save()
    code_id = world.private.pk
    world.private.delete()
    assert set(changes(api, since)) >= {("code", world.rural.pk, "updated"), ("code", code_id, "deleted")}


def test_dump_as_json_has_every_table_and_published_data_only(api: APIClient, world: World) -> None:
    response = api.get("/api/v1/maps/open-map/dump/")
    assert response.status_code == 200 and response.streaming
    body = json.loads(b"".join(response.streaming_content))
    assert list(body) == [
        "map", "interventions", "outcomes", "code_sets", "codes", "studies", "codings", "effect_sizes", "cells",
    ]
    assert body["map"]["slug"] == "open-map" and body["map"]["generated_at"]
    assert {s["title"] for s in body["studies"]} == {"Schools in Kenya", "Clinics in Peru", "Markets in India"}
    assert {e["id"] for e in body["effect_sizes"]} == {world.es_kenya.pk, world.es_peru.pk, world.es_india.pk}
    assert {"study_id": world.india.pk, "type": "code", "id": world.urban.pk} in body["codings"]
    assert world.draft.pk not in {c["study_id"] for c in body["codings"]}
    assert [c["name"] for c in body["codes"]][:3] == ["Urban", "Capital city", "Informal settlements"]
    # The same records as the list endpoints.
    listed = api.get("/api/v1/studies/", {"map": "open-map", "ordering": "id"}).json()["results"]
    assert body["studies"] == listed
    assert body["cells"] == api.get("/api/v1/maps/open-map/cells/").json()["cells"]


def test_dump_for_a_reviewer_has_the_drafts(reviewer_api: APIClient, world: World) -> None:
    body = json.loads(b"".join(reviewer_api.get("/api/v1/maps/open-map/dump/").streaming_content))
    assert "SECRET DRAFT study" in {s["title"] for s in body["studies"]}


def test_dump_as_a_zip_of_csv(api: APIClient, world: World) -> None:
    response = api.get("/api/v1/maps/open-map/dump/?format=zip")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == [
        "map.csv", "interventions.csv", "outcomes.csv", "code_sets.csv", "codes.csv", "studies.csv",
        "codings.csv", "effect_sizes.csv", "cells.csv",
    ]
    studies = list(csv.DictReader(io.StringIO(archive.read("studies.csv").decode())))
    api_csv = api.get("/api/v1/studies/", {"map": "open-map", "format": "csv", "ordering": "id"}).content.decode()
    assert studies == list(csv.DictReader(io.StringIO(api_csv)))
    effects = list(csv.DictReader(io.StringIO(archive.read("effect_sizes.csv").decode())))
    assert {float(e["var_g"]) for e in effects} == {world.es_kenya.var_g, world.es_peru.var_g, world.es_india.var_g}


def test_dump_streams_in_chunks(api: APIClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.views import sync

    monkeypatch.setattr(sync, "STREAM_BYTES", 100)
    chunks = list(api.get("/api/v1/maps/open-map/dump/").streaming_content)
    assert len(chunks) > 3
    json.loads(b"".join(chunks))


def test_framework_and_code_set_lists_take_updated_since_and_ordering(api: APIClient, world: World) -> None:
    since = timezone.now().isoformat()
    assert api.get("/api/v1/maps/open-map/interventions/", {"updated_since": since}).json() == []
    world.i_b.name = "Child B, renamed"
    world.i_b.save()
    world.capital.name = "Capital"
    world.capital.save()
    changed = api.get("/api/v1/maps/open-map/interventions/", {"updated_since": since}).json()
    assert [n["id"] for n in changed] == [world.i_b.pk]
    sets = api.get("/api/v1/maps/open-map/code-sets/", {"updated_since": since}).json()
    assert [s["slug"] for s in sets] == ["setting"]  # one of its codes changed
    by_name = api.get("/api/v1/maps/open-map/outcomes/", {"ordering": "-name"}).json()
    assert [n["name"] for n in by_name] == ["Top outcome", "Outcome X"]
    assert api.get("/api/v1/maps/open-map/code-sets/", {"ordering": "slug"}).status_code == 400


def test_cells_take_ordering_nulls_last(api: APIClient, world: World) -> None:
    cells = api.get("/api/v1/maps/open-map/cells/", {"ordering": "-estimate"}).json()["cells"]
    estimates = [c["estimate"] for c in cells if c["estimate"] is not None]
    assert estimates == sorted(estimates, reverse=True) and len(estimates) > 1
    response = api.get("/api/v1/maps/open-map/cells/", {"ordering": "label"})
    assert response.status_code == 400 and list(response.json()["error"]["fields"]) == ["ordering"]
    # Cells take updated_since too (tests/api/test_cells_updated_since.py): ordered the same way.
    changed = api.get("/api/v1/maps/open-map/cells/", {"updated_since": "2000-01-01", "ordering": "-estimate"})
    assert changed.status_code == 200 and changed.json()["cells"] == cells


def test_dump_queries_do_not_grow_with_the_map(api: APIClient, world: World) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import EffectSizeFactory, StudyFactory

    def queries() -> int:
        api.get("/api/v1/maps/open-map/cells/")  # the cells are cached: count the rest
        with CaptureQueriesContext(connection) as captured:
            b"".join(api.get("/api/v1/maps/open-map/dump/").streaming_content)
        return len(captured)

    before = queries()
    for n in range(12):
        study = StudyFactory(evidence_map=world.map, title=f"More {n}", status=Status.PUBLISHED)
        study.codes.set([world.rural])
        EffectSizeFactory(study=study, intervention=world.i_a, outcome=world.o_x)
    assert queries() == before
