"""Code sets: their validation, the `code` filter (a code with its descendants; OR within a
set, AND across sets; ids checked against the map) and the segments of a segmenting set."""

from __future__ import annotations

import pickle

import pytest
from django.core.exceptions import ValidationError
from django.http import QueryDict

from evidence.filters import RESERVED_NAMES, FilterError, StudyFilters, StudyFilterSet
from evidence.models import Code, CodeSet, EvidenceMap
from evidence.selectors import code_set_trees
from evidence.synthesis import map_evidence
from evidence.synthesis.segments import map_segments
from studies import services
from studies.models import Status, Study
from tests.api.conftest import World
from tests.factories import EffectSizeFactory, EvidenceMapFactory, StudyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db) -> World:  # type: ignore[no-untyped-def]
    return World()


def titles(studies) -> set[str]:  # type: ignore[no-untyped-def]
    return {s.title for s in studies}


def filtered(world: World, *codes: Code) -> set[str]:
    filters = StudyFilters.from_query({"code": [str(c.pk) for c in codes]}, maps=[world.map])
    return titles(filters.apply(Study.objects.filter(evidence_map=world.map, status=Status.PUBLISHED)))


# --- Validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["design", "country", "q", "code", "map", "page", "title", "interventions", "year"])
def test_a_code_set_slug_cannot_be_a_reserved_name(slug: str) -> None:
    code_set = CodeSet(evidence_map=EvidenceMapFactory(), name="Anything", slug=slug)
    with pytest.raises(ValidationError) as error:
        code_set.full_clean()
    assert list(error.value.message_dict) == ["slug"]
    assert f"“{slug}” is reserved" in error.value.message_dict["slug"][0]


def test_reserved_names_cover_every_filter_and_every_studies_csv_column() -> None:
    from evidence.columns import STUDY_FIELDS

    assert set(StudyFilterSet.base_filters) <= RESERVED_NAMES
    assert set(STUDY_FIELDS) <= RESERVED_NAMES
    CodeSet(evidence_map=EvidenceMapFactory(), name="Setting", slug="setting").full_clean()


def test_the_segmenting_code_set_must_be_the_maps_own(world: World) -> None:
    other = EvidenceMapFactory()
    other.segment_code_set = world.setting
    with pytest.raises(ValidationError) as error:
        other.full_clean()
    assert list(error.value.message_dict) == ["segment_code_set"]
    assert "belongs to another map" in error.value.message_dict["segment_code_set"][0]
    world.map.segment_code_set = world.setting
    world.map.full_clean()


def test_a_codes_parent_must_be_in_the_same_set_and_not_below_it(world: World) -> None:
    stray = Code(code_set=world.funding, name="Stray", parent=world.urban)
    with pytest.raises(ValidationError) as error:
        stray.full_clean()
    assert error.value.message_dict == {"parent": ["The parent belongs to another code set."]}
    world.urban.parent = world.slums
    with pytest.raises(ValidationError) as error:
        world.urban.full_clean()
    assert error.value.message_dict == {"parent": ["A code cannot be its own ancestor."]}


def test_a_studys_codes_must_be_of_its_maps_code_sets(world: World) -> None:
    with pytest.raises(ValidationError) as error:
        services.study_update(study=world.kenya, user=None, data={"codes": [world.public, world.hidden_code]})
    assert list(error.value.message_dict) == ["codes"]
    assert "Setting: SECRET code" in error.value.message_dict["codes"][0]
    assert set(world.kenya.codes.all()) == {world.slums, world.public}  # unchanged
    services.study_update(study=world.kenya, user=None, data={"codes": [world.rural]})
    assert list(world.kenya.codes.all()) == [world.rural]


# --- The code filter -------------------------------------------------------------------------


def test_a_code_matches_itself_and_every_code_below_it(world: World) -> None:
    assert filtered(world, world.urban) == {"Schools in Kenya", "Markets in India"}  # Kenya: a slum
    assert filtered(world, world.slums) == {"Schools in Kenya"}
    assert filtered(world, world.capital) == set()
    assert filtered(world, world.rural) == {"Clinics in Peru"}


def test_codes_of_one_set_are_alternatives_and_of_different_sets_all_must_match(world: World) -> None:
    assert filtered(world, world.slums, world.rural) == {"Schools in Kenya", "Clinics in Peru"}
    assert filtered(world, world.urban, world.private) == {"Markets in India"}
    assert filtered(world, world.urban, world.rural, world.public) == {"Schools in Kenya", "Markets in India"}
    assert filtered(world, world.rural, world.public) == set()
    assert filtered(world, world.public, world.private) == {"Schools in Kenya", "Clinics in Peru", "Markets in India"}


def test_code_values_are_normalised_hashable_and_round_trip(world: World) -> None:
    a, b = world.urban.pk, world.public.pk
    filters = StudyFilters.from_query({"code": f"{b}, {a},{b}", "design": "rct"}, maps=[world.map])
    assert filters.code == tuple(str(pk) for pk in sorted((a, b)))
    same = StudyFilters.from_query(QueryDict(f"code={a}&code={b}&design=rct"), maps=[world.map])
    assert same == filters and hash(same) == hash(filters)
    assert StudyFilters.from_query(QueryDict(filters.to_query()), maps=[world.map]) == filters
    assert pickle.loads(pickle.dumps(filters)) == filters
    assert filters.to_query() == f"design=rct&code={min(a, b)}&code={max(a, b)}"
    assert StudyFilters().code == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("urban", "'urban' is not a code id"),
        ("0", "'0' is not a code id"),
        ("-3", "'-3' is not a code id"),
        ("99999999999", "'99999999999' is not a code id"),
        ("987654", "unknown code id(s) 987654: not codes of this map's code sets"),
    ],
)
def test_bad_code_ids_name_the_field(world: World, value: str, message: str) -> None:
    with pytest.raises(FilterError) as error:
        StudyFilters.from_query({"code": value}, maps=[world.map])
    assert error.value.field == "code"
    assert message in error.value.message


def test_codes_of_another_map_are_unknown_here(world: World) -> None:
    with pytest.raises(FilterError) as error:
        StudyFilters.from_query({"code": f"{world.urban.pk},{world.hidden_code.pk}"}, maps=[world.map])
    assert error.value.field == "code"
    assert f"unknown code id(s) {world.hidden_code.pk}:" in error.value.message
    # Without the maps a query covers, code ids cannot be checked: refused.
    with pytest.raises(FilterError, match="code: code ids can only be checked against a map"):
        StudyFilters.from_query({"code": str(world.urban.pk)})
    assert StudyFilters.from_query({"code": str(world.hidden_code.pk)}, maps=[world.hidden_map]).code


def test_a_deleted_code_matches_nothing(world: World) -> None:
    filters = StudyFilters(code=(str(world.rural.pk),))
    world.rural.delete()
    assert titles(filters.apply(Study.objects.filter(evidence_map=world.map))) == set()


def test_the_filter_narrows_the_pooled_cells(world: World) -> None:
    everything = map_evidence(world.map).cell(world.i_a.pk, world.o_x.pk)
    urban = map_evidence(world.map, StudyFilters(code=(str(world.urban.pk),))).cell(world.i_a.pk, world.o_x.pk)
    assert everything.study_ids == tuple(sorted((world.kenya.pk, world.peru.pk)))
    assert urban.study_ids == (world.kenya.pk,)


# --- Trees and segments ----------------------------------------------------------------------


def test_code_set_trees_are_depth_first_in_order(world: World, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    world.map.segment_code_set = world.funding
    with django_assert_num_queries(2):
        trees = code_set_trees(world.map)
    assert [(t.name, t.is_filter, t.is_segment) for t in trees] == [("Setting", True, False), ("Funding", False, True)]
    setting = trees[0]
    assert [(n.name, n.depth) for n in setting.code_list] == [
        ("Urban", 0), ("Capital city", 1), ("Informal settlements", 1), ("Rural", 0),
    ]
    assert setting.codes[world.urban.pk].children == (world.capital.pk, world.slums.pk)
    assert [t.name for t in code_set_trees(world.map, filters_only=True)] == ["Setting"]


def test_segments_count_studies_per_top_level_code_with_descendants_rolled_up(world: World) -> None:
    assert map_segments(map_evidence(world.map)) is None  # segmented by design
    world.map.segment_code_set = world.setting
    world.map.save()
    # A study in two segments counts in both; a study without a code of the set is "not coded".
    both = StudyFactory(evidence_map=world.map, title="Both")
    both.codes.set([world.capital, world.rural])
    uncoded = StudyFactory(evidence_map=world.map, title="Uncoded")
    for study in (both, uncoded):
        EffectSizeFactory(study=study, intervention=world.i_a, outcome=world.o_x)
    evidence = map_evidence(world.map)
    segments = map_segments(evidence)
    assert segments is not None
    assert segments.code_set == "Setting"
    assert segments.codes == ((world.urban.pk, "Urban"), (world.rural.pk, "Rural"))
    # Kenya (a slum: Urban), Peru (Rural), Both (Urban and Rural), Uncoded.
    assert segments.counts(evidence.cell(world.i_a.pk, world.o_x.pk)) == [2, 2, 1]
    # The aggregate cell adds India (Urban) from the sibling row.
    assert segments.counts(evidence.cell(world.i_top.pk, world.o_top.pk)) == [3, 2, 1]


def test_segments_of_a_code_set_without_codes(world: World) -> None:
    empty = CodeSet.objects.create(evidence_map=world.map, name="Language", slug="language")
    EvidenceMap.objects.filter(pk=world.map.pk).update(segment_code_set=empty)
    world.map.refresh_from_db()
    evidence = map_evidence(world.map)
    segments = map_segments(evidence)
    assert segments is not None and segments.code_set == "Language" and segments.codes == ()
    assert segments.counts(evidence.cell(world.i_a.pk, world.o_x.pk)) == [2]
