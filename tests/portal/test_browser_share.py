"""In Debian's headless Chromium: the downloaded map file draws the map from disk with no
network under its own policy; the embed page is drawn inside a frame of an allowed origin and
refused by any other; the copy button; and axe-core on the embed page and the map's share panel."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.portal import test_browser as shared
from tests.portal.test_browser import (
    AXE,
    MAP,
    TIMEOUT,
    Console,
    axe_findings,
    example_ids,
    expect,
    open_map,
)

pytestmark = pytest.mark.browser

# The browser, the live demo and a page with its console checked, as the other browser tests have them.
browser, demo, page = shared.browser, shared.demo, shared.page

EMBED = MAP + "embed/"


def offline_tab(browser, requests: list[str]):  # type: ignore[no-untyped-def]
    """A tab with the network switched off and every request it tries written down."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    context.set_default_timeout(TIMEOUT)
    tab = context.new_page()
    console = Console()
    tab.on("console", lambda msg: console.errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: console.errors.append(f"uncaught: {exc}"))
    tab.on("request", lambda request: requests.append(request.url))
    tab.console = console
    return tab


def test_the_downloaded_file_draws_the_map_from_disk_offline(browser, page, demo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    open_map(page)
    page.check('input[name="design"][value="rct"]')
    page.wait_for_url(re.compile(r"\?design=rct$"))
    expect(page.locator("#export-html")).to_have_attribute("href", re.compile(r"/download\.html\?design=rct$"))
    with page.expect_download() as info:
        page.click("#export-html")
    assert re.fullmatch(r"human-rights-diplomacy-map-\d{4}-\d{2}-\d{2}\.html", info.value.suggested_filename)
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)

    requests: list[str] = []
    tab = offline_tab(browser, requests)
    tab.goto(saved.as_uri())
    tab.wait_for_selector("#map-grid td.cell")
    expect(tab.locator("#map-status")).to_have_text(re.compile(r"^1 study and \d+ effect sizes? that pass the filters"))
    assert "Filters: Study design: Randomised controlled trial." in tab.inner_text(".standalone-about")
    cells = tab.locator("#map-grid td.cell:not(.gap)")
    assert cells.count() >= 1
    label = cells.first.get_attribute("aria-label")
    assert "1 study" in label
    # Its cells link to the live portal, with the filters.
    href = cells.first.locator("a").get_attribute("href")
    assert href.startswith(page.base + MAP + "cells/") and href.endswith("?design=rct")
    assert "Number of studies" in tab.inner_text("#map-legend")
    # The view controls work from the file too.
    tab.check('input[name="colour"][value="confidence"]')
    expect(cells.first.locator(".cell-code")).to_have_text(re.compile(r"^(High|Med|Low|n/r)$"))
    tab.click("#table-view summary")
    assert tab.locator("#map-table tbody tr").count() == cells.count()
    assert [url for url in requests if not url.startswith("file://")] == []
    assert tab.console.errors == []
    tab.context.close()

    # Its policy is what lets it run: one changed character in the script and nothing runs.
    html = saved.read_text()
    tampered = tmp_path / "tampered.html"
    tampered.write_text(html.replace('"use strict";', '"use strict"; ', 1))
    tab = offline_tab(browser, [])
    tab.goto(tampered.as_uri())
    expect(tab.locator("#map-status")).to_have_text("Drawing the map…")
    assert tab.locator("#map-grid td").count() == 0
    assert any("Content Security Policy" in e for e in tab.console.errors), tab.console.errors
    tab.context.close()


class Parent(BaseHTTPRequestHandler):
    """A partner's page: the map's embed snippet and nothing else."""

    frame_url = ""

    def do_GET(self) -> None:
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Partner</title></head>'
            f'<body><h1>Partner page</h1><iframe src="{self.frame_url}" title="Evidence map" '
            'width="1000" height="700"></iframe></body></html>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def partners(live_server) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Two partner sites on two ports of this machine (two origins), framing the embed page."""
    handler = type("DemoParent", (Parent,), {"frame_url": live_server.url + EMBED})
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), handler) for _ in range(2)]
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    yield tuple(f"http://127.0.0.1:{server.server_address[1]}" for server in servers)  # type: ignore[misc]
    for server in servers:
        server.shutdown()
        server.server_close()


def framed(browser, url: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT)
    tab = context.new_page()
    messages: list[str] = []
    tab.on("console", lambda msg: messages.append(msg.text))
    tab.goto(url, wait_until="load")
    return tab, messages


def embed_frame(tab):  # type: ignore[no-untyped-def]
    frames = [frame for frame in tab.frames if frame != tab.main_frame]
    assert len(frames) == 1
    return frames[0]


def test_the_embed_page_is_drawn_in_an_allowed_frame_and_refused_by_others(browser, demo, partners) -> None:  # type: ignore[no-untyped-def]
    allowed, other = partners
    demo.embed_origins = allowed
    demo.full_clean()
    demo.save()

    tab, messages = framed(browser, allowed + "/")
    frame = tab.frame_locator("iframe")
    frame.locator("#map-grid td.cell").first.wait_for()
    expect(frame.locator("#map-status")).to_have_text(re.compile(r"^\d+ studies and \d+ effect sizes"))
    assert "Number of studies" in frame.locator("#map-legend").inner_text()
    assert frame.locator("#map-filters").count() == 0  # the grid only
    assert not [m for m in messages if "Refused" in m or "Content Security Policy" in m], messages
    # A cell opens on the portal in a new tab, not inside the partner's frame.
    i, o = example_ids(demo)
    with tab.context.expect_page() as opened:
        frame.locator(f'td[data-intervention="{i}"][data-outcome="{o}"] a').click()
    opened.value.wait_for_load_state()
    assert re.search(rf"{MAP}cells/{i}/{o}/$", opened.value.url)
    assert embed_frame(tab).url.endswith(EMBED)
    tab.context.close()

    # Another origin gets the browser's refusal, not the map.
    tab, messages = framed(browser, other + "/")
    assert embed_frame(tab).locator("#map-grid").count() == 0
    assert any("frame-ancestors" in m and allowed in m for m in messages), messages
    tab.context.close()

    # With no origin allowed, no one may frame it.
    demo.embed_origins = ""
    demo.save()
    tab, messages = framed(browser, allowed + "/")
    assert embed_frame(tab).locator("#map-grid").count() == 0
    assert any("frame-ancestors 'none'" in m or "X-Frame-Options" in m for m in messages), messages
    tab.context.close()


def test_the_embed_snippet_follows_the_filters_and_is_copied(browser, live_server, demo) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    tab = context.new_page()
    tab.goto(live_server.url + MAP)
    tab.wait_for_selector("#map-grid td.cell")
    tab.check('input[name="design"][value="rct"]')
    tab.wait_for_url(re.compile(r"\?design=rct$"))
    tab.click("#share-panel summary")
    snippet = tab.locator("#embed-snippet")
    expect(snippet).to_have_value(
        f'<iframe src="{live_server.url}{EMBED}?design=rct" title="Human rights diplomacy (demo): evidence map" '
        'width="100%" height="640" loading="lazy"></iframe>'
    )
    tab.click("#copy-embed")
    expect(tab.locator("#copy-status")).to_have_text(re.compile(r"^Copied"))
    assert tab.evaluate("navigator.clipboard.readText()") == snippet.input_value()
    context.close()


def test_the_share_pages_pass_axe(browser, live_server, demo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make install does)")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(TIMEOUT)
    tab = context.new_page()
    findings = {}
    tab.goto(live_server.url + EMBED)
    tab.wait_for_selector("#map-grid td.cell")
    findings["embed"] = axe_findings(tab)
    tab.goto(live_server.url + EMBED + "?design=rct")
    tab.wait_for_selector("#map-grid td.cell")
    findings["embed, filtered"] = axe_findings(tab)
    tab.goto(live_server.url + MAP)
    tab.wait_for_selector("#map-grid td.cell")
    tab.click("#share-panel summary")
    findings["map, share panel"] = axe_findings(tab)
    saved = Path(tmp_path) / "map.html"
    saved.write_bytes(tab.context.request.get(live_server.url + MAP + "download.html").body())
    tab.goto(saved.as_uri())
    tab.wait_for_selector("#map-grid td.cell")
    findings["downloaded file"] = axe_findings(tab)
    context.close()
    assert {name: found for name, found in findings.items() if found} == {}
