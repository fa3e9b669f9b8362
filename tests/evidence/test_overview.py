"""The overview's counts: per year, design, region, confidence, appraisal rating and country,
of the studies a reader sees that pass the filters, in a fixed number of grouped queries."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from evidence.filters import StudyFilters
from evidence.overview import compute_overview, map_overview
from evidence.selectors import map_studies
from studies.models import AppraisalItem, Status
from tests.conftest import grant
from tests.factories import EvidenceMapFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db

ANONYMOUS = AnonymousUser()
# years (grouped), designs, regions and confidence ratings (filtered counts, one query),
# countries (grouped by the stored list), appraisal ratings (grouped).
OVERVIEW_QUERIES = 4


def counts(chart) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return dict(zip(chart.categories, chart.series[0].counts, strict=True))


@pytest.fixture
def evidence_map():  # type: ignore[no-untyped-def]
    evidence_map = EvidenceMapFactory()
    a = StudyFactory(evidence_map=evidence_map, year=2010, design="rct", confidence="high", countries=["KE"])
    StudyFactory(evidence_map=evidence_map, year=2012, design="rct", confidence="low", countries=["KE", "UG"])
    StudyFactory(evidence_map=evidence_map, year=2012, design="did", confidence="", countries=["FR"])
    StudyFactory(evidence_map=evidence_map, year=None, design="qualitative", confidence="", countries=[],
                 is_global=True)
    # A draft, which only the map's members count.
    StudyFactory(evidence_map=evidence_map, year=2014, design="iv", countries=["BR"], status=Status.DRAFT)
    AppraisalItem.objects.create(study=a, criterion="design", rating="yes")
    AppraisalItem.objects.create(study=a, criterion="attrition", rating="unclear")
    b = evidence_map.studies.get(year=2012, design="rct")
    AppraisalItem.objects.create(study=b, criterion="design", rating="yes")
    AppraisalItem.objects.create(study=b, criterion="attrition", rating="no")
    return evidence_map


def test_counts_per_year_design_region_confidence_and_country(evidence_map) -> None:  # type: ignore[no-untyped-def]
    found = map_overview(evidence_map, StudyFilters(), ANONYMOUS)
    assert found.n_studies == 4
    # Every year from the first to the last (a gap shows as 0), then the undated.
    assert counts(found.chart("year")) == {"2010": 1, "2011": 0, "2012": 2, "n.d.": 1}
    design = counts(found.chart("design"))
    assert design["Randomised controlled trial"] == 2
    assert design["Difference-in-differences"] == 1
    assert design["Qualitative"] == 1
    assert design["Instrumental variables"] == 0  # the draft's design
    assert sum(design.values()) == 4
    assert counts(found.chart("region")) == {
        "Africa": 2, "Americas": 0, "Asia": 0, "Europe": 1, "Oceania": 0, "Global": 1,
    }
    assert counts(found.chart("confidence")) == {"High": 1, "Medium": 0, "Low": 1, "Not appraised": 2}
    country = found.chart("country")
    # Most studied first; a study of two countries counts in both.
    assert list(country.categories) == ["Kenya", "France", "Uganda"]
    assert country.series[0].counts == (2, 1, 1)
    assert country.locations == ("KEN", "FRA", "UGA")
    assert found.n_without_country == 1


def test_appraisal_ratings_per_criterion(evidence_map) -> None:  # type: ignore[no-untyped-def]
    chart = map_overview(evidence_map, StudyFilters(), ANONYMOUS).chart("appraisal")
    series = {s.name: dict(zip(chart.categories, s.counts, strict=True)) for s in chart.series}
    design = "The design supports a causal claim"
    attrition = "Attrition and missing data are low or handled"
    assert series["Yes"][design] == 2
    assert series["No"][attrition] == 1 and series["Unclear"][attrition] == 1
    assert sum(sum(s.counts) for s in chart.series) == 4
    rows = {(r["criterion"], r["rating"]): r["n_studies"] for r in chart.rows}
    assert rows[("design", "yes")] == 2 and rows[("attrition", "no")] == 1 and rows[("reporting", "na")] == 0


def test_drafts_are_counted_for_members_only(evidence_map) -> None:  # type: ignore[no-untyped-def]
    assert map_overview(evidence_map, StudyFilters(), ANONYMOUS).n_studies == 4
    stranger = UserFactory(is_staff=True)
    assert map_overview(evidence_map, StudyFilters(), stranger).n_studies == 4
    member = UserFactory(is_staff=True)
    grant(member, evidence_map, "viewer")
    found = map_overview(evidence_map, StudyFilters(), member)
    assert found.n_studies == 5
    assert counts(found.chart("year"))["2014"] == 1
    assert "Brazil" in found.chart("country").categories
    # The reader's cached overview is not the member's.
    assert map_overview(evidence_map, StudyFilters(), ANONYMOUS).n_studies == 4


def test_filters_are_honoured(evidence_map) -> None:  # type: ignore[no-untyped-def]
    found = map_overview(evidence_map, StudyFilters(design=("rct",)), ANONYMOUS)
    assert found.n_studies == 2
    assert counts(found.chart("year")) == {"2010": 1, "2011": 0, "2012": 1}
    assert counts(found.chart("country")) == {"Kenya": 2, "Uganda": 1}
    by_region = map_overview(evidence_map, StudyFilters.from_query({"region": "Europe"}), ANONYMOUS)
    assert by_region.n_studies == 1 and counts(by_region.chart("country")) == {"France": 1}
    appraised = map_overview(evidence_map, StudyFilters(appraised=False, year_min=2011), ANONYMOUS)
    assert counts(appraised.chart("design"))["Difference-in-differences"] == 1
    assert appraised.n_studies == 1
    nothing = map_overview(evidence_map, StudyFilters(country=("JP",)), ANONYMOUS)
    assert nothing.n_studies == 0 and nothing.chart("year").categories == () and nothing.chart("country").rows == ()


def test_text_search_filter(evidence_map) -> None:  # type: ignore[no-untyped-def]
    StudyFactory(evidence_map=evidence_map, title="Election observers and trust", year=2011, countries=["GH"])
    found = map_overview(evidence_map, StudyFilters(q="observers"), ANONYMOUS)
    assert found.n_studies == 1
    assert counts(found.chart("country")) == {"Ghana": 1}
    assert counts(found.chart("year")) == {"2011": 1}


@pytest.mark.parametrize("n_studies", [3, 60])
def test_a_fixed_number_of_grouped_queries(django_assert_num_queries, n_studies) -> None:  # type: ignore[no-untyped-def]
    evidence_map = EvidenceMapFactory()
    for n in range(n_studies):
        StudyFactory(evidence_map=evidence_map, year=2000 + n % 20, countries=[["KE"], ["FR", "DE"], []][n % 3])
    studies = map_studies(evidence_map, ANONYMOUS)
    with django_assert_num_queries(OVERVIEW_QUERIES):
        found = compute_overview(studies)
    assert found.n_studies == n_studies


def test_cached_per_map_version_and_filters(evidence_map, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    map_overview(evidence_map, StudyFilters(), ANONYMOUS)
    with django_assert_num_queries(0):
        assert map_overview(evidence_map, StudyFilters(), ANONYMOUS).n_studies == 4
    with django_assert_num_queries(OVERVIEW_QUERIES):  # other filters: computed
        map_overview(evidence_map, StudyFilters(design=("did",)), ANONYMOUS)
    StudyFactory(evidence_map=evidence_map, year=2013)  # a published study moves the version
    evidence_map.refresh_from_db()
    assert map_overview(evidence_map, StudyFilters(), ANONYMOUS).n_studies == 5
