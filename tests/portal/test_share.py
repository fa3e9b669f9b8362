"""Sharing a map: the embed page and who may frame it, the offline HTML file with its own
policy, the map's linked script, and the map setting that lists the allowed origins."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.urls import reverse

from config.middleware import CONTENT_SECURITY_POLICY
from evidence.models import EvidenceMap, embed_origin
from portal.standalone import ModuleSyntaxError, csp_hash, link_modules
from tests.evidence.test_admin import errors, form_data
from tests.portal.test_pages import SLUG, cell_url, example_cell

pytestmark = pytest.mark.django_db

EMBED = f"/maps/{SLUG}/embed/"
DOWNLOAD = f"/maps/{SLUG}/download.html"


def allow(evidence_map: EvidenceMap, *origins: str) -> None:
    evidence_map.embed_origins = "\n".join(origins)
    evidence_map.full_clean()
    evidence_map.save()


def directives(policy: str) -> dict[str, str]:
    return {part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2] for part in policy.split(";")}


# --- Who may frame what ----------------------------------------------------------------------------


def test_the_embed_page_is_framed_by_no_one_until_the_map_allows_origins(client: Client, demo_map: Any) -> None:
    response = client.get(EMBED)
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert directives(response["Content-Security-Policy"])["frame-ancestors"] == "'none'"


def test_the_embed_page_is_framed_by_exactly_the_allowed_origins(client: Client, demo_map: Any) -> None:
    allow(demo_map, "https://partner.example.org", "HTTPS://News.Example.COM:8443/", "https://partner.example.org")
    response = client.get(EMBED)
    assert "X-Frame-Options" not in response
    policy = response["Content-Security-Policy"]
    found = directives(policy)
    assert found["frame-ancestors"] == "https://partner.example.org https://news.example.com:8443"
    # Everything else is the portal's strict policy, word for word.
    assert {k: v for k, v in found.items() if k != "frame-ancestors"} == {
        k: v for k, v in directives(CONTENT_SECURITY_POLICY).items() if k != "frame-ancestors"
    }
    assert "unsafe-inline" not in policy
    # Its answer to a bad filter is not for framing either.
    refused = client.get(EMBED + "?year_min=soon")
    assert refused.status_code == 400
    assert refused["X-Frame-Options"] == "DENY"
    assert directives(refused["Content-Security-Policy"])["frame-ancestors"] == "'none'"


def test_every_other_page_stays_unframeable(client: Client, demo_map: Any) -> None:
    allow(demo_map, "https://partner.example.org")
    intervention, outcome = example_cell(demo_map)
    for url in (reverse("portal:home"), reverse("portal:map", kwargs={"slug": SLUG}),
                cell_url(demo_map, intervention, outcome), f"/maps/{SLUG}/methods/", DOWNLOAD):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["X-Frame-Options"] == "DENY", url
        assert directives(response["Content-Security-Policy"])["frame-ancestors"] == "'none'", url


def test_the_embed_page_carries_the_filtered_map_and_its_script(client: Client, demo_map: Any) -> None:
    html = client.get(EMBED + "?design=rct").content.decode()
    data = json.loads(re.search(r'<script id="map-data" type="application/json">(.*?)</script>', html, re.S)[1])
    assert data["query"] == "design=rct"
    assert data["totals"]["studies"] == 1
    assert data == json.loads(client.get(f"/maps/{SLUG}/data.json?design=rct").content)
    assert re.search(r'<script type="module" src="/static/portal/js/map\.js"></script>', html)
    assert "Filters: Study design: Randomised" in html
    assert '<base target="_blank">' in html
    assert client.get(EMBED + "?year_min=soon").status_code == 400


def test_a_draft_maps_embed_page_and_file_are_not_for_anonymous_readers(client: Client, demo_map: Any) -> None:
    EvidenceMap.objects.filter(pk=demo_map.pk).update(is_published=False)
    assert client.get(EMBED).status_code == 404
    assert client.get(DOWNLOAD).status_code == 404


# --- The allowed origins: validated, kept canonical, edited in the admin with history --------------


@pytest.mark.parametrize(("text", "origin"), [
    ("https://partner.example.org", "https://partner.example.org"),
    (" https://Partner.Example.org/ ", "https://partner.example.org"),
    ("https://partner.example.org:8443", "https://partner.example.org:8443"),
    ("http://localhost:8080", "http://localhost:8080"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("http://partner.example.org", None),  # only the reader's own machine may use plain http
    ("https://partner.example.org/page", None),
    ("https://partner.example.org/?x=1", None),
    ("https://user@partner.example.org", None),
    ("https://*.example.org", None),
    ("ftp://partner.example.org", None),
    ("partner.example.org", None),
    ("https://partner.example.org; script-src *", None),
    ("'self'", None),
])
def test_an_embed_origin_is_a_scheme_a_host_and_a_port_only(text: str, origin: str | None) -> None:
    assert embed_origin(text) == origin


def test_bad_origins_are_refused_on_their_field_by_line(demo_map: Any) -> None:
    demo_map.embed_origins = "https://ok.example.org\n\nhttp://plain.example.org\nhttps://x.example.org/path"
    with pytest.raises(ValidationError) as raised:
        demo_map.full_clean()
    message = raised.value.message_dict["embed_origins"][0]
    assert "Line 3: “http://plain.example.org” is not a web origin" in message
    assert "line 4: “https://x.example.org/path”" in message
    assert "line 1" not in message


def test_the_admin_edits_the_origins_with_history(client: Client, admin_user: Any, demo_map: Any) -> None:
    client.force_login(admin_user)
    url = reverse("admin:evidence_evidencemap_change", args=[demo_map.pk])
    data = form_data(client.get(url))
    data["embed_origins"] = "https://partner.example.org/path"
    assert list(errors(client.post(url, data))) == ["embed_origins"]
    data["embed_origins"] = "https://Partner.example.org/\r\nhttps://news.example.com"
    assert client.post(url, data).status_code == 302
    demo_map.refresh_from_db()
    assert demo_map.embed_origins == "https://partner.example.org\nhttps://news.example.com"
    latest = demo_map.history.latest()
    assert latest.embed_origins == demo_map.embed_origins
    assert latest.history_user.username == admin_user.username
    assert latest.prev_record.embed_origins == ""


# --- The map page offers both ----------------------------------------------------------------------


def test_the_map_page_offers_the_file_and_the_embed_snippet(client: Client, demo_map: Any) -> None:
    html = client.get(f"/maps/{SLUG}/?design=rct&design=mixed").content.decode()
    assert f'<a id="export-html" href="{DOWNLOAD}?design=rct&amp;design=mixed" download>' in html
    snippet = re.search(r'<textarea id="embed-snippet"[^>]*>(.*?)</textarea>', html, re.S)[1]
    # Escaped twice: once as the snippet's HTML, once as the textarea's text.
    assert snippet == (
        f'&lt;iframe src=&quot;http://testserver{EMBED}?design=rct&amp;amp;design=mixed&quot; '
        "title=&quot;Human rights diplomacy: evidence map&quot; width=&quot;100%&quot; height=&quot;640&quot; "
        'loading=&quot;lazy&quot;&gt;&lt;/iframe&gt;'
    ).replace("Human rights diplomacy", demo_map.title)
    assert '<button type="button" id="copy-embed" hidden>' in html
    data = client.get(f"/maps/{SLUG}/data.json?design=rct").json()
    assert data["urls"]["download"] == f"{DOWNLOAD}?design=rct"
    assert data["urls"]["embed"] == f"{EMBED}?design=rct"


# --- The offline file --------------------------------------------------------------------------------


class Blocks(HTMLParser):
    """The file's inline scripts and styles (their exact text), its meta policy and its links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self.policy: str | None = None
        self.references: list[tuple[str, dict[str, str | None]]] = []
        self._open: tuple[str, dict[str, str | None]] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "meta" and (found.get("http-equiv") or "").lower() == "content-security-policy":
            self.policy = found["content"]
        if tag in ("script", "style"):
            self._open, self._text = (tag, found), []
        if tag in ("script", "link", "img", "iframe", "object", "embed") and ("src" in found or tag == "link"):
            self.references.append((tag, found))

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag == self._open[0]:
            text = "".join(self._text)
            if tag == "script":
                self.scripts.append((self._open[1], text))
            else:
                self.styles.append(text)
            self._open = None


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_file_allows_exactly_what_it_carries(client: Client, demo_map: Any) -> None:
    response = client.get(DOWNLOAD + "?design=rct&design=mixed")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    disposition = response["Content-Disposition"]
    assert re.fullmatch(rf'attachment; filename="{SLUG}-map-\d{{4}}-\d{{2}}-\d{{2}}\.html"', disposition)
    html = response.content.decode()
    blocks = Blocks()
    blocks.feed(html)

    code = [text for attrs, text in blocks.scripts if attrs.get("type") != "application/json"]
    data_blocks = [text for attrs, text in blocks.scripts if attrs.get("type") == "application/json"]
    assert len(code) == 1 and len(blocks.styles) == 1 and len(data_blocks) == 1
    assert blocks.policy is not None
    policy = directives(blocks.policy)
    assert policy["script-src"] == sha256(code[0]) == csp_hash(code[0])
    assert policy["style-src"] == sha256(blocks.styles[0])
    assert policy["default-src"] == "'none'"
    assert "unsafe" not in blocks.policy and "'self'" not in blocks.policy
    # Nothing is loaded from anywhere: the only link is the empty icon.
    assert blocks.references == [("link", {"rel": "icon", "href": "data:,"})]
    # The policy comes before anything it governs.
    assert html.index("Content-Security-Policy") < html.index("<style>") < html.index("<script>")

    # The map's own script and styles, not a copy of them.
    assert code[0] == link_modules()
    assert blocks.styles[0] == (Path(__file__).parents[2] / "portal/static/portal/css/portal.css").read_text()

    # The filtered map's data, with links that work from a file.
    data = json.loads(data_blocks[0])
    served = client.get(f"/maps/{SLUG}/data.json?design=rct&design=mixed").json()
    assert data["cells"] == served["cells"] and data["query"] == served["query"] == "design=rct&design=mixed"
    assert data["cell_url"] == "http://testserver" + served["cell_url"]
    assert data["urls"]["page"] == f"http://testserver/maps/{SLUG}/?design=rct&design=mixed"

    # It names the map, the filters, the date and the live page.
    assert f"<h1>{demo_map.title}</h1>" in html
    assert "Filters: Study design: Randomised controlled trial, Mixed methods." in html
    assert re.search(r"as it was on \d{1,2} \w+ \d{4}, \d{2}:\d{2} UTC", html)
    assert f'<a href="http://testserver/maps/{SLUG}/?design=rct&amp;design=mixed">' in html


def test_the_file_names_every_kind_of_filter_or_none(client: Client, demo_map: Any) -> None:
    html = client.get(DOWNLOAD).content.decode()
    assert "Filters: none (every published study of the map)." in html
    html = client.get(DOWNLOAD + "?year_min=2010&has_effects=yes&q=treaty").content.decode()
    named = set(html.split("<p>Filters: ")[1].split(".</p>")[0].split("; "))
    assert {"Published from: 2010", "Has effect sizes: Yes"} < named
    assert len(named) == 3 and any(part.endswith(": treaty") for part in named)


# --- The linked script ------------------------------------------------------------------------------


def test_the_linked_script_has_every_module_once_in_import_order() -> None:
    script = link_modules()
    order = re.findall(r"^// (portal/js/\S+\.js)$", script, re.M)
    js = Path(__file__).parents[2] / "portal/static/portal/js"
    expected = {"portal/js/map.js"} | {f"portal/js/map/{p.name}" for p in (js / "map").glob("*.js")}
    assert set(order) == expected and len(order) == len(expected)
    assert order[-1] == "portal/js/map.js"
    assert order.index("portal/js/map/dom.js") < order.index("portal/js/map/grid.js")
    assert order.index("portal/js/map/segments.js") < order.index("portal/js/map/state.js")
    assert not re.search(r"^\s*(import|export)\b", script, re.M)


def write_modules(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize(("files", "message"), [
    ({"t/a.js": 'import b from "./b.js";\n'}, "t/a.js, line 1: only `import { names }"),
    ({"t/a.js": "const x = 1;\nexport default x;\n"}, "t/a.js, line 2: only `export` before"),
    ({"t/a.js": "export { x };\n"}, "t/a.js, line 1"),
    ({"t/a.js": "export let x = 1;\n"}, "t/a.js, line 1"),
    ({"t/a.js": 'const m = await import("./b.js");\n'}, "dynamic import()"),
    ({"t/a.js": 'import { b } from "./b.js";\nexport const a = 1;\n',
      "t/b.js": 'import { a } from "./a.js";\nexport const b = 2;\n'}, "Circular imports cannot be linked: t/a.js → t/b.js → t/a.js"),
    ({"t/a.js": 'import { c } from "./b.js";\n', "t/b.js": "export const b = 2;\n"}, "t/a.js imports c, which t/b.js does not export"),
])
def test_the_linker_refuses_what_it_cannot_link(tmp_path: Path, files: dict[str, str], message: str) -> None:
    write_modules(tmp_path, files)
    with override_settings(STATICFILES_DIRS=[tmp_path]), pytest.raises(ModuleSyntaxError, match=re.escape(message)):
        link_modules("t/a.js")


def test_the_linker_renames_imports_and_keeps_modules_apart(tmp_path: Path) -> None:
    write_modules(tmp_path, {
        "t/a.js": 'import { twice as double, name } from "./lib/b.js";\nconst name2 = name;\nexport function run() { return double(2) + name2; }\n',
        "t/lib/b.js": 'export const name = "b";\nconst hidden = 2;\nexport function twice(n) { return n * hidden; }\n',
    })
    with override_settings(STATICFILES_DIRS=[tmp_path]):
        script = link_modules("t/a.js")
    assert "const { twice: double, name } = module0;" in script
    assert "return { name, twice };" in script and "return { run };" in script
