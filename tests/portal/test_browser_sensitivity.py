"""In Debian's headless Chromium: the cell page's sensitivity section renders for the demo's
12-study cell under the strict CSP, its leave-one-out plot draws every study, and it passes axe;
an aggregate cell on the map says which outcomes it reverses."""

from __future__ import annotations

import pytest

from evidence.models import Intervention, Outcome
from tests.portal import test_browser as shared
from tests.portal.test_browser import AXE, MAP, TIMEOUT, axe_findings, expect

pytestmark = pytest.mark.browser

# The browser, the live demo and a page with its console checked, as the other browser tests have them.
browser, demo, page = shared.browser, shared.demo, shared.page


def _twelve_study_cell(demo) -> str:  # type: ignore[no-untyped-def]
    i = Intervention.objects.get(evidence_map=demo, name="Human rights treaty ratification").pk
    o = Outcome.objects.get(evidence_map=demo, name="Physical integrity rights").pk
    return f"{MAP}cells/{i}/{o}/"


def test_sensitivity_section_renders_for_the_twelve_study_cell(page, demo) -> None:  # type: ignore[no-untyped-def]
    page.goto(page.base + _twelve_study_cell(demo))
    page.wait_for_selector("#sensitivity-plot svg.main-svg")
    expect(page.locator("#sensitivity-heading")).to_have_text("Does the result hold?")
    # One marker per study left out, across the "holds" and "changes" traces.
    assert page.locator("#sensitivity-plot .scatterlayer .point").count() == 12
    assert page.locator("#sensitivity-summary").inner_text().startswith("The label (Moderate effect)")
    page.click("#sensitivity-heading ~ details summary")
    assert page.locator("#sensitivity-heading ~ details tbody tr").count() == 12
    assert "Trim-and-fill (Duval and Tweedie" in page.inner_text("main")
    # The forest plot's markers are sized by weight: not all the same size.
    page.wait_for_selector("#forest-plot svg.main-svg")
    sizes = {p.get_attribute("d") for p in page.locator("#forest-plot .scatterlayer .trace").first.locator(".point").all()}
    assert len(sizes) > 1


def test_the_sensitivity_section_passes_axe(browser, live_server, demo) -> None:  # type: ignore[no-untyped-def]
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make install does)")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(TIMEOUT)
    tab = context.new_page()
    tab.goto(live_server.url + _twelve_study_cell(demo))
    tab.wait_for_selector("#sensitivity-plot .main-svg")
    tab.click("#sensitivity-heading ~ details summary")
    found = axe_findings(tab)
    context.close()
    assert found == []


def test_an_aggregate_cell_on_the_map_says_what_it_reverses(page, demo) -> None:  # type: ignore[no-untyped-def]
    i = Intervention.objects.get(evidence_map=demo, name="Support to civil society").pk
    o = Outcome.objects.get(evidence_map=demo, name="Security and rights").pk
    page.goto(page.base + MAP)
    page.wait_for_selector("#map-grid td.cell")
    # Fold the row and the column category into their aggregate cell.
    page.locator('#map-grid button[data-axis="row"]', has_text="Support to civil society").click()
    page.locator('#map-grid button[data-axis="col"]', has_text="Security and rights").click()
    label = page.locator(f'td[data-intervention="{i}"][data-outcome="{o}"]').get_attribute("aria-label")
    assert "Moderate effect (g = 0.176" in label
    assert "Effects on political imprisonment are reversed so that positive means improvement." in label
