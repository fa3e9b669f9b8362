"""The map page without script (its table view), its view settings in the URL, segments by any
offered code set in data.json, and sitemap.xml."""

from __future__ import annotations

import html as html_lib
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from evidence.filters import RESERVED_NAMES, StudyFilters
from evidence.models import CodeSet, EvidenceMap, Intervention
from interchange.demo import DIPLOMACY, POLITICAL_SECURITY
from portal import sitemaps
from portal.views import VIEW_PARAMETERS
from studies.models import Status, Study
from tests.factories import EvidenceMapFactory, StudyFactory
from tests.portal.test_pages import build_map

pytestmark = pytest.mark.django_db

SLUG = "human-rights-diplomacy"
MAP = reverse("portal:map", kwargs={"slug": SLUG})
DATA = reverse("portal:map_data", kwargs={"slug": SLUG})
SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def links(html: str) -> set[str]:
    return {html_lib.unescape(href) for href in re.findall(r'href="([^"]+)"', html)}


def table_of(html: str) -> str:
    found = re.search(r'<table id="map-table".*?</table>', html, re.S)
    assert found is not None
    return found.group(0)


# --- the table view in the HTML -------------------------------------------------------------


def test_the_map_page_links_every_cell_with_studies(client, demo_map):  # type: ignore[no-untyped-def]
    html = client.get(MAP).content.decode()
    data = client.get(DATA).json()
    expected = {f"/maps/{SLUG}/cells/{c['i']}/{c['o']}/" for c in data["cells"]}
    assert len(expected) == len(data["cells"]) > 20
    table = table_of(html)
    assert links(table) == expected
    assert f"Cells with studies ({len(expected)} cells)" in table
    # The example cell's row: its category, counts, pooled g, interval, label and confidence.
    row = next(r for r in re.findall(r"<tr>.*?</tr>", table, re.S) if f">{DIPLOMACY}</a>" in r
               and f"{POLITICAL_SECURITY}</td>" in r)
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
    assert cells[0] == f"Diplomatic engagement › {DIPLOMACY}"
    assert cells[2:5] == ["2", "4", "0.139"]
    assert float(cells[5]) < 0.139 < float(cells[6])
    assert cells[7:] == ["Moderate effect", "Low confidence"]
    # Without script the status says what the map holds, not "loading".
    assert "24 studies and 27 effect sizes;" in html


def test_the_table_follows_the_filters_in_its_links(client, demo_map):  # type: ignore[no-untyped-def]
    html = client.get(MAP, {"design": "rct"}).content.decode()
    data = client.get(DATA, {"design": "rct"}).json()
    found = links(table_of(html))
    assert found == {f"/maps/{SLUG}/cells/{c['i']}/{c['o']}/?design=rct" for c in data["cells"]}
    assert 0 < len(found) < 20
    assert "that pass the filters" in html


def test_view_parameters_are_ignored_by_the_filters(client, demo_map):  # type: ignore[no-untyped-def]
    query = {"view": "heat", "colour": "confidence", "shade": "g", "seg": "setting", "fold_i": "1,2", "fold_o": "3"}
    plain = table_of(client.get(MAP).content.decode())
    response = client.get(MAP, {**query, "design": "rct"})
    assert response.status_code == 200
    assert table_of(response.content.decode()) == table_of(client.get(MAP, {"design": "rct"}).content.decode())
    assert table_of(client.get(MAP, query).content.decode()) == plain


def test_view_parameters_never_clash_with_a_filter() -> None:
    names = set(VIEW_PARAMETERS)
    assert names == {"view", "colour", "shade", "seg", "fold_i", "fold_o", "changes"}
    assert not names & (StudyFilters.parameter_names() | RESERVED_NAMES | {"page", "differ"})
    js = (Path(settings.BASE_DIR) / "portal" / "static" / "portal" / "js" / "map" / "view.js").read_text()
    for name in names:
        assert f'"{name}"' in js  # the script writes the same names


# map page (a reader without a session; the reader cache keeps nothing yet): 1 the published
# map's version and latest release (portal.middleware), 2 the map's latest release
# (portal.releases: none, so the working copy), 3 the map, 4 the visible studies' populations and
# countries and 5 the code sets offered as filters (the filter options; its codes only with such
# a set), 6 the code sets it may segment by, then data.json's 4 to 10 (tests/portal/test_pages.py)
# for the table view.
MAP_PAGE_QUERIES = 13


@pytest.mark.parametrize("n_studies", [3, 30])
def test_map_page_runs_a_fixed_number_of_queries(client, django_assert_num_queries, n_studies):  # type: ignore[no-untyped-def]
    evidence_map, _, _ = build_map(n_studies)
    url = reverse("portal:map", kwargs={"slug": evidence_map.slug})
    with django_assert_num_queries(MAP_PAGE_QUERIES):
        html = client.get(url).content.decode()
    # The table reads data.json's cached document: data.json then needs only the version and
    # release look-up, the release look-up and the map.
    with django_assert_num_queries(3):
        data = client.get(reverse("portal:map_data", kwargs={"slug": evidence_map.slug})).json()
    assert len(links(table_of(html))) == len(data["cells"]) >= 4


# --- segments by any offered code set -------------------------------------------------------


def test_data_json_segments_by_a_chosen_code_set(client, demo_map):  # type: ignore[no-untyped-def]
    default = client.get(DATA).json()
    assert default["segments"]["title"] == "Population group"
    by_setting = client.get(DATA, {"seg": "setting"}).json()
    assert by_setting["segments"]["title"] == "Setting"
    setting = CodeSet.objects.get(evidence_map=demo_map, slug="setting")
    assert [c["name"] for c in by_setting["segments"]["codes"]] == list(
        setting.codes.filter(parent=None).order_by("position", "name").values_list("name", flat=True))
    assert all(len(c["seg"]) <= len(by_setting["segments"]["codes"]) + 1 for c in by_setting["cells"])
    assert by_setting["cells"] != default["cells"]
    # By design: no code set, the designs the cells always carry.
    by_design = client.get(DATA, {"seg": "design"}).json()
    assert by_design["segments"] is None and all("seg" not in c for c in by_design["cells"])
    # The map's own set by name is the default document.
    assert client.get(DATA, {"seg": "population-group"}).content == client.get(DATA).content


def test_a_code_set_not_offered_is_a_clear_400(client, demo_map):  # type: ignore[no-untyped-def]
    CodeSet.objects.filter(evidence_map=demo_map, slug="setting").update(is_filter=False)
    EvidenceMap.objects.filter(pk=demo_map.pk).update(version=demo_map.version + 1)
    for value in ("setting", "nope"):
        response = client.get(DATA, {"seg": value})
        assert response.status_code == 400
        body = response.json()
        assert body["field"] == "seg" and f"“{value}”" in body["error"] and "design, population-group" in body["error"]


# --- sitemap.xml ------------------------------------------------------------------------------


def locations(client, url: str) -> list[str]:  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    return [node.text or "" for node in root.findall("s:*/s:loc", SITEMAP_NS)]


def test_the_sitemap_lists_every_public_map_cell_and_study(client, demo_map):  # type: ignore[no-untyped-def]
    hidden = EvidenceMapFactory(is_published=False)
    hidden_study = StudyFactory(evidence_map=hidden, status=Status.PUBLISHED)
    sections = locations(client, "/sitemap.xml")
    assert sections == [f"http://testserver/sitemap-{name}.xml" for name in ("maps", "cells", "studies")]
    found = [loc.removeprefix("http://testserver") for s in sections for loc in locations(client, s)]
    data = client.get(DATA).json()
    cells = {f"/maps/{SLUG}/cells/{c['i']}/{c['o']}/" for c in data["cells"]}
    published = Study.objects.filter(evidence_map=demo_map, status=Status.PUBLISHED)
    studies = {f"/maps/{SLUG}/studies/{pk}/" for pk in published.values_list("pk", flat=True)}
    assert Study.objects.filter(evidence_map=demo_map, status=Status.DRAFT).exists()
    assert set(found) == {MAP} | cells | studies
    assert len(found) == 1 + len(cells) + len(studies)
    assert not any(hidden.slug in loc or f"/{hidden_study.pk}/" in loc for loc in found if "/studies/" in loc
                   and hidden.slug in loc)
    # Every listed page answers an anonymous reader.
    for path in [MAP, *sorted(cells)[:3], *sorted(studies)[:3]]:
        assert client.get(path).status_code == 200


def test_a_large_sitemap_is_paged(client, demo_map, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sitemaps.CellSitemap, "limit", 10)
    n_cells = len(client.get(DATA).json()["cells"])
    sections = locations(client, "/sitemap.xml")
    pages = [s for s in sections if "sitemap-cells.xml" in s]
    assert len(pages) == -(-n_cells // 10) > 2
    assert pages[1].endswith("sitemap-cells.xml?p=2")
    listed = [loc for page in pages for loc in locations(client, page.removeprefix("http://testserver"))]
    assert len(listed) == len(set(listed)) == n_cells
    assert Intervention.objects.filter(evidence_map=demo_map).exists()
