"""The public pages through Django's test client: content, drafts, filters, exports, queries, CSP."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from evidence.models import Intervention, Outcome
from interchange.demo import DIPLOMACY, POLITICAL_SECURITY
from studies.models import EffectSize, Status, Study
from tests.factories import (
    EffectSizeFactory,
    EvidenceMapFactory,
    InterventionFactory,
    OutcomeFactory,
    StudyFactory,
)

pytestmark = pytest.mark.django_db

SLUG = "human-rights-diplomacy"


def example_cell(demo_map):  # type: ignore[no-untyped-def]
    intervention = Intervention.objects.get(evidence_map=demo_map, name=DIPLOMACY)
    outcome = Outcome.objects.get(evidence_map=demo_map, name=POLITICAL_SECURITY)
    return intervention, outcome


def cell_url(demo_map, intervention, outcome, suffix: str = "") -> str:  # type: ignore[no-untyped-def]
    kwargs = {"slug": demo_map.slug, "intervention_id": intervention.pk, "outcome_id": outcome.pk}
    return reverse("portal:cell", kwargs=kwargs) + suffix


# --- map and its data -----------------------------------------------------------------------


def test_map_page_is_a_shell_for_the_script(client, demo_map):  # type: ignore[no-untyped-def]
    response = client.get(reverse("portal:map", kwargs={"slug": SLUG}))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="map-grid"' in html
    assert 'data-data-url="/maps/human-rights-diplomacy/data.json"' in html
    assert "js/map.js" in html
    # A native ES module (deferred by default), which loads its parts from js/map/.
    assert '<script type="module" src="/static/portal/js/map.js"></script>' in html
    assert 'name="design" value="rct"' in html


def test_map_page_keeps_filters_from_the_url(client, demo_map):  # type: ignore[no-untyped-def]
    response = client.get(reverse("portal:map", kwargs={"slug": SLUG}), {"region": "Africa", "q": "aid"})
    html = response.content.decode()
    assert 'value="Africa" checked' in html
    assert 'name="q" value="aid"' in html
    assert "studies.csv?region=Africa&amp;q=aid" in html


def test_map_data_has_every_cell_with_its_pooled_effect(client, demo_map):  # type: ignore[no-untyped-def]
    intervention, outcome = example_cell(demo_map)
    data = client.get(reverse("portal:map_data", kwargs={"slug": SLUG})).json()
    assert data["totals"] == {"studies": 24, "effects": 27}
    cells = {(c["i"], c["o"]): c for c in data["cells"]}
    cell = cells[(intervention.pk, outcome.pk)]
    assert cell["studies"] == 2 and cell["effects"] == 4
    assert cell["g"] == pytest.approx(0.139, abs=5e-4)
    assert cell["label"] == "Moderate effect"
    assert cell["confidence"] == "low"
    assert cell["designs"] == {"mixed": 1, "other_qed": 1}
    # The aggregate cell of both categories holds every study coded beneath them.
    assert (intervention.parent_id, outcome.parent_id) in cells
    assert [n["name"] for n in data["interventions"]][:2] == ["Diplomatic engagement", DIPLOMACY]
    assert data["cell_url"] == "/maps/human-rights-diplomacy/cells/{i}/{o}/"


def test_filters_recompute_the_cells_and_come_back_in_the_links(client, demo_map):  # type: ignore[no-untyped-def]
    intervention, outcome = example_cell(demo_map)
    data = client.get(reverse("portal:map_data", kwargs={"slug": SLUG}), {"design": "mixed,other_qed"}).json()
    assert data["query"] == "design=mixed&design=other_qed"
    assert data["filtered"] is True
    assert data["urls"]["page"] == "/maps/human-rights-diplomacy/?design=mixed&design=other_qed"
    assert data["urls"]["studies_csv"].endswith("studies.csv?design=mixed&design=other_qed")
    cells = {(c["i"], c["o"]): c for c in data["cells"]}
    assert cells[(intervention.pk, outcome.pk)]["studies"] == 2
    only_rct = client.get(reverse("portal:map_data", kwargs={"slug": SLUG}), {"design": "rct"}).json()
    assert (intervention.pk, outcome.pk) not in {(c["i"], c["o"]) for c in only_rct["cells"]}
    assert only_rct["totals"]["studies"] == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"design": "astrology"}, "unknown value(s) astrology"),
        ({"year_min": "soon"}, "is not a year"),
        ({"year_min": "2020", "year_max": "2010"}, "is after year_max"),
        ({"country": "XX"}, "unknown value(s) XX"),
    ],
)
def test_a_bad_filter_is_a_clear_400(client, demo_map, query, message):  # type: ignore[no-untyped-def]
    page = client.get(reverse("portal:map", kwargs={"slug": SLUG}), query)
    assert page.status_code == 400
    assert message in page.content.decode()
    assert "Show it without filters" in page.content.decode()
    data = client.get(reverse("portal:map_data", kwargs={"slug": SLUG}), query)
    assert data.status_code == 400
    assert message in data.json()["error"]
    intervention, outcome = example_cell(demo_map)
    cell = client.get(cell_url(demo_map, intervention, outcome), query)
    assert cell.status_code == 400
    assert message in cell.content.decode()


# --- the cell page -------------------------------------------------------------------------


def test_example_cell_page(client, demo_map):  # type: ignore[no-untyped-def]
    intervention, outcome = example_cell(demo_map)
    response = client.get(cell_url(demo_map, intervention, outcome))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Effect of diplomatic recognition and other diplomatic efforts on political security" in html
    assert "Moderate effect (g = 0.139)" in html
    assert "Low confidence (2 studies; 4 ES)" in html
    assert "limited number of studies (2 &lt; 3)" in html
    assert "Geographical region</dt><dd>Global" in html
    for heading in (
        "Short summary", "The intervention", "How the intervention is expected to work",
        "The evidence base", "Evidence findings", "Confidence assessment", "Included studies (2)",
        "Other outcomes in these studies",
    ):
        assert heading in html
    assert "Kahn-Nisser (2018)" in html and "Myrick (2021)" in html
    assert "Algeria" in html  # countries by name
    assert "τ²" in html and "I²" in html and "(df = 3," in html
    assert "CR2" in html
    # The plot data is a JSON block, not a script.
    match = re.search(r'<script id="forest-data" type="application/json">(.*?)</script>', html, re.S)
    assert match
    forest = json.loads(match.group(1))
    assert len(forest["rows"]) == 4
    assert forest["pooled"]["g"] == pytest.approx(0.139, abs=5e-4)
    assert forest["funnel"] is False  # 4 effect sizes: below the map's minimum for Egger's test
    assert 'id="funnel-plot"' not in html
    assert "effect-sizes.csv" in html


def test_cell_with_many_effect_sizes_shows_a_funnel_plot(client, demo_map):  # type: ignore[no-untyped-def]
    intervention = Intervention.objects.get(evidence_map=demo_map, name="Human rights treaty ratification")
    outcome = Outcome.objects.get(evidence_map=demo_map, name="Physical integrity rights")
    html = client.get(cell_url(demo_map, intervention, outcome)).content.decode()
    assert 'id="funnel-plot"' in html
    assert "Egger&#x27;s test for small-study effects: p " in html


def test_cell_with_studies_but_no_effect_sizes(client, demo_map):  # type: ignore[no-untyped-def]
    intervention = Intervention.objects.get(evidence_map=demo_map, name="National human rights institutions")
    outcome = Outcome.objects.get(evidence_map=demo_map, name="Rule of law")
    html = client.get(cell_url(demo_map, intervention, outcome)).content.decode()
    assert "No pooled effect: these studies report no effect sizes" in html
    assert "Included studies (1)" in html
    assert "forest-data" not in html


def test_gap_cell_and_cells_of_other_maps(client, demo_map):  # type: ignore[no-untyped-def]
    intervention = Intervention.objects.get(evidence_map=demo_map, name="Human rights education")
    outcome = Outcome.objects.get(evidence_map=demo_map, name="Rule of law")
    html = client.get(cell_url(demo_map, intervention, outcome)).content.decode()
    assert "this is a gap in the evidence" in html
    other = OutcomeFactory()
    assert client.get(cell_url(demo_map, intervention, other)).status_code == 404


def test_cell_page_honours_the_filters(client, demo_map):  # type: ignore[no-untyped-def]
    intervention, outcome = example_cell(demo_map)
    html = client.get(cell_url(demo_map, intervention, outcome), {"design": "mixed"}).content.decode()
    assert "Included studies (1)" in html
    assert "Myrick (2021)" in html and "Kahn-Nisser (2018)" not in html
    assert "could not be pooled" in html  # one study's effect sizes are not pooled
    assert "?design=mixed" in html  # links back to the filtered map


def test_aggregate_cell_of_two_categories(client, demo_map):  # type: ignore[no-untyped-def]
    intervention, outcome = example_cell(demo_map)
    html = client.get(cell_url(demo_map, intervention.parent, outcome.parent)).content.decode()
    assert "Effect of diplomatic engagement on security and rights" in html
    assert "Kahn-Nisser (2018)" in html and "Demo-Alpha" in html


# --- drafts --------------------------------------------------------------------------------


def test_drafts_are_never_shown(client, demo_map):  # type: ignore[no-untyped-def]
    draft = Study.objects.get(evidence_map=demo_map, status=Status.DRAFT)
    assert client.get(reverse("portal:study", kwargs={"slug": SLUG, "pk": draft.pk})).status_code == 404
    data = client.get(reverse("portal:map_data", kwargs={"slug": SLUG})).json()
    assert data["totals"]["studies"] == Study.objects.filter(evidence_map=demo_map, status=Status.PUBLISHED).count()
    exported = client.get(reverse("interchange:studies_csv", kwargs={"slug": SLUG})).content.decode()
    assert "draft, not yet published" not in exported
    assert draft.title not in client.get(reverse("interchange:studies_ris", kwargs={"slug": SLUG})).content.decode()
    intervention = Intervention.objects.get(evidence_map=demo_map, name="Funding for human rights defenders")
    outcome = Outcome.objects.get(evidence_map=demo_map, name="Political imprisonment")
    assert "Included studies (2)" in client.get(cell_url(demo_map, intervention, outcome)).content.decode()


def test_unpublished_maps_are_not_found(client):  # type: ignore[no-untyped-def]
    hidden = EvidenceMapFactory(is_published=False)
    for name in ("portal:map", "portal:map_data", "portal:methods", "interchange:studies_csv",
                 "interchange:studies_ris"):
        assert client.get(reverse(name, kwargs={"slug": hidden.slug})).status_code == 404
    study = StudyFactory(evidence_map=hidden)
    assert client.get(reverse("portal:study", kwargs={"slug": hidden.slug, "pk": study.pk})).status_code == 404


# --- study and methods pages ---------------------------------------------------------------


def test_study_page_shows_coding_and_every_effect_size_input(client, demo_map):  # type: ignore[no-untyped-def]
    study = Study.objects.get(evidence_map=demo_map, external_id="demo-myrick-2021")
    html = client.get(reverse("portal:study", kwargs={"slug": SLUG, "pk": study.pk})).content.decode()
    assert study.title in html
    assert "Myanmar" in html and "Mixed methods" in html and "High" in html
    assert "Odds ratio with confidence interval" in html
    assert "1.58" in html and "CI low = 1.17" in html
    es = study.effect_sizes.first()
    assert es.conversion_note and es.conversion_note.split(";")[0] in html
    assert f"{es.g:.3f}" in html


def test_study_page_shows_the_appraisal_items(client, demo_map):  # type: ignore[no-untyped-def]
    from studies.models import AppraisalItem

    study = Study.objects.get(evidence_map=demo_map, external_id="demo-kahn-nisser-2018")
    AppraisalItem.objects.create(study=study, criterion="attrition", rating="partly", note="Two countries drop out.")
    html = client.get(reverse("portal:study", kwargs={"slug": SLUG, "pk": study.pk})).content.decode()
    assert "Attrition and missing data are low or handled" in html
    assert "Partly" in html and "Two countries drop out." in html


def test_methods_page_in_plain_words(client, demo_map):  # type: ignore[no-untyped-def]
    html = client.get(reverse("portal:methods", kwargs={"slug": SLUG})).content.decode()
    assert "January 2000 to June 2024" in html
    assert "<li>Quantitative or mixed-methods evaluations" in html
    assert "ρ = 0.8" in html and "CR2" in html and "Satterthwaite" in html
    assert "Restricted maximum likelihood (REML)" in html
    assert "Cells with fewer than 3 studies are rated low confidence." in html
    assert "Kraft" in html or "Moderate" in html
    # How to refit a cell from the API: the R and Python examples, pointing at this map's cells.
    assert f"http://testserver/api/v1/maps/{SLUG}/cells/INTERVENTION_ID/OUTCOME_ID/" in html
    assert "reproduce_cell" in html and "rma.mv(" in html and "coef_test(" in html and "np.linalg.inv" in html


# --- exports -------------------------------------------------------------------------------


def test_studies_csv_export_follows_the_filters(client, demo_map):  # type: ignore[no-untyped-def]
    response = client.get(reverse("interchange:studies_csv", kwargs={"slug": SLUG}), {"design": "mixed,other_qed"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    # The API's vocabulary: codes with their labels alongside, several values joined by "|".
    assert {(r["design"], r["design_label"]) for r in rows} == {
        ("mixed", "Mixed methods"), ("other_qed", "Other quasi-experimental"),
    }
    myrick = next(r for r in rows if r["authors"] == "Myrick, R.")
    assert myrick["year"] == "2021"
    assert myrick["intervention_labels"] == DIPLOMACY
    assert "MM" in myrick["countries"].split("|")
    assert myrick["region"] == "Global"


def test_ris_export(client, demo_map):  # type: ignore[no-untyped-def]
    body = client.get(reverse("interchange:studies_ris", kwargs={"slug": SLUG}), {"q": "Freethe20"}).content.decode()
    records = [r for r in body.split("ER  - ") if r.strip()]
    assert len(records) == 1
    lines = body.splitlines()
    assert lines[0] == "TY  - JOUR"
    assert "AU  - Myrick, R." in lines
    assert "PY  - 2021" in lines
    assert any(line.startswith("TI  - Public and private diplomacy") for line in lines)
    assert "T2  - Peer-reviewed journal article" in lines
    assert any(line.startswith("UR  - http://testserver/maps/human-rights-diplomacy/studies/") for line in lines)
    assert any(line.startswith("AB  - Studies a United States campaign") for line in lines)
    assert lines[-2] == "ER  - " or lines[-1] == "ER  - "


def test_cell_effect_sizes_csv(client, demo_map):  # type: ignore[no-untyped-def]
    intervention, outcome = example_cell(demo_map)
    response = client.get(cell_url(demo_map, intervention, outcome, "effect-sizes.csv"))
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 4
    assert {r["study_label"] for r in rows} == {"Kahn-Nisser (2018)", "Myrick (2021)"}
    odds = next(r for r in rows if r["input_kind_label"] == "Odds ratio with confidence interval")
    assert float(odds["ratio"]) > 1
    assert float(odds["g"]) > 0 and float(odds["ci_low_g"]) < float(odds["g"]) < float(odds["ci_high_g"])
    # Full precision, and the variance: the same numbers as the API's.
    effect = EffectSize.objects.get(pk=odds["id"])
    assert (float(odds["g"]), float(odds["var_g"]), float(odds["ci_low_g"])) == (effect.g, effect.var_g, effect.ci_low_g)


def test_csv_cells_never_start_a_formula(client):  # type: ignore[no-untyped-def]
    evidence_map = EvidenceMapFactory()
    StudyFactory(evidence_map=evidence_map, title="=HYPERLINK(1)")
    body = client.get(reverse("interchange:studies_csv", kwargs={"slug": evidence_map.slug})).content.decode()
    assert "'=HYPERLINK(1)" in body


# --- a fixed number of queries, whatever the map's size -------------------------------------


def build_map(n_studies: int):  # type: ignore[no-untyped-def]
    """A map with one category per axis and n studies (every third with two effect sizes)."""
    evidence_map = EvidenceMapFactory()
    parent_i = InterventionFactory(evidence_map=evidence_map)
    parent_o = OutcomeFactory(evidence_map=evidence_map)
    rows = [InterventionFactory(evidence_map=evidence_map, parent=parent_i) for _ in range(2)]
    cols = [OutcomeFactory(evidence_map=evidence_map, parent=parent_o) for _ in range(2)]
    for n in range(n_studies):
        study = StudyFactory(evidence_map=evidence_map, population=f"Group {n % 3}")
        for k in range(1 + (n % 3 == 0)):
            EffectSizeFactory(
                study=study, intervention=rows[n % 2], outcome=cols[(n // 2) % 2],
                es_value=0.1 + 0.01 * n + 0.05 * k, es_se=0.1 + 0.002 * n,
            )
    return evidence_map, rows[0], cols[0]


# map_data: 1 the published map's version and latest release (portal.middleware, which then finds
# nothing kept), 2 the map's latest release (portal.releases: none, so the working copy), 3 the
# map, 4 interventions, 5 outcomes, 6 the filtered studies, 7 their intervention codes, 8 their
# outcome codes, 9 their effect sizes, 10 the confidence overrides of cell summaries.
MAP_DATA_QUERIES = 10
# cell page (not kept by the middleware): map_data's 2 to 10, then the cell's studies, its effect
# sizes (with study, row and column joined), the outcomes those studies are coded with, the
# cell's summary, and for "why do the studies differ?" (a pooled cell) the code sets offered as filters (this
# map has none, so no query for their codes) and the studies' characteristics.
CELL_PAGE_QUERIES = 15


@pytest.mark.parametrize("n_studies", [3, 30])
def test_map_data_runs_a_fixed_number_of_queries(client, django_assert_num_queries, n_studies):  # type: ignore[no-untyped-def]
    evidence_map, _, _ = build_map(n_studies)
    url = reverse("portal:map_data", kwargs={"slug": evidence_map.slug})
    with django_assert_num_queries(MAP_DATA_QUERIES):
        data = client.get(url, {"population": ["Group 0", "Group 1", "Group 2"]}).json()
    assert data["totals"]["studies"] == n_studies


@pytest.mark.parametrize("n_studies", [5, 30])  # the cell holds 2 and 8 studies: pooled
def test_cell_page_runs_a_fixed_number_of_queries(client, django_assert_num_queries, n_studies):  # type: ignore[no-untyped-def]
    evidence_map, row, col = build_map(n_studies)
    with django_assert_num_queries(CELL_PAGE_QUERIES):
        response = client.get(cell_url(evidence_map, row, col))
    assert response.status_code == 200
    assert "Included studies (" in response.content.decode()


def test_a_cell_of_equal_variances_still_shows(client):  # type: ignore[no-untyped-def]
    evidence_map = EvidenceMapFactory()
    row, col = InterventionFactory(evidence_map=evidence_map), OutcomeFactory(evidence_map=evidence_map)
    for n in range(10):
        study = StudyFactory(evidence_map=evidence_map)
        EffectSizeFactory(study=study, intervention=row, outcome=col, es_value=0.1 * n, es_se=0.1)
    assert client.get(reverse("portal:map_data", kwargs={"slug": evidence_map.slug})).status_code == 200


# --- Content-Security-Policy and markup ----------------------------------------------------


def test_pages_send_a_strict_content_security_policy(client, demo_map):  # type: ignore[no-untyped-def]
    intervention, outcome = example_cell(demo_map)
    for url in (reverse("portal:home"), reverse("portal:map", kwargs={"slug": SLUG}),
                cell_url(demo_map, intervention, outcome)):
        policy = client.get(url)["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "style-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert "object-src 'none'" in policy


def test_the_api_keeps_its_own_headers(client, demo_map):  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/")
    assert "Content-Security-Policy" not in response.headers


def test_markdown_is_sanitised(client, demo_map):  # type: ignore[no-untyped-def]
    demo_map.description = 'Hello <script>alert(1)</script> [x](javascript:alert(1)) <b onclick="x()">b</b> **bold**'
    demo_map.save()
    html = client.get(reverse("portal:map", kwargs={"slug": SLUG})).content.decode()
    intro = html.split('class="map-intro"')[1].split("</div>")[0]
    assert "<script" not in intro and "javascript:" not in intro and "onclick" not in intro
    assert "<strong>bold</strong>" in intro


BASE = Path(settings.BASE_DIR)
TEMPLATE_DIRS = [BASE / "portal" / "templates", BASE / "portal" / "static", BASE / "api" / "templates"]
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\s(?:src=|type=\"application/json\"))[^>]*>", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STYLE_ELEMENT = re.compile(r"<style\b", re.I)


def our_markup() -> list[Path]:
    return sorted(p for d in TEMPLATE_DIRS for p in d.rglob("*.html"))


# The downloaded map file (portal/standalone.py) is the one page with an inline script and
# style: exactly these two blocks, which its own policy allows by their hashes (test_share.py).
HASHED_BLOCKS = {"standalone.html": ("<script>{{ script|safe }}</script>", "<style>{{ style|safe }}</style>")}


def test_templates_have_no_inline_script_style_or_handlers() -> None:
    files = our_markup()
    assert any(p.name == "cell.html" for p in files)
    problems = []
    for path in files:
        text = path.read_text()
        for block in HASHED_BLOCKS.get(path.name, ()):
            assert text.count(block) == 1, (path, block)
            text = text.replace(block, "")
        for name, pattern in (
            ("inline <script>", INLINE_SCRIPT), ("style attribute", STYLE_ATTRIBUTE),
            ("event handler attribute", EVENT_HANDLER), ("<style> element", STYLE_ELEMENT),
        ):
            problems += [f"{path}: {name}: {m.group(0)[:80]}" for m in pattern.finditer(text)]
    assert problems == []


def test_the_scan_finds_what_it_looks_for() -> None:
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/js/map.js" defer></script>')
    assert not INLINE_SCRIPT.search('<script id="x" type="application/json">{}</script>')
    assert STYLE_ATTRIBUTE.search('<div class="a" style="color:red">')
    assert EVENT_HANDLER.search('<button onclick="go()">')
    assert not EVENT_HANDLER.search('<button data-one="1">')


def test_our_scripts_set_no_inline_styles() -> None:
    scripts = sorted((BASE / "portal" / "static").rglob("*.js"))
    assert any(p.name == "map.js" for p in scripts)
    for path in scripts:
        text = path.read_text()
        assert 'setAttribute("style"' not in text and "cssText" not in text and "innerHTML" not in text, path
        assert "eval(" not in text and "new Function" not in text, path


def test_the_api_documentation_page_has_the_same_policy(client, demo_map):  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == client.get(reverse("portal:home"))["Content-Security-Policy"]
    assert "<style" not in response.content.decode()


def test_reviewers_see_drafts_marked_as_such(client, demo_map, reviewer):  # type: ignore[no-untyped-def]
    draft = Study.objects.get(evidence_map=demo_map, status=Status.DRAFT)
    url = reverse("portal:study", kwargs={"slug": SLUG, "pk": draft.pk})
    assert client.get(url).status_code == 404
    client.force_login(reviewer)
    page = client.get(url)
    assert page.status_code == 200 and "Draft: only reviewers see this study." in page.content.decode()
    hidden = EvidenceMapFactory(is_published=False)
    map_page = client.get(reverse("portal:map", kwargs={"slug": hidden.slug})).content.decode()
    assert "Draft map: only reviewers see it." in map_page


def test_a_big_cell_is_paged_and_stays_small(client):  # type: ignore[no-untyped-def]
    evidence_map = EvidenceMapFactory(slug="big-cell")
    row = InterventionFactory(evidence_map=evidence_map)
    col = OutcomeFactory(evidence_map=evidence_map)
    for n in range(120):
        study = StudyFactory(evidence_map=evidence_map, title=f"Study number {n}", abstract="A long abstract. " * 40)
        for k in range(2):
            EffectSizeFactory(study=study, intervention=row, outcome=col, es_value=0.1 + n / 1000 + k / 100)
    url = reverse("portal:cell", kwargs={"slug": "big-cell", "intervention_id": row.pk, "outcome_id": col.pk})
    first = client.get(url)
    html = first.content.decode()
    assert first.status_code == 200
    assert "Included studies (120)" in html
    assert html.count('class="study-card"') == 50
    assert "Studies 1 to 50 of 120." in html and 'rel="next"' in html
    forest = json.loads(re.search(r'id="forest-data" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert len(forest["rows"]) == 100  # the effect sizes of this page's 50 studies
    assert len(forest["points"]) == 240 and forest["funnel"] is True  # the funnel has them all
    last = client.get(url, {"page": 3}).content.decode()
    assert last.count('class="study-card"') == 20 and "Studies 101 to 120 of 120." in last
    # Filters are kept in the page links.
    filtered = client.get(url, {"design": "rct"}).content.decode()
    assert "?design=rct&amp;page=2" in filtered
