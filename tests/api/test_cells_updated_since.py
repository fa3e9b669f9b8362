"""The cell list's `updated_since`: exactly the cells whose inputs changed reappear.

Each test takes a time, makes one kind of change, and checks which cells the list names then
(and which it says were emptied). The world's framework: Top intervention > Child A, Child B;
Top outcome > Outcome X, Outcome Y. Kenya and Peru are in Child A x Outcome X, India in Child B
x Outcome X, and Chile (added here) alone in Child B x Outcome Y.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db.models import F
from django.utils import timezone
from rest_framework.test import APIClient

from evidence.models import CellSummary, EvidenceMap
from studies.models import Status
from tests.api.conftest import World
from tests.factories import EffectSizeFactory, OutcomeFactory, StudyFactory

pytestmark = pytest.mark.django_db

Key = tuple[int, int]


@pytest.fixture
def chile(world: World) -> Any:
    world.o_y = OutcomeFactory(evidence_map=world.map, parent=world.o_top, name="Outcome Y", position=1)
    study = StudyFactory(evidence_map=world.map, title="Farms in Chile", year=2021, design="rct", countries=["CL"])
    world.es_chile = EffectSizeFactory(study=study, intervention=world.i_b, outcome=world.o_y, es_value=0.2)
    world.chile = study
    return study


def cells(api: APIClient, since: Any, **params: str) -> tuple[set[Key], set[Key]]:
    """The cells listed with `updated_since`, and the cells it names as removed."""
    response = api.get("/api/v1/maps/open-map/cells/", {"updated_since": since.isoformat(), **params})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["updated_since"] is not None
    listed = {(c["intervention_id"], c["outcome_id"]) for c in data["cells"]}
    removed = {(c["intervention_id"], c["outcome_id"]) for c in data["removed_cells"]}
    return listed, removed


def grid(rows: list[Any], columns: list[Any]) -> set[Key]:
    return {(r.pk, c.pk) for r in rows for c in columns}


def test_nothing_changed_lists_no_cell(api: APIClient, world: World, chile: Any) -> None:
    since = timezone.now()
    assert cells(api, since) == (set(), set())
    everything = api.get("/api/v1/maps/open-map/cells/").json()
    assert everything["updated_since"] is None and everything["removed_cells"] is None
    assert len(everything["cells"]) == 8


def test_an_edited_study_brings_back_its_cells(api: APIClient, world: World, chile: Any) -> None:
    since = timezone.now()
    world.kenya.design = "did"
    world.kenya.save()
    assert cells(api, since) == (grid([world.i_a, world.i_top], [world.o_x, world.o_top]), set())


def test_a_changed_effect_size_brings_back_its_cells(api: APIClient, world: World, chile: Any) -> None:
    since = timezone.now()
    world.es_india.es_value = 0.6
    world.es_india.compute()
    world.es_india.save()
    assert cells(api, since) == (grid([world.i_b, world.i_top], [world.o_x, world.o_top]), set())


def test_a_deleted_effect_size_brings_back_its_cells(api: APIClient, world: World, chile: Any) -> None:
    since = timezone.now()
    world.es_peru.delete()
    assert cells(api, since) == (grid([world.i_a, world.i_top], [world.o_x, world.o_top]), set())


def test_an_added_effect_size_brings_back_its_cells(api: APIClient, world: World, chile: Any) -> None:
    since = timezone.now()
    EffectSizeFactory(study=world.chile, intervention=world.i_b, outcome=world.o_y, es_value=0.4)
    assert cells(api, since) == (grid([world.i_b, world.i_top], [world.o_y, world.o_top]), set())


def test_a_recoded_study_brings_back_its_old_and_new_cells(api: APIClient, world: World, chile: Any) -> None:
    since = timezone.now()
    world.peru.outcomes.add(world.o_y)
    listed, removed = cells(api, since)
    assert listed == grid([world.i_a, world.i_top], [world.o_x, world.o_y, world.o_top]) and removed == set()


def test_an_unpublished_study_brings_back_its_cells_and_names_the_emptied_ones(
    api: APIClient, world: World, chile: Any
) -> None:
    since = timezone.now()
    world.chile.status = Status.DRAFT
    world.chile.save()
    # Child B x Outcome Y and Top x Outcome Y had Chile alone: they are gone, and named.
    emptied = grid([world.i_b, world.i_top], [world.o_y])
    assert cells(api, since) == (grid([world.i_b, world.i_top], [world.o_top]), emptied)


def test_a_deleted_study_brings_back_its_cells_and_names_the_emptied_ones(
    api: APIClient, world: World, chile: Any
) -> None:
    since = timezone.now()
    world.chile.delete()
    emptied = grid([world.i_b, world.i_top], [world.o_y])
    assert cells(api, since) == (grid([world.i_b, world.i_top], [world.o_top]), emptied)


def test_a_published_study_brings_back_its_cells(api: APIClient, world: World, chile: Any) -> None:
    world.chile.status = Status.DRAFT
    world.chile.save()
    since = timezone.now()
    world.chile.status = Status.PUBLISHED
    world.chile.save()
    assert cells(api, since) == (grid([world.i_b, world.i_top], [world.o_y, world.o_top]), set())


def test_a_draft_changes_no_cell(api: APIClient, world: World, chile: Any) -> None:
    since = timezone.now()
    world.draft.title = "SECRET DRAFT study, revised"
    world.draft.save()
    world.es_draft.es_value = 1.5
    world.es_draft.compute()
    world.es_draft.save()
    assert cells(api, since) == (set(), set())


def test_a_changed_outcome_brings_back_its_column_and_the_categories_above(
    api: APIClient, world: World, chile: Any
) -> None:
    since = timezone.now()
    world.o_x.name = "Outcome X, renamed"
    world.o_x.save()
    everywhere = grid([world.i_a, world.i_b, world.i_top], [world.o_x, world.o_top])
    assert cells(api, since) == (everywhere, set())


def test_a_moved_intervention_brings_back_the_rows_of_its_old_and_new_category(
    api: APIClient, world: World, chile: Any
) -> None:
    from tests.factories import InterventionFactory

    other = InterventionFactory(evidence_map=world.map, name="Other category", position=1)
    since = timezone.now()
    world.i_b.parent = other
    world.i_b.save()
    listed, _ = cells(api, since)
    assert {i for i, _ in listed} == {world.i_b.pk, world.i_top.pk, other.pk}


def test_a_summary_brings_back_its_cell(api: APIClient, world: World, chile: Any) -> None:
    since = timezone.now()
    CellSummary.objects.create(
        evidence_map=world.map, intervention=world.i_a, outcome=world.o_x, headline="Works",
        confidence_override="low", override_justification="Small samples.",
    )
    assert cells(api, since) == ({(world.i_a.pk, world.o_x.pk)}, set())


def test_saved_map_settings_bring_back_every_cell(api: APIClient, world: World, chile: Any) -> None:
    since = timezone.now()
    world.map.pooling_method = "DL"
    world.map.save()
    listed, removed = cells(api, since)
    assert len(listed) == 8 and removed == set()


def test_updated_since_keeps_filters_ordering_csv_and_validators(api: APIClient, world: World, chile: Any) -> None:
    since = timezone.now()
    world.es_india.es_value = 0.6
    world.es_india.compute()
    world.es_india.save()
    listed, _ = cells(api, since, design="rct", ordering="-outcome_id")
    assert listed == grid([world.i_b, world.i_top], [world.o_x, world.o_top])
    url = "/api/v1/maps/open-map/cells/"
    csv = api.get(url, {"updated_since": since.isoformat(), "format": "csv"}).content.decode().splitlines()
    assert len(csv) == 1 + 4
    response = api.get(url, {"updated_since": since.isoformat()})
    assert response["ETag"] != api.get(url)["ETag"]
    assert api.get(url, {"updated_since": since.isoformat()}, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    later = timezone.now() + timedelta(seconds=1)
    assert cells(api, later) == (set(), set())
    bad = api.get(url, {"updated_since": "yesterday"})
    assert bad.status_code == 400 and list(bad.json()["error"]["fields"]) == ["updated_since"]


def test_map_version_bumps_do_not_count_as_settings(api: APIClient, world: World, chile: Any) -> None:
    """Every write bumps the map's version: that is not a change of its settings."""
    since = timezone.now()
    EvidenceMap.objects.filter(pk=world.map.pk).update(version=F("version") + 1, changed_at=timezone.now())
    assert cells(api, since) == (set(), set())
