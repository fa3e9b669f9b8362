"""One vocabulary for CSV and JSON, on the pages and in the API (evidence.columns)."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from evidence.columns import join_values, split_values
from tests.api.conftest import World

pytestmark = pytest.mark.django_db


def header(body: bytes) -> list[str]:
    return next(csv.reader(io.StringIO(body.decode())))


def rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def test_study_csv_columns_are_the_json_fields_on_the_page_and_in_the_api(api: APIClient, world: World) -> None:
    record = api.get(f"/api/v1/studies/{world.india.pk}/").json()
    api_header = header(api.get("/api/v1/studies/?map=open-map&format=csv").content)
    assert api_header == [name for name in record if name != "codes"]  # a list of objects is JSON only
    page = Client().get("/maps/open-map/studies.csv").content
    assert header(page) == [*api_header, "setting", "funding"]  # and a column per code set
    india = next(r for r in rows(page) if r["id"] == str(world.india.pk))
    assert (india["design"], india["design_label"]) == ("rct", "Randomised controlled trial")
    assert (india["confidence"], india["confidence_label"]) == ("medium", "Medium")
    assert india["code_labels"] == "Urban|Public|Private" and india["funding"] == "Public|Private"
    assert india["doi"] == "" and record["doi"] is None  # missing: an empty cell, null in JSON
    assert record["design_label"] == "Randomised controlled trial"


def test_effect_size_csv_on_the_cell_page_is_the_api_csv_in_full_precision(api: APIClient, world: World) -> None:
    page = Client().get(f"/maps/open-map/cells/{world.i_a.pk}/{world.o_x.pk}/effect-sizes.csv").content
    api_csv = api.get(f"/api/v1/effect-sizes/?map=open-map&intervention={world.i_a.pk}&format=csv").content
    # The API's columns, then how the cell pools each effect size (reversed or as reported).
    assert header(page) == [*header(api_csv), "orientation", "g_pooled", "ci_low_pooled", "ci_high_pooled"]
    by_id = {r["id"]: r for r in rows(api_csv)}
    for row in rows(page):
        assert {name: row[name] for name in header(api_csv)} == by_id[row["id"]]
        assert (row["orientation"], row["g_pooled"]) == ("as reported", row["g"])
    kenya = next(r for r in rows(page) if r["id"] == str(world.es_kenya.pk))
    assert float(kenya["var_g"]) == world.es_kenya.var_g and float(kenya["ci_low_g"]) == world.es_kenya.ci_low_g
    assert kenya["study_label"] and kenya["intervention_label"] == "Child A"


def test_cells_flatten_the_same_in_pandas_and_in_the_csv(api: APIClient, world: World) -> None:
    cells = api.get("/api/v1/maps/open-map/cells/").json()["cells"]
    flat = pd.json_normalize(cells)
    assert "label" not in flat.columns and "confidence" not in flat.columns
    assert {"label.text", "confidence.level"} <= set(flat.columns)
    csv_columns = header(api.get("/api/v1/maps/open-map/cells/?format=csv").content)
    assert set(flat.columns) <= set(csv_columns)
    table = pd.read_csv(io.BytesIO(api.get("/api/v1/maps/open-map/cells/?format=csv").content))
    assert list(table["estimate"].fillna(-99)) == [c["estimate"] if c["estimate"] is not None else -99 for c in cells]


def test_a_cell_without_an_estimate_still_has_label_and_confidence_objects(api: APIClient, world: World) -> None:
    from studies.models import Status
    from tests.factories import OutcomeFactory, StudyFactory

    study = StudyFactory(evidence_map=world.map, status=Status.PUBLISHED, title="No effect sizes")
    study.interventions.set([world.i_b])
    study.outcomes.set([OutcomeFactory(evidence_map=world.map, name="Measured by nobody")])
    cells = api.get("/api/v1/maps/open-map/cells/").json()["cells"]
    empty = [c for c in cells if c["k"] is None]
    assert empty
    assert empty[0]["label"] == {"text": None, "band": None, "direction": None, "beneficial": None,
                                 "ci_includes_zero": None}
    assert empty[0]["confidence"]["reasons"] == []
    assert "label" not in pd.json_normalize(cells).columns


@given(st.lists(st.text(alphabet=st.sampled_from(["a", "|", "\\", " ", "é"]), max_size=5), max_size=4))
def test_multi_valued_encoding_reads_back(values: list[str]) -> None:
    if values == [""]:
        return  # one empty value and no value are both an empty cell
    assert split_values(join_values(values)) == values


def test_multi_valued_fields_are_always_arrays_in_json(api: APIClient, world: World) -> None:
    study = api.get(f"/api/v1/studies/{world.draft.pk}/")
    assert study.status_code == 404
    body = json.loads(api.get(f"/api/v1/studies/{world.peru.pk}/").content)
    for name in ("countries", "intervention_ids", "intervention_labels", "outcome_ids", "code_ids", "code_labels"):
        assert isinstance(body[name], list), name
