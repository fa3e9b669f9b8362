"""The interface in French (README, "Languages"): the catalogues are complete, the pages keep no
English interface text, a map's own texts are translated per map and fall back to English,
and the API's error messages follow Accept-Language."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from evidence.models import CellSummary, Code, CodeSet, EvidenceMap, Intervention, Outcome
from evidence.stats.interpret import EFFECT_LABEL_PRESETS
from interchange.demo import DIPLOMACY, POLITICAL_SECURITY
from studies.models import (
    AppraisalCriterion,
    AppraisalRating,
    Confidence,
    EffectSize,
    Region,
    Study,
    StudyDesign,
)

LOCALE = Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES"
CATALOGUES = ("django", "djangojs")


@pytest.fixture(autouse=True)
def english_after() -> Iterator[None]:
    """A French request leaves French active in this thread; the next test starts in English."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


def catalogue(name: str) -> polib.POFile:
    return polib.pofile(str(LOCALE / f"{name}.po"))


# --- The catalogues -------------------------------------------------------------------------


@pytest.mark.parametrize("name", CATALOGUES)
def test_catalogue_is_complete_and_compiled(name: str) -> None:
    po = catalogue(name)
    assert len(po) > 50
    assert not po.metadata_is_fuzzy
    assert [e.msgid for e in po if "fuzzy" in e.flags] == []
    assert [e.msgid for e in po if not e.translated()] == []
    # The committed .mo is the .po compiled: nothing edited since.
    compiled = {(e.msgctxt, e.msgid): (e.msgstr, e.msgstr_plural) for e in polib.mofile(str(LOCALE / f"{name}.mo"))}
    written = {(e.msgctxt, e.msgid): (e.msgstr, e.msgstr_plural) for e in po if not e.obsolete}
    assert compiled == written, "run the compilemessages command in the README, section Languages"


def test_every_text_made_at_run_time_is_in_the_catalogue() -> None:
    """The labels the presets give, and the choices the pages show, are msgids (portal/i18n.py)."""
    msgids = {e.msgid for e in catalogue("django")}
    needed = {"No effect", "High confidence", "Medium confidence", "Low confidence"}
    for preset in EFFECT_LABEL_PRESETS.values():
        for band in preset.bands:
            needed |= {band, band.lower(), f"{band} effect", f"{band} negative effect"}
    for choices in (StudyDesign, Confidence, Region, AppraisalCriterion, AppraisalRating):
        needed |= {str(label) for label in choices.labels}
    js = {e.msgid for e in catalogue("djangojs")}
    bands = {band for preset in EFFECT_LABEL_PRESETS.values() for band in preset.bands}
    assert needed - msgids == set()
    assert bands - js == set()


# --- The pages, scanned -----------------------------------------------------------------------


SKIPPED = ("script", "style", "pre", "code")


class _Text(HTMLParser):
    """The text a reader meets: text nodes and accessible names; not scripts, styles or code
    (the methods page's R and Python examples are code, comments included)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED:
            self._skip += 1
        for name, value in attrs:
            if name in ("aria-label", "title", "alt") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " \n ".join(parser.parts)


def english_fragments() -> list[str]:
    """The English pieces of every message translated differently: the text between its
    placeholders and tags, of two words or more, or one word of five letters or more, and
    found in no French translation (so that shared words such as "Population" do not count)."""
    entries = [e for name in CATALOGUES for e in catalogue(name)]
    french = " ".join([e.msgstr for e in entries] + [s for e in entries for s in e.msgstr_plural.values()])
    found = set()
    for e in entries:
        for msgid, msgstr in [(e.msgid, e.msgstr), *((e.msgid_plural, e.msgstr_plural.get(1, "")) for _ in [0] if e.msgid_plural)]:
            if not msgid or msgid == msgstr:
                continue
            text = msgid.replace("%%", "%")
            for piece in re.split(r"%\(\w+\)s|%s|<[^>]+>|&\w+;|[():;,.…“”\"«»]", text):
                piece = piece.strip(" -–—'")
                words = piece.split()
                if (len(words) >= 2 or (len(words) == 1 and len(piece) >= 5)) and piece not in french:
                    found.add(piece)
    return sorted(found, key=len, reverse=True)


def map_texts(evidence_map: EvidenceMap) -> list[str]:
    """A map's data, English by nature (titles, authors, abstracts, the reviewers' notes), and
    its own texts as the active language shows them."""
    texts: list[str] = [evidence_map.title, evidence_map.description, evidence_map.search_dates]
    for study in Study.objects.filter(evidence_map=evidence_map):
        texts += [study.title, study.authors, study.source, study.abstract, study.population, study.short_citation]
    for es in EffectSize.objects.filter(study__evidence_map=evidence_map):
        texts += [es.label, es.conversion_note]
    for model in (Intervention, Outcome):
        for node in model.objects.filter(evidence_map=evidence_map):
            texts += [node.name, node.description]
    for code_set in CodeSet.objects.filter(evidence_map=evidence_map):
        texts += [code_set.name, code_set.description]
    for code in Code.objects.filter(code_set__evidence_map=evidence_map):
        texts += [code.name, code.description]
    for summary in CellSummary.objects.filter(evidence_map=evidence_map):
        texts += [getattr(summary, f) for f in (
            "headline", "short_summary", "about_intervention", "mechanism", "evidence_base", "findings",
            "confidence_assessment", "override_justification")]
    pieces = {line.strip() for text in texts if text for line in re.split(r"[\n*#_`]+", text)}
    return sorted((p for p in pieces if p), key=len, reverse=True)


def english_left(text: str, data: Iterable[str], fragments: Iterable[str]) -> list[str]:
    """The interface's English fragments still in `text`, once the map's own data is taken out."""
    for piece in data:
        text = text.replace(piece, " ")
        text = text.replace(piece[:1].lower() + piece[1:], " ")  # as a sentence quotes a name
    return [f for f in fragments if re.search(rf"(?<!\w){re.escape(f)}(?!\w)", text)]


@pytest.fixture
def french(demo_map) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    response = client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fr"
    return client


def demo_pages(demo_map: EvidenceMap) -> list[str]:
    with translation.override("en"):
        i = Intervention.objects.get(evidence_map=demo_map, name=DIPLOMACY).pk
        o = Outcome.objects.get(evidence_map=demo_map, name=POLITICAL_SECURITY).pk
    slug = {"slug": demo_map.slug}
    study = Study.objects.filter(evidence_map=demo_map, effect_sizes__isnull=False).first()
    assert study is not None
    cells = [reverse("portal:cell", kwargs={**slug, "intervention_id": i, "outcome_id": o})]
    # Every pooled cell of the demo (leave-one-out, trim-and-fill, subgroups ... as they come).
    for es in EffectSize.objects.filter(study__evidence_map=demo_map).values("intervention_id", "outcome_id").distinct():
        url = reverse("portal:cell", kwargs={**slug, "intervention_id": es["intervention_id"], "outcome_id": es["outcome_id"]})
        if url not in cells:
            cells.append(url)
    return [
        reverse("portal:home"),
        reverse("portal:map", kwargs=slug),
        reverse("portal:map", kwargs=slug) + "?year_min=2024&year_max=2010",  # the bad-filter page
        reverse("portal:methods", kwargs=slug),
        reverse("portal:study", kwargs={**slug, "pk": study.pk}),
        *cells,
        *[url + "?differ=" + factor for factor in ("region", "year", "confidence") for url in cells[:1]],
    ]


def test_french_pages_keep_no_english_interface_text(french, demo_map) -> None:  # type: ignore[no-untyped-def]
    fragments = english_fragments()
    assert "Confidence in study findings" in fragments and "Forest plot" in fragments
    with translation.override("fr"):
        data = map_texts(demo_map)
    for url in demo_pages(demo_map):
        response = french.get(url)
        assert response.status_code in (200, 400), url
        html = response.content.decode()
        assert '<html lang="fr">' in html, url
        left = english_left(visible_text(html), data, fragments)
        assert left == [], f"{url}: {left}"


def test_the_scan_finds_english(demo_map, client) -> None:  # type: ignore[no-untyped-def]
    """The same scan on the English pages finds the interface's text (it can fail)."""
    html = client.get(reverse("portal:methods", kwargs={"slug": demo_map.slug})).content.decode()
    assert '<html lang="en">' in html
    left = english_left(visible_text(html), map_texts(demo_map), english_fragments())
    assert "How this map was made" in left and "Pooling the effect sizes" in left


def test_map_data_speaks_french(french, demo_map) -> None:  # type: ignore[no-untyped-def]
    data = french.get(reverse("portal:map_data", kwargs={"slug": demo_map.slug})).json()
    labels = {c["label"] for c in data["cells"] if "label" in c}
    assert labels and all(label.startswith(("Effet", "Aucun effet")) for label in labels), labels
    assert data["designs"]["rct"] == "Essai contrôlé randomisé"
    assert any(c.get("confidence_text", "").startswith("Confiance") for c in data["cells"])
    english = Client().get(reverse("portal:map_data", kwargs={"slug": demo_map.slug})).json()
    assert english["designs"]["rct"] == "Randomised controlled trial"


def test_the_script_catalogue_is_served_in_french(french) -> None:  # type: ignore[no-untyped-def]
    response = french.get(reverse("javascript-catalog"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "Mise \\u00e0 jour de la carte\\u2026" in response.content.decode() or "Mise à jour de la carte…" in response.content.decode()


# --- A map's own texts ------------------------------------------------------------------------


def test_a_translated_name_shows_in_french_and_falls_back_to_english(french, demo_map) -> None:  # type: ignore[no-untyped-def]
    with translation.override("en"):  # a lookup by name reads the active language's column
        translated = Intervention.objects.get(evidence_map=demo_map, name=DIPLOMACY)
        untranslated = Outcome.objects.get(evidence_map=demo_map, name=POLITICAL_SECURITY)
    translated.name_fr = "Reconnaissance diplomatique et autres efforts diplomatiques"
    translated.save()
    assert untranslated.name_fr in (None, "")
    slug = demo_map.slug
    data = french.get(reverse("portal:map_data", kwargs={"slug": slug})).json()
    interventions = {n["id"]: n["name"] for n in data["interventions"]}
    outcomes = {n["id"]: n["name"] for n in data["outcomes"]}
    assert interventions[translated.pk] == "Reconnaissance diplomatique et autres efforts diplomatiques"
    assert outcomes[untranslated.pk] == POLITICAL_SECURITY  # no French: the original
    cell = reverse("portal:cell", kwargs={"slug": slug, "intervention_id": translated.pk, "outcome_id": untranslated.pk})
    page = french.get(cell).content.decode()
    assert "Reconnaissance diplomatique et autres efforts diplomatiques" in page
    assert POLITICAL_SECURITY.lower() in page or POLITICAL_SECURITY in page
    # The English interface keeps the original, and the history records the French name.
    english = Client().get(reverse("portal:map_data", kwargs={"slug": slug})).json()
    assert {n["id"]: n["name"] for n in english["interventions"]}[translated.pk] == DIPLOMACY
    assert translated.history.first().name_fr == "Reconnaissance diplomatique et autres efforts diplomatiques"


def test_the_admin_shows_a_field_per_language(admin_user, demo_map) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(admin_user)
    node = Intervention.objects.filter(evidence_map=demo_map).first()
    assert node is not None
    html = client.get(reverse("admin:evidence_intervention_change", args=[node.pk])).content.decode()
    assert 'name="name_en"' in html and 'name="name_fr"' in html


# --- Caches, the switcher and the API -----------------------------------------------------------


def test_kept_pages_are_kept_per_language(demo_map) -> None:  # type: ignore[no-untyped-def]
    url = reverse("portal:map", kwargs={"slug": demo_map.slug})
    english = Client().get(url)
    assert "Apply filters" in english.content.decode()
    assert "Accept-Language" in english["Vary"]
    for _ in range(2):  # the second is the reader cache's replay
        french = Client(HTTP_ACCEPT_LANGUAGE="fr").get(url)
        assert "Appliquer les filtres" in french.content.decode()
        assert french["Content-Language"] == "fr"
    assert "Apply filters" in Client().get(url).content.decode()


def test_the_switcher_works_without_script_and_keeps_urls(french, demo_map) -> None:  # type: ignore[no-untyped-def]
    url = reverse("portal:map", kwargs={"slug": demo_map.slug})
    html = french.get(url).content.decode()
    assert 'action="/i18n/setlang/"' in html and 'value="fr" lang="fr" selected' in html
    back = french.post(reverse("set_language"), {"language": "en", "next": url})
    assert back["Location"] == url
    assert '<html lang="en">' in french.get(url).content.decode()


def test_api_errors_follow_accept_language(demo_map) -> None:  # type: ignore[no-untyped-def]
    url = "/api/v1/maps/?page=abc"
    english = Client().get(url).json()["error"]
    french = Client(HTTP_ACCEPT_LANGUAGE="fr").get(url).json()["error"]
    assert english["code"] == french["code"] == "invalid_parameter"
    assert english["message"] == "Invalid parameter: page."
    assert french["message"] == "Paramètre invalide : page."
    missing = Client(HTTP_ACCEPT_LANGUAGE="fr").get("/api/v1/maps/no-such-map/").json()["error"]
    assert missing["code"] == "not_found" and missing["message"] != "Not found."
