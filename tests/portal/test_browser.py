"""The map and cell pages in Debian's headless Chromium, driven by Playwright's sync API.

Runs against pytest-django's live server with the demo map loaded. Never downloads a browser:
without /usr/bin/chromium the tests are skipped, unless REQUIRE_BROWSER=1 makes that a failure.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from evidence.models import Code, EvidenceMap, Intervention, Outcome
from interchange.demo import DIPLOMACY, POLITICAL_SECURITY, load_demo

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
MAP = "/maps/human-rights-diplomacy/"
TIMEOUT = 10_000  # ms


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API keeps an asyncio loop in this thread; the tests' own database
        # calls are synchronous and safe, so tell Django not to refuse them (only here).
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            yield instance
            instance.close()


@pytest.fixture
def demo(transactional_db):  # type: ignore[no-untyped-def]
    return load_demo()


class Console:
    """Console errors and uncaught exceptions of one page."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def csp_violations(self) -> list[str]:
        return [e for e in self.errors if "Content Security Policy" in e or "Refused to" in e]


@pytest.fixture
def page(browser, live_server, demo):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(TIMEOUT)
    tab = context.new_page()
    console = Console()
    tab.on("console", lambda msg: console.errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: console.errors.append(f"uncaught: {exc}"))
    tab.console = console
    tab.base = live_server.url
    yield tab
    context.close()
    assert console.csp_violations() == [], console.csp_violations()
    # A rejected filter is a 400 from the data endpoint, which the browser logs; nothing else.
    unexpected = [e for e in console.errors if "status of 400 (Bad Request)" not in e]
    assert unexpected == [], unexpected


def example_ids(demo) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    i = Intervention.objects.get(evidence_map=demo, name=DIPLOMACY).pk
    o = Outcome.objects.get(evidence_map=demo, name=POLITICAL_SECURITY).pk
    return i, o


def expect(locator):  # type: ignore[no-untyped-def]
    # Playwright's assertions poll from outside the page (wait_for_function would need eval,
    # which the Content-Security-Policy rightly forbids).
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def open_map(page, query: str = ""):  # type: ignore[no-untyped-def]
    page.goto(page.base + MAP + query)
    page.wait_for_selector("#map-grid td.cell")
    return page


def row_header(page, name: str):  # type: ignore[no-untyped-def]
    return page.locator("#map-grid tbody th", has_text=name)


def test_map_grid_expand_collapse_and_keyboard(page, demo) -> None:  # type: ignore[no-untyped-def]
    open_map(page)
    i, o = example_ids(demo)
    cell = page.locator(f'td[data-intervention="{i}"][data-outcome="{o}"]')
    assert cell.get_attribute("aria-label").startswith(f"{DIPLOMACY} × {POLITICAL_SECURITY}. 2 studies; 4 effect sizes")
    assert "Moderate effect (g = 0.139" in cell.get_attribute("aria-label")
    assert cell.locator("svg circle").count() == 1
    assert page.locator("#map-grid td.gap").count() > 0
    assert page.locator("#map-legend").inner_text().count("Number of studies") == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map.png"), full_page=True)

    # Collapse the row category: its rows go, one aggregate row shows every study beneath it.
    toggle = page.locator('#map-grid button[data-axis="row"]', has_text="Diplomatic engagement")
    assert toggle.get_attribute("aria-expanded") == "true"
    toggle.click()
    assert row_header(page, DIPLOMACY).count() == 0
    collapsed = page.locator('#map-grid button[data-axis="row"]', has_text="Diplomatic engagement")
    assert collapsed.get_attribute("aria-expanded") == "false"
    parent = Intervention.objects.get(pk=i).parent_id
    aggregate = page.locator(f'td[data-intervention="{parent}"][data-outcome="{o}"]')
    assert aggregate.get_attribute("aria-label").startswith(f"Diplomatic engagement × {POLITICAL_SECURITY}. 2 studies")
    # And a column category.
    page.locator('#map-grid button[data-axis="col"]', has_text="Security and rights").click()
    assert page.locator("#map-grid thead th", has_text=POLITICAL_SECURITY).count() == 0
    page.locator('#map-grid button[data-axis="row"]', has_text="Diplomatic engagement").click()
    page.locator('#map-grid button[data-axis="col"]', has_text="Security and rights").click()
    assert row_header(page, DIPLOMACY).count() == 1

    # Arrow keys move between cells; Enter opens the cell.
    first = page.locator('#map-grid td.cell[data-r="0"][data-c="0"]')
    first.focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.c") == "1"
    assert not page.locator("#map-tooltip").is_hidden()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/cells/{i}/{o}/"))
    assert "Moderate effect (g = 0.139)" in page.inner_text("#effect-text")


def test_filter_updates_map_and_url_in_place(page, demo) -> None:  # type: ignore[no-untyped-def]
    open_map(page)
    i, o = example_ids(demo)
    page.evaluate("window.loadedOnce = true")  # survives only if the page is not reloaded
    page.check('input[name="design"][value="rct"]')
    page.wait_for_url(re.compile(r"\?design=rct$"))
    expect(page.locator("#map-status")).to_have_text(re.compile(r"^1 study"))
    assert page.evaluate("window.loadedOnce") is True
    assert page.locator(f'td[data-intervention="{i}"][data-outcome="{o}"]').get_attribute("class") == "cell gap"
    assert page.get_attribute("#export-csv", "href").endswith("studies.csv?design=rct")

    # The URL can be shared: loading it shows the filtered map.
    page.goto(page.url)
    expect(page.locator("#map-status")).to_have_text(re.compile(r"^1 study"))
    assert page.is_checked('input[name="design"][value="rct"]')

    # Free text and the year range.
    page.uncheck('input[name="design"][value="rct"]')
    page.fill("#filter-q", "Freethe20")
    page.press("#filter-q", "Enter")
    page.wait_for_url(re.compile(r"q=Freethe20"))
    expect(page.locator("#map-status")).to_have_text(re.compile(r"^1 study"))

    # A bad value gets a message, and the map stays as it was.
    page.fill("#filter-year-min", "2024")
    page.fill("#filter-year-max", "2010")
    page.press("#filter-year-max", "Enter")
    error = page.locator("#map-error")
    error.wait_for(state="visible")
    assert "Published from: 2024 is after year_max 2010" in error.inner_text()


def test_cell_page_shows_the_pooled_effect_and_forest_plot(page, demo) -> None:  # type: ignore[no-untyped-def]
    open_map(page)
    i, o = example_ids(demo)
    page.locator(f'td[data-intervention="{i}"][data-outcome="{o}"] a').click()
    page.wait_for_url(re.compile(rf"/cells/{i}/{o}/$"))
    assert page.inner_text("h1") == "Effect of diplomatic recognition and other diplomatic efforts on political security"
    assert page.inner_text("#effect-text") == "Moderate effect (g = 0.139)"
    assert page.inner_text("#confidence-text") == "Low confidence (2 studies; 4 ES)"
    page.wait_for_selector("#forest-plot svg.main-svg")
    # Four effect sizes and the pooled diamond are drawn.
    assert page.locator("#forest-plot .scatterlayer .trace").count() == 3
    assert page.locator("#forest-plot .scatterlayer .trace").first.locator(".point").count() == 4
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cell.png"), full_page=True)

    with page.expect_download() as info:
        page.click("#export-effects")
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert len(rows) == 4

    # A cell with at least ten effect sizes also has a funnel plot and Egger's test.
    treaties = Intervention.objects.get(evidence_map=demo, name="Human rights treaty ratification").pk
    integrity = Outcome.objects.get(evidence_map=demo, name="Physical integrity rights").pk
    page.goto(f"{page.base}{MAP}cells/{treaties}/{integrity}/")
    page.wait_for_selector("#funnel-plot svg.main-svg")
    assert page.locator("#funnel-plot .scatterlayer .point").count() == 12


def test_csv_export_downloads_what_is_on_screen(page, demo) -> None:  # type: ignore[no-untyped-def]
    open_map(page, "?design=mixed&design=other_qed")
    with page.expect_download() as info:
        page.click("#export-csv")
    download = info.value
    assert download.suggested_filename == "human-rights-diplomacy-studies.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert {r["design"] for r in rows} == {"mixed", "other_qed"}  # codes, with their labels beside
    assert {r["design_label"] for r in rows} == {"Mixed methods", "Other quasi-experimental"}
    assert any(r["authors"] == "Myrick, R." for r in rows)

    with page.expect_download() as info:
        page.click("#export-svg")
    svg = Path(info.value.path()).read_text()
    assert svg.startswith("<?xml") and "<circle" in svg and DIPLOMACY in svg

    with page.expect_download() as info:
        page.click("#export-png")
    assert Path(info.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_colour_by_confidence_designs_and_table_view(page, demo) -> None:  # type: ignore[no-untyped-def]
    open_map(page)
    i, o = example_ids(demo)
    cell = page.locator(f'td[data-intervention="{i}"][data-outcome="{o}"]')
    assert "Moderate" in cell.locator(".cell-code").inner_text()
    page.check('input[name="colour"][value="confidence"]')
    assert cell.locator(".cell-code").inner_text() == "Low"  # text, not only colour
    assert "Low confidence (Low)" in page.inner_text("#map-legend")
    # The demo map is segmented by its Population group code set: people at particular risk
    # and women (Myrick), general population (Kahn-Nisser).
    page.check("#show-segments")
    assert cell.locator("svg path").count() == 3
    legend = page.inner_text("#map-legend")
    assert "Population group (segments" in legend and "Women and girls" in legend and "Not coded" in legend
    assert "Population group: People at particular risk 1, Women and girls 1, General population 1" in (
        cell.get_attribute("aria-label"))

    page.click("#table-view summary")
    row = page.locator("#map-table tbody tr", has_text=DIPLOMACY)
    cells = row.locator("td").all_inner_texts()
    assert cells[:4] == [POLITICAL_SECURITY, "2", "4", "0.139"]
    assert float(cells[4]) < 0.139 < float(cells[5])
    assert cells[6:] == ["Moderate effect", "low"]


def test_without_a_segmenting_code_set_the_segments_are_the_designs(page, demo) -> None:  # type: ignore[no-untyped-def]
    EvidenceMap.objects.filter(pk=demo.pk).update(segment_code_set=None, version=demo.version + 1)
    open_map(page)
    i, o = example_ids(demo)
    page.check("#show-segments")
    assert page.locator(f'td[data-intervention="{i}"][data-outcome="{o}"] svg path').count() == 2
    assert "Study design (segments" in page.inner_text("#map-legend")
    assert "Mixed methods" in page.inner_text("#map-legend")


def test_code_set_filter_updates_map_url_and_downloads(page, demo) -> None:  # type: ignore[no-untyped-def]
    open_map(page)
    i, o = example_ids(demo)
    conflict = Code.objects.get(code_set__evidence_map=demo, name="Conflict-affected")
    autocracy = Code.objects.get(code_set__evidence_map=demo, name="Authoritarian regime")
    tree = page.locator("#filter-code-setting")
    assert tree.locator("legend").inner_text() == "Setting"
    # The nested checkboxes: a parent's children are in a list inside its item.
    assert tree.locator("li", has_text="Conflict-affected").locator("ul li").count() == 2

    # A top-level code takes in the codes below it: the two published studies in conflict.
    page.get_by_label("Conflict-affected", exact=True).check()
    page.wait_for_url(re.compile(rf"\?code={conflict.pk}$"))
    expect(page.locator("#map-status")).to_have_text(re.compile(r"^2 studies"))
    assert page.get_attribute("#export-csv", "href").endswith(f"studies.csv?code={conflict.pk}")
    assert page.locator(f'td[data-intervention="{i}"][data-outcome="{o}"]').get_attribute("class") == "cell gap"

    # Two codes of one set: either. The example cell's studies are under authoritarian rule.
    page.get_by_label("Authoritarian regime", exact=True).check()
    expect(page.locator("#map-status")).to_have_text(re.compile(r"^8 studies"))
    cell = page.locator(f'td[data-intervention="{i}"][data-outcome="{o}"]')
    expect(cell).to_have_attribute("aria-label", re.compile(r"^" + re.escape(f"{DIPLOMACY} × {POLITICAL_SECURITY}. 2 studies")))
    low, high = sorted((conflict.pk, autocracy.pk))
    assert page.url.endswith(f"?code={low}&code={high}")

    # The URL can be shared, and the download takes what is on screen.
    page.goto(page.url)
    expect(page.locator("#map-status")).to_have_text(re.compile(r"^8 studies"))
    assert page.is_checked(f'input[name="code"][value="{autocracy.pk}"]')
    with page.expect_download() as info:
        page.click("#export-csv")
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert len(rows) == 8
    assert all(r["setting"] in {"Active armed conflict", "Post-conflict transition", "Authoritarian regime",
                                "Authoritarian regime|Hybrid regime"} for r in rows)

    # The cell page keeps the filter; back on the map, one code less.
    cell.locator("a").click()
    page.wait_for_url(re.compile(rf"/cells/{i}/{o}/\?code={low}&code={high}$"))
    assert "Myrick (2021)" in page.inner_text("main")
    page.go_back()
    page.wait_for_selector("#map-grid td.cell")
    page.get_by_label("Authoritarian regime", exact=True).uncheck()
    page.wait_for_url(re.compile(rf"\?code={conflict.pk}$"))
    expect(page.locator("#map-status")).to_have_text(re.compile(r"^2 studies"))


def test_phone_width_scrolls_the_grid_not_the_page(page) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 390, "height": 844})
    open_map(page)
    scroller = page.locator(".grid-scroll").first
    assert scroller.evaluate("el => el.scrollWidth > el.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert page.locator("#filters-panel").get_attribute("open") is None  # folded away
    page.locator("#map-grid").scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map-phone.png"))


# --- Accessibility: axe-core (from npm, see package.json) on every public page ---------------

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_findings(tab) -> list[str]:  # type: ignore[no-untyped-def]
    """Serious and critical axe-core violations of the page as it is now."""
    tab.add_script_tag(path=str(AXE))
    result = tab.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", WCAG
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[(n['target'], n['html'][:300]) for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_every_public_page_passes_axe(browser, live_server, demo) -> None:  # type: ignore[no-untyped-def]
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make install does)")
    # axe is injected as a script, which the pages' CSP would refuse; the policy itself is
    # checked by every other browser test.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(TIMEOUT)
    tab = context.new_page()
    i, o = example_ids(demo)
    study = demo.studies.filter(status="published").order_by("pk").first()
    setting_code = Code.objects.get(code_set__evidence_map=demo, name="Authoritarian regime")
    pages = {
        "home": ("/", "main"),
        "map": (MAP, "#map-grid td.cell"),
        "map, filtered": (MAP + "?design=rct&has_effects=yes", "#map-grid"),
        "map, filtered by a code": (MAP + f"?code={setting_code.pk}", "#map-grid td.cell"),
        "map, bad code": (MAP + "?code=999999", "main"),
        "map, bad filter": (MAP + "?year_min=soon", "main"),
        "cell": (f"{MAP}cells/{i}/{o}/", "#forest-plot .main-svg"),
        "study": (f"{MAP}studies/{study.pk}/", "main"),
        "methods": (f"{MAP}methods/", "main"),
        "API documentation": ("/api/v1/docs/", "h1"),
    }
    findings = {}
    for name, (path, ready) in pages.items():
        tab.goto(live_server.url + path)
        tab.wait_for_selector(ready)
        found = axe_findings(tab)
        if found:
            findings[name] = found
    # The table view and the phone layout are states of the map page worth their own pass.
    tab.goto(live_server.url + MAP)
    tab.wait_for_selector("#map-grid td.cell")
    tab.click("#table-view summary")
    tab.check("#show-segments")  # the bubbles' segments, with their legend
    for name in ("map, table view", "map, phone"):
        if name == "map, phone":
            tab.set_viewport_size({"width": 390, "height": 844})
        found = axe_findings(tab)
        if found:
            findings[name] = found
    context.close()
    assert findings == {}, findings


def test_cell_page_compares_subgroups(browser, page, demo) -> None:  # type: ignore[no-untyped-def]
    """The demo's 12-study cell (treaty ratification × physical integrity rights): the
    "Why do the studies differ?" section with its subgroup forest plot, a choice made through
    the form (no script needed: a GET parameter), and no serious axe-core finding."""
    from interchange.demo import TREATIES

    i = Intervention.objects.get(evidence_map=demo, name=TREATIES[0]).pk
    o = Outcome.objects.get(evidence_map=demo, name=TREATIES[1]).pk
    page.goto(f"{page.base}{MAP}cells/{i}/{o}/")
    expect(page.locator("#differ-heading")).to_have_text("Why do the studies differ?")
    page.wait_for_selector("#subgroup-plot svg.main-svg")
    # Designs with at least two studies: difference in differences (4), other quasi-experimental (3), matching (2).
    assert page.locator("#subgroup-plot .scatterlayer .point").count() == 3
    assert "Q = " in page.inner_text("#differ-text")
    assert page.locator("#subgroup-table tbody tr").count() == 6
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#differ").screenshot(path=str(ARTIFACTS / "cell-subgroups.png"))
    page.select_option("#differ-factor", "year")
    page.click(".differ-form button")
    page.wait_for_url(re.compile(r"differ=year"))
    assert "Each ten years later" in page.inner_text("#differ-text")

    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    tab = context.new_page()
    tab.goto(f"{page.base}{MAP}cells/{i}/{o}/?differ=design")
    tab.wait_for_selector("#subgroup-plot .main-svg")
    assert axe_findings(tab) == []
    context.close()
