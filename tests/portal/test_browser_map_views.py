"""The map's views in Debian's headless Chromium: readable without script (a crawler follows
links from the home page to every cell), view settings in the URL restored on load and by the
back button, segments by a chosen code set and the heat map, with axe-core on each."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

import pytest

from evidence.models import Intervention
from interchange.demo import DIPLOMACY
from tests.portal.test_browser import (  # noqa: F401  (the fixtures)
    MAP,
    TIMEOUT,
    axe_findings,
    browser,
    demo,
    example_ids,
    expect,
    open_map,
    page,
)

pytestmark = pytest.mark.browser


def test_without_script_a_crawler_reaches_every_cell_from_the_home_page(browser, live_server, demo) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(TIMEOUT)
    tab = context.new_page()
    base = urlsplit(live_server.url)
    seen: set[str] = set()
    queue = ["/"]
    cells: set[str] = set()
    while queue and len(seen) < 400:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = tab.goto(live_server.url + path)
        assert response is not None and response.ok, path
        if "/cells/" in path or "/studies/" in path or not response.headers.get("content-type", "").startswith("text/html"):
            if "/cells/" in path:
                cells.add(path)
            continue  # the cells are what we look for: no need to crawl on from them
        for attrs in re.findall(r"<a\b([^>]*)>", tab.content()):
            found = re.search(r'\shref="([^"]+)"', attrs)
            if found is None or re.search(r"\sdownload(?=[\s=]|$)", attrs):
                continue  # a file to save (the map as one HTML file, the exports), not a page
            href = html.unescape(found.group(1))
            target = urlsplit(urljoin(live_server.url + path, href))
            if target.netloc != base.netloc or not target.path.startswith("/maps/"):
                continue
            local = target.path + (f"?{target.query}" if target.query else "")
            if local not in seen and not target.path.endswith((".csv", ".ris", ".json", ".xlsx")):
                queue.append(local)
    context.close()
    data = tab_data(live_server.url)
    expected = {f"{MAP}cells/{c['i']}/{c['o']}/" for c in data["cells"]}
    assert expected and expected <= cells


def tab_data(url: str) -> dict:  # type: ignore[type-arg]
    import json
    from urllib.request import urlopen

    with urlopen(url + MAP + "data.json") as response:
        return json.loads(response.read())


def test_a_shared_url_restores_the_view_and_back_restores_the_previous(page, demo) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    i, o = example_ids(demo)
    group = Intervention.objects.get(evidence_map=demo, name=DIPLOMACY).parent_id
    open_map(page)
    cell = page.locator(f'td[data-intervention="{i}"][data-outcome="{o}"]')
    # Colour by confidence, segments by Setting and a folded row category: each in the URL.
    page.check('input[name="colour"][value="confidence"]')
    page.wait_for_url(re.compile(r"\?colour=confidence$"))
    page.select_option("#segment-by", "setting")
    page.wait_for_url(re.compile(r"\?colour=confidence&seg=setting$"))
    expect(page.locator("#map-legend")).to_contain_text("Setting (segments")
    assert page.is_checked("#show-segments")
    page.click(f'#map-grid button[data-axis="row"][data-node="{group}"]')
    page.wait_for_url(re.compile(rf"\?colour=confidence&seg=setting&fold_i={group}$"))
    assert cell.count() == 0  # folded into its category
    shared = page.url

    # The shared URL in a new tab: the same view.
    other = page.context.new_page()
    other.goto(shared)
    other.wait_for_selector("#map-grid td.cell")
    assert other.is_checked('input[name="colour"][value="confidence"]')
    assert other.is_checked("#show-segments")
    assert other.locator("#segment-by").input_value() == "setting"
    expect(other.locator("#map-legend")).to_contain_text("Setting (segments")
    folded = other.locator(f'#map-grid button[data-axis="row"][data-node="{group}"]')
    assert folded.get_attribute("aria-expanded") == "false"
    assert other.locator(f'td[data-intervention="{group}"][data-outcome="{o}"]').count() == 1
    assert other.locator(f'td[data-intervention="{i}"]').count() == 0
    other.close()

    # Back: the category unfolded, then Population group's segments... then no segments.
    page.go_back()
    page.wait_for_url(re.compile(r"\?colour=confidence&seg=setting$"))
    expect(cell).to_have_count(1)
    page.go_back()
    page.wait_for_url(re.compile(r"\?colour=confidence$"))
    expect(page.locator("#show-segments")).not_to_be_checked()
    expect(page.locator("#map-legend")).not_to_contain_text("(segments")
    assert cell.locator(".cell-code").inner_text() == "Low"
    page.go_back()
    page.wait_for_url(re.compile(re.escape(MAP) + "$"))
    expect(page.locator('input[name="colour"][value="effect"]')).to_be_checked()
    expect(cell.locator(".cell-code")).to_contain_text("Moderate")
    # Forward again: segments by Setting, loaded for that entry.
    page.go_forward()
    page.go_forward()
    page.wait_for_url(re.compile(r"\?colour=confidence&seg=setting$"))
    expect(page.locator("#map-legend")).to_contain_text("Setting (segments")


def test_heat_map_by_studies_and_by_g(page, demo) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    i, o = example_ids(demo)
    open_map(page, "?view=heat&design=mixed&design=other_qed")
    cell = page.locator(f'td[data-intervention="{i}"][data-outcome="{o}"]')
    assert cell.locator("svg rect").count() == 1 and cell.locator("svg circle").count() == 0
    assert page.is_visible("#shade-controls") and not page.is_visible("#colour-controls")
    legend = page.inner_text("#map-legend")
    assert "Number of studies, cell shade" in legend and "Number of studies (bubble area)" not in legend
    by_studies = cell.locator("rect").get_attribute("fill")
    page.check('input[name="shade"][value="g"]')
    page.wait_for_url(re.compile(r"\?design=mixed&design=other_qed&view=heat&shade=g$"))
    assert "Pooled effect (Hedges' g), cell shade" in page.inner_text("#map-legend")
    assert cell.locator("rect").get_attribute("fill") != by_studies
    assert "Moderate" in cell.locator(".cell-code").inner_text()
    page.check('input[name="view"][value="bubbles"]')
    page.wait_for_url(re.compile(r"\?design=mixed&design=other_qed&shade=g$"))
    expect(cell.locator("svg circle")).to_have_count(1)
    page.go_back()
    expect(cell.locator("svg rect")).to_have_count(1)


def test_the_views_pass_axe(browser, live_server, demo) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(TIMEOUT)
    tab = context.new_page()
    findings = {}
    for name, query in {
        "heat map by studies": "?view=heat",
        "heat map by g": "?view=heat&shade=g",
        "segments by setting, folded": "?seg=setting&colour=confidence&fold_o=1",
    }.items():
        tab.goto(live_server.url + MAP + query)
        tab.wait_for_selector("#map-grid td.cell")
        found = axe_findings(tab)
        if found:
            findings[name] = found
    context.close()
    # The page as a reader without script gets it (axe itself is a script: the map's is refused).
    plain = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    tab = plain.new_page()
    tab.route("**/static/portal/js/map.js", lambda route: route.abort())
    tab.goto(live_server.url + MAP)
    tab.wait_for_selector("#map-table tbody tr")
    found = axe_findings(tab)
    if found:
        findings["without script"] = found
    plain.close()
    assert findings == {}, findings



def test_a_segmenting_set_not_offered_reads_as_the_default(page, demo) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    open_map(page, "?seg=nope")
    assert page.is_checked("#show-segments")
    expect(page.locator("#map-legend")).to_contain_text("Population group (segments")
    assert page.locator("#segment-by").input_value() == "population-group"
    page.wait_for_url(re.compile(r"\?seg=population-group$"))
