"""The map and cell pages in French in Debian's Chromium, after their scripts ran: the text
the scripts write (status line, legend, table view, tooltips, plot titles) comes from the
script catalogue, no English interface text is left, the CSP holds and axe finds nothing serious."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from tests.portal import test_browser
from tests.portal.test_browser import TIMEOUT, Console, axe_findings, example_ids
from tests.portal.test_i18n import english_fragments, english_left, map_texts

# The browser and the demo map, as the other browser tests have them.
browser = test_browser.browser
demo = test_browser.demo

pytestmark = pytest.mark.browser

MAP = "/maps/human-rights-diplomacy/"
# Everything a reader meets: the visible text and every accessible name or tooltip.
PAGE_TEXT = """() => [document.body.innerText,
  ...Array.from(document.querySelectorAll('[aria-label], [title]')).flatMap(
    (node) => [node.getAttribute('aria-label') || '', node.getAttribute('title') || '']),
  ...Array.from(document.querySelectorAll('svg text')).map((node) => node.textContent)].join('\\n')"""


def french_context(browser, *, bypass_csp: bool = False):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR", bypass_csp=bypass_csp)
    context.set_default_timeout(TIMEOUT)
    return context


def test_map_and_cell_pages_in_french_after_their_scripts(browser, live_server, demo) -> None:  # type: ignore[no-untyped-def]
    fragments = english_fragments()
    with translation.override("fr"):
        data = map_texts(demo)
    with translation.override("en"):
        i, o = example_ids(demo)
    context = french_context(browser)
    tab = context.new_page()
    console = Console()
    tab.on("console", lambda msg: console.errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: console.errors.append(f"uncaught: {exc}"))

    tab.goto(live_server.url + MAP)
    tab.wait_for_selector("#map-grid td.cell")
    assert tab.get_attribute("html", "lang") == "fr"
    assert re.match(r"^\d+ études et \d+ tailles d'effet", tab.inner_text("#map-status")), tab.inner_text("#map-status")
    assert "Nombre d'études (aire de la bulle)" in tab.inner_text("#map-legend")
    cell = tab.locator(f'td[data-intervention="{i}"][data-outcome="{o}"]')
    assert "2 études; 4 tailles d'effet" in cell.get_attribute("aria-label")
    assert "Effet modéré (g = 0.139" in cell.get_attribute("aria-label")
    cell.hover()  # the tooltip, written by script
    tab.locator("#table-view summary").click()  # the table view, written by script
    tab.check('input[name="colour"][value="confidence"]')  # the legend and codes by confidence
    tab.wait_for_selector("#map-legend >> text=Confiance élevée (Élevée)")
    left = english_left(tab.evaluate(PAGE_TEXT), data, fragments)
    assert left == [], f"map: {left}"

    # The cell's own link (a click could land on the tooltip the hover above opened).
    tab.goto(live_server.url + cell.locator("a").get_attribute("href"))
    tab.wait_for_url(re.compile(rf"/cells/{i}/{o}/"))
    tab.wait_for_selector("#forest-plot svg.main-svg")
    assert tab.inner_text("#effect-text") == "Effet modéré (g = 0.139)"
    assert "g de Hedges" in tab.inner_text("#forest-plot")
    left = english_left(tab.evaluate(PAGE_TEXT), data, fragments)
    assert left == [], f"cell: {left}"
    cell_url = tab.url
    context.close()
    assert console.errors == [], console.errors

    # axe-core on both pages in French (injected as a script, so without the CSP here).
    context = french_context(browser, bypass_csp=True)
    tab = context.new_page()
    for url, ready in ((live_server.url + MAP, "#map-grid td.cell"), (cell_url, "#forest-plot svg.main-svg")):
        tab.goto(url)
        tab.wait_for_selector(ready)
        assert axe_findings(tab) == [], url
    context.close()
