"""One bad effect size (a non-finite or absurd value written past validation, by raw SQL) never
breaks the map, another cell, the API or the exports: its cells are "not pooled" with the
reason, and everything answers 200."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from evidence.synthesis import pooling
from tests.api.conftest import World

BOUNDS = "es_computed_within_bounds"


def _write_past_validation(effect_size_id: int, **values: float) -> None:
    """Set computed columns straight in the database, past the model and its check constraints."""
    table = "studies_effectsize"
    sets = ", ".join(f"{name} = %s" for name in values)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE needs no deferred checks pending
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'c'", [table]
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            cursor.execute(f"UPDATE {table} SET {sets} WHERE id = %s", [*values.values(), effect_size_id])
        else:
            cursor.execute("PRAGMA ignore_check_constraints = ON")
            try:
                cursor.execute(f"UPDATE {table} SET {sets} WHERE id = %s", [*values.values(), effect_size_id])
            finally:
                cursor.execute("PRAGMA ignore_check_constraints = OFF")


NAN = float("nan")
BAD_VALUES = {
    # SQLite keeps no NaN (it stores NULL, which the column refuses); PostgreSQL does.
    "not a number": {"g": NAN, "var_g": NAN, "se_g": NAN, "ci_low_g": NAN, "ci_high_g": NAN},
    "infinite variance": {"var_g": float("inf"), "se_g": float("inf"), "ci_low_g": float("-inf"),
                          "ci_high_g": float("inf")},
    "huge g": {"g": 1e160, "ci_low_g": 1e160, "ci_high_g": 1e160},
    "zero variance": {"var_g": 0.0, "se_g": 0.0},
    "negative variance": {"var_g": -1.0},
}


def _get_all(w: World) -> dict[str, object]:
    """Every page, download and API answer that shows the map or one of its cells: each must be a 200."""
    client, api = Client(), APIClient()
    slug = {"slug": w.map.slug}
    bad = {"intervention_id": w.i_a.pk, "outcome_id": w.o_x.pk}
    good = {"intervention_id": w.i_b.pk, "outcome_id": w.o_x.pk}
    aggregate = {"intervention_id": w.i_top.pk, "outcome_id": w.o_top.pk}
    pages = [
        reverse("portal:map", kwargs=slug),
        reverse("portal:map_data", kwargs=slug),
        reverse("portal:map_embed", kwargs=slug),
        reverse("portal:map_download", kwargs=slug),
        reverse("portal:methods", kwargs=slug),
        reverse("portal:cell", kwargs={**slug, **bad}),
        reverse("portal:cell", kwargs={**slug, **good}),
        reverse("portal:cell", kwargs={**slug, **aggregate}),
        reverse("portal:study", kwargs={**slug, "pk": w.kenya.pk}),
        reverse("interchange:cell_effects_csv", kwargs={**slug, **bad}),
        reverse("interchange:cell_effects_csv", kwargs={**slug, **good}),
        reverse("interchange:studies_csv", kwargs=slug),
        reverse("interchange:studies_ris", kwargs=slug),
        reverse("interchange:map_eppi_json", kwargs=slug),
        reverse("interchange:map_xlsx", kwargs=slug),
    ]
    answers: dict[str, object] = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        answers[url] = response
    api_urls = [
        reverse("api:cells", kwargs=slug),
        reverse("api:cells", kwargs=slug) + "?format=csv",
        reverse("api:cell", kwargs={**slug, **bad}),
        reverse("api:cell", kwargs={**slug, **good}),
        reverse("api:effect-sizes") + f"?map={w.map.slug}",
        reverse("api:effect-sizes") + f"?map={w.map.slug}&format=csv",
        reverse("api:effect-size", kwargs={"pk": w.es_kenya.pk}),
        reverse("api:study", kwargs={"pk": w.kenya.pk}),
    ]
    for url in api_urls:
        response = api.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        answers[url] = response
    return answers


def _cells(w: World) -> dict[tuple[int, int], dict[str, object]]:
    data = json.loads(Client().get(reverse("portal:map_data", kwargs={"slug": w.map.slug})).content)
    return {(c["i"], c["o"]): c for c in data["cells"]}


@pytest.mark.parametrize("bad", list(BAD_VALUES), ids=list(BAD_VALUES))
def test_a_bad_row_breaks_only_its_own_cells(world: World, bad: str, caplog: pytest.LogCaptureFixture) -> None:
    w = world
    if bad == "not a number" and connection.vendor != "postgresql":
        pytest.skip("SQLite stores NaN as NULL")
    before = _cells(w)
    cache.clear()
    _write_past_validation(w.es_kenya.pk, **BAD_VALUES[bad])
    with caplog.at_level(logging.WARNING, logger="evidence.synthesis.pooling"):
        cells = _cells(w)
    # The row's own cell and the aggregates above it are not pooled, and say why.
    for key in [(w.i_a.pk, w.o_x.pk), (w.i_top.pk, w.o_x.pk), (w.i_a.pk, w.o_top.pk), (w.i_top.pk, w.o_top.pk)]:
        assert cells[key]["g"] is None
        assert f"effect size {w.es_kenya.pk} " in str(cells[key]["not_pooled"])
    # Every other cell is as it was.
    good = (w.i_b.pk, w.o_x.pk)
    assert cells[good] == before[good] and cells[good]["g"] == 0.5
    assert any(str(w.es_kenya.pk) in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)

    answers = _get_all(w)
    slug = w.map.slug
    page = answers[f"/maps/{slug}/cells/{w.i_a.pk}/{w.o_x.pk}/"]
    assert "could not be pooled: effect size" in page.content.decode()  # type: ignore[attr-defined]
    detail = answers[f"/api/v1/maps/{slug}/cells/{w.i_a.pk}/{w.o_x.pk}/"]
    assert detail.json()["estimate"] is None  # type: ignore[attr-defined]
    assert f"effect size {w.es_kenya.pk} " in detail.json()["not_pooled_reason"]  # type: ignore[attr-defined]


def test_a_numerical_failure_stays_in_its_cell(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Should the engine fail on a batch (a numerical error of one cell), each cell is fitted
    alone: the failing cells are not pooled, with the reason, and the others are."""
    w = world
    engine = pooling.pool_cells_clustered

    def failing(yi, vi, codes, clusters, **kwargs):  # type: ignore[no-untyped-def]
        if np.any(np.isclose(yi, 0.3)):  # Kenya's effect size
            raise FloatingPointError("overflow in a cell's fit")
        return engine(yi, vi, codes, clusters, **kwargs)

    monkeypatch.setattr(pooling, "pool_cells_clustered", failing)
    with caplog.at_level(logging.WARNING, logger="evidence.synthesis.pooling"):
        cells = _cells(w)
    assert cells[(w.i_a.pk, w.o_x.pk)]["g"] is None
    assert "numerical error" in str(cells[(w.i_a.pk, w.o_x.pk)]["not_pooled"])
    assert cells[(w.i_b.pk, w.o_x.pk)]["g"] == 0.5
    assert any("one by one" in r.getMessage() for r in caplog.records)
    _get_all(w)
