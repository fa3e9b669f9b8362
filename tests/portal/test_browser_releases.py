"""Releases in the browser: the map outlines the cells changed since the previous release and
lists them as text; the comparison page and the citation page pass axe-core."""

from __future__ import annotations

import pytest

from evidence.models import Intervention, Outcome
from evidence.releases.services import release_map
from tests.factories import EffectSizeFactory, StudyFactory
from tests.portal import test_browser as shared
from tests.portal.test_browser import AXE, MAP, TIMEOUT, axe_findings, example_ids, expect

pytestmark = pytest.mark.browser

# The browser, the live demo and a page with its console checked, as the other browser tests have them.
browser, demo, page = shared.browser, shared.demo, shared.page


def _release_with_a_change(demo) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Release 1; one more study with an effect size in the example cell; release 2."""
    release_map(evidence_map=demo, user=None, notes="first")
    i, o = example_ids(demo)
    study = StudyFactory(evidence_map=demo, title="A new trial of diplomacy")
    study.interventions.add(Intervention.objects.get(pk=i))
    study.outcomes.add(Outcome.objects.get(pk=o))
    EffectSizeFactory(study=study, intervention_id=i, outcome_id=o, es_value=0.9, es_se=0.1)
    release_map(evidence_map=demo, user=None, notes="second")
    return i, o


def test_map_highlights_changed_cells(page, demo) -> None:  # type: ignore[no-untyped-def]
    i, o = _release_with_a_change(demo)
    page.goto(page.base + MAP + "?changes=previous")
    cell = page.locator(f'#map-grid td[data-intervention="{i}"][data-outcome="{o}"]')
    expect(cell).to_have_class("cell cell-changed")
    assert "Changed since release 1" in (cell.get_attribute("aria-label") or "")
    listed = page.locator("#changes-list li")
    expect(listed.first).to_contain_text("×")
    assert page.locator("#changes-summary").inner_text().startswith(f"{listed.count()} cell")
    assert page.locator("#map-grid td.cell-changed").count() >= 1
    # Off: no outline, no list; a redraw (colour by confidence) keeps it off, and on again
    # the outline survives the redraw.
    page.locator("#show-changes").uncheck()
    expect(page.locator("#changes-detail")).to_be_hidden()
    assert page.locator("#map-grid td.cell-changed").count() == 0
    page.locator("#show-changes").check()
    page.locator('input[name="colour"][value="confidence"]').check()
    expect(page.locator(f'#map-grid td.cell-changed[data-intervention="{i}"][data-outcome="{o}"]')).to_have_count(1)
    assert "changes=previous" in page.url


def test_release_pages_pass_axe(browser, live_server, demo) -> None:  # type: ignore[no-untyped-def]
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make install does)")
    i, o = _release_with_a_change(demo)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(TIMEOUT)
    tab = context.new_page()
    slug = demo.slug
    pages = {
        "compare": f"/maps/{slug}/releases/compare/?from=1&to=2",
        "cite": f"/maps/{slug}/releases/2/cite/",
        "cell of a release": f"/maps/{slug}/releases/2/cells/{i}/{o}/",
        "releases": f"/maps/{slug}/releases/",
        "home": "/",
    }
    for name, path in pages.items():
        # The first page of a release materialises its copy, which takes a while on a busy machine.
        response = tab.goto(live_server.url + path, timeout=60_000)
        assert response is not None and response.status == 200, name
        assert axe_findings(tab) == [], name
    tab.goto(live_server.url + MAP + "?changes=previous")
    tab.wait_for_selector("#map-grid td.cell-changed")
    assert axe_findings(tab) == [], "map with changes"
    context.close()
