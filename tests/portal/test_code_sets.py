"""Code sets on the public pages and downloads: the filter form, the `code` filter on the map's
data, cell pages and exports, the segments in data.json, and clear errors for bad code ids."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse

from evidence.models import Code, CodeSet, EvidenceMap, Intervention, Outcome
from interchange.demo import DIPLOMACY, POLITICAL_SECURITY
from studies.models import Status, Study
from tests.factories import (
    EffectSizeFactory,
    EvidenceMapFactory,
    InterventionFactory,
    OutcomeFactory,
    StudyFactory,
)

pytestmark = pytest.mark.django_db

SLUG = "human-rights-diplomacy"


def code(demo_map: EvidenceMap, name: str) -> Code:
    return Code.objects.get(code_set__evidence_map=demo_map, name=name)


def data(client, **query):  # type: ignore[no-untyped-def]
    response = client.get(reverse("portal:map_data", kwargs={"slug": SLUG}), query)
    assert response.status_code == 200, response.content
    return response.json()


def published_with(demo_map: EvidenceMap, *names: str) -> set[int]:
    """Published studies coded with each of the named codes or a code below it."""
    ids = None
    for name in names:
        top = code(demo_map, name)
        below = {top.pk, *Code.objects.filter(parent=top).values_list("pk", flat=True)}
        found = set(Study.objects.filter(evidence_map=demo_map, status=Status.PUBLISHED, codes__in=below)
                    .values_list("pk", flat=True))
        ids = found if ids is None else ids & found
    return ids or set()


# --- The filter form ---------------------------------------------------------------------------


def test_the_form_offers_each_filter_code_set_as_a_tree(client, demo_map):  # type: ignore[no-untyped-def]
    conflict = code(demo_map, "Conflict-affected")
    war = code(demo_map, "Active armed conflict")
    html = client.get(reverse("portal:map", kwargs={"slug": SLUG}), {"code": war.pk}).content.decode()
    # Setting is offered as a filter: a fieldset of nested checkboxes, all named "code".
    fieldset = re.search(r'<fieldset class="code-tree" id="filter-code-setting".*?</fieldset>', html, re.S)
    assert fieldset is not None
    tree = fieldset.group(0)
    assert "<legend>Setting</legend>" in tree
    assert f'name="code" value="{war.pk}" checked' in tree
    assert f'name="code" value="{conflict.pk}">' in tree
    # The child's list is inside its parent's item.
    assert re.search(rf'value="{conflict.pk}">[^<]*Conflict-affected</label>\s*<ul class="option-tree">', tree)
    # Population group segments the bubbles but is not offered as a filter.
    assert "filter-code-population-group" not in html
    # It segments by default; the sets offered as filters may segment too.
    assert '<option value="population-group" selected>Population group</option>' in html
    assert '<option value="setting">Setting</option>' in html


def test_a_map_without_filter_code_sets_shows_no_code_control(client):  # type: ignore[no-untyped-def]
    evidence_map = EvidenceMapFactory()
    CodeSet.objects.create(evidence_map=evidence_map, name="Hidden", slug="hidden")
    html = client.get(reverse("portal:map", kwargs={"slug": evidence_map.slug})).content.decode()
    assert 'name="code"' not in html
    assert '<option value="design" selected>Study design</option>' in html
    assert 'value="hidden"' not in html  # not offered: no segments by it either


# --- Filtering the map, its cells and the downloads -------------------------------------------


def test_data_json_filters_by_codes(client, demo_map):  # type: ignore[no-untyped-def]
    conflict = code(demo_map, "Conflict-affected")
    democracy = code(demo_map, "Electoral democracy")
    women = code(demo_map, "Women and girls")
    everything = data(client)
    # A code includes its descendants: the draft in active conflict is never counted.
    in_conflict = data(client, code=conflict.pk)
    assert in_conflict["totals"]["studies"] == len(published_with(demo_map, "Conflict-affected")) == 2
    assert in_conflict["query"] == f"code={conflict.pk}" and in_conflict["filtered"] is True
    # Two codes of one set: either; codes of two sets: both.
    either = data(client, code=f"{conflict.pk},{democracy.pk}")
    assert either["totals"]["studies"] == len(published_with(demo_map, "Conflict-affected") |
                                               published_with(demo_map, "Electoral democracy"))
    both = data(client, code=[democracy.pk, women.pk])
    assert both["totals"]["studies"] == len(published_with(demo_map, "Electoral democracy", "Women and girls")) == 2
    assert 0 < both["totals"]["studies"] < either["totals"]["studies"] < everything["totals"]["studies"]
    assert both["urls"]["studies_csv"].endswith(f"studies.csv?code={min(democracy.pk, women.pk)}&code={max(democracy.pk, women.pk)}")


def test_cell_page_and_its_download_honour_the_code_filter(client, demo_map):  # type: ignore[no-untyped-def]
    row = Intervention.objects.get(evidence_map=demo_map, name=DIPLOMACY)
    column = Outcome.objects.get(evidence_map=demo_map, name=POLITICAL_SECURITY)
    url = reverse("portal:cell", kwargs={"slug": SLUG, "intervention_id": row.pk, "outcome_id": column.pk})
    prisoners = code(demo_map, "People at particular risk")  # Myrick's prisoners, not Kahn-Nisser's population
    page = client.get(url, {"code": prisoners.pk}).content.decode()
    assert "Myrick (2021)" in page and "Kahn-Nisser (2018)" not in page
    assert f"?code={prisoners.pk}" in page  # the links keep the filter
    rows = list(csv.DictReader(io.StringIO(client.get(url + "effect-sizes.csv", {"code": prisoners.pk}).content.decode())))
    assert {r["study_label"] for r in rows} == {"Myrick (2021)"} and len(rows) == 2
    assert len(list(csv.DictReader(io.StringIO(client.get(url + "effect-sizes.csv").content.decode())))) == 4


def test_studies_csv_has_a_column_per_code_set_and_follows_the_code_filter(client, demo_map):  # type: ignore[no-untyped-def]
    women = code(demo_map, "Women and girls")
    response = client.get(reverse("interchange:studies_csv", kwargs={"slug": SLUG}), {"code": women.pk})
    reader = csv.DictReader(io.StringIO(response.content.decode()))
    rows = list(reader)
    assert reader.fieldnames[-2:] == ["setting", "population-group"]
    assert len(rows) == len(published_with(demo_map, "Women and girls")) == 4
    myrick = next(r for r in rows if r["authors"] == "Myrick, R.")
    assert myrick["setting"] == "Authoritarian regime"
    assert sorted(myrick["population-group"].split("|")) == ["Political prisoners and detainees", "Women and girls"]
    everything = list(csv.DictReader(io.StringIO(
        client.get(reverse("interchange:studies_csv", kwargs={"slug": SLUG})).content.decode())))
    assert any(r["population-group"] == "" for r in everything)  # studies without a code of the set


def test_ris_follows_the_code_filter(client, demo_map):  # type: ignore[no-untyped-def]
    war = code(demo_map, "Active armed conflict")
    body = client.get(reverse("interchange:studies_ris", kwargs={"slug": SLUG}), {"code": war.pk}).content.decode()
    assert body.count("ER  - ") == 1  # the published study in active conflict (the draft is not shown)
    assert "AU  - Demo-Beta, A." in body


@pytest.mark.parametrize(
    ("value", "message"),
    [("setting", "&#x27;setting&#x27; is not a code id"), ("999999", "unknown code id(s) 999999")],
)
def test_a_bad_code_is_a_clear_400_everywhere(client, demo_map, value, message):  # type: ignore[no-untyped-def]
    row = Intervention.objects.get(evidence_map=demo_map, name=DIPLOMACY)
    column = Outcome.objects.get(evidence_map=demo_map, name=POLITICAL_SECURITY)
    plain = message.replace("&#x27;", "'")
    page = client.get(reverse("portal:map", kwargs={"slug": SLUG}), {"code": value})
    assert page.status_code == 400 and message in page.content.decode()
    bad = client.get(reverse("portal:map_data", kwargs={"slug": SLUG}), {"code": value})
    assert bad.status_code == 400 and bad.json()["field"] == "code" and plain in bad.json()["error"]
    cell = client.get(reverse("portal:cell", kwargs={"slug": SLUG, "intervention_id": row.pk, "outcome_id": column.pk}),
                      {"code": value})
    assert cell.status_code == 400 and message in cell.content.decode()
    for name in ("studies_csv", "studies_ris"):
        download = client.get(reverse(f"interchange:{name}", kwargs={"slug": SLUG}), {"code": value})
        assert download.status_code == 400 and download.content.decode().startswith(f"code: {plain}")


def test_a_code_of_another_map_is_refused(client, demo_map):  # type: ignore[no-untyped-def]
    other = EvidenceMapFactory()
    foreign = Code.objects.create(code_set=CodeSet.objects.create(evidence_map=other, name="S", slug="s"), name="X")
    response = client.get(reverse("portal:map_data", kwargs={"slug": SLUG}), {"code": foreign.pk})
    assert response.status_code == 400
    assert response.json() == {
        "error": f"unknown code id(s) {foreign.pk}: not codes of this map's code sets "
                 "(/api/v1/maps/<slug>/code-sets/ lists them).",
        "field": "code",
    }


# --- Segments ---------------------------------------------------------------------------------


def test_data_json_gives_segment_counts_once_defined(client, demo_map):  # type: ignore[no-untyped-def]
    row = Intervention.objects.get(evidence_map=demo_map, name=DIPLOMACY)
    column = Outcome.objects.get(evidence_map=demo_map, name=POLITICAL_SECURITY)
    body = data(client)
    segments = body["segments"]
    assert segments["title"] == "Population group"
    assert [c["name"] for c in segments["codes"]] == [
        "People at particular risk", "Women and girls", "Ethnic and religious minorities", "General population",
    ]
    assert segments["uncoded"] == "Not coded"
    cells = {(c["i"], c["o"]): c for c in body["cells"]}
    # Kahn-Nisser: general population; Myrick: prisoners (at risk) and women.
    assert cells[(row.pk, column.pk)]["seg"] == [1, 1, 0, 1]
    assert cells[(row.pk, column.pk)]["designs"] == {"mixed": 1, "other_qed": 1}  # still there for the tooltip
    for cell in body["cells"]:
        counts = cell["seg"]
        assert len(counts) <= len(segments["codes"]) + 1 and (not counts or counts[-1] > 0)
        # Every study counts at least once; a study in two segments counts twice.
        assert sum(counts) >= cell["studies"]
    # Studies without a population group are "not coded": the last count.
    treaties = Intervention.objects.get(evidence_map=demo_map, name="Human rights treaty ratification")
    integrity = Outcome.objects.get(evidence_map=demo_map, name="Physical integrity rights")
    assert cells[(treaties.pk, integrity.pk)]["seg"] == [1, 1, 3, 5, 2]


def test_without_a_segmenting_code_set_data_json_is_as_before(client, demo_map):  # type: ignore[no-untyped-def]
    EvidenceMap.objects.filter(pk=demo_map.pk).update(segment_code_set=None, version=demo_map.version + 1)
    body = data(client)
    assert body["segments"] is None
    assert all("seg" not in cell for cell in body["cells"])
    html = client.get(reverse("portal:map", kwargs={"slug": SLUG})).content.decode()
    assert '<option value="design" selected>Study design</option>' in html


def build_segmented_map(n_studies: int) -> EvidenceMap:
    evidence_map = EvidenceMapFactory()
    code_set = CodeSet.objects.create(evidence_map=evidence_map, name="Group", slug="group", is_filter=True)
    top = [Code.objects.create(code_set=code_set, name=f"Group {k}", position=k) for k in range(3)]
    below = [Code.objects.create(code_set=code_set, name=f"Subgroup {k}", parent=top[k]) for k in range(3)]
    evidence_map.segment_code_set = code_set
    evidence_map.save()
    row, col = InterventionFactory(evidence_map=evidence_map), OutcomeFactory(evidence_map=evidence_map)
    for n in range(n_studies):
        study = StudyFactory(evidence_map=evidence_map)
        study.codes.set([below[n % 3]] if n % 4 else [])
        EffectSizeFactory(study=study, intervention=row, outcome=col, es_value=0.1 + 0.01 * n)
    return evidence_map


# data.json with a segmenting code set: the 10 queries of tests/portal/test_pages.py (the reader
# cache's version and release look-up first, then the release look-up), then 11 the set's codes
# (with its name) and 12 its codings; a code filter adds 13 the check of the ids and 14 the code
# sets' trees.
@pytest.mark.parametrize("n_studies", [4, 40])
def test_segmented_data_json_runs_a_fixed_number_of_queries(client, django_assert_num_queries, n_studies):  # type: ignore[no-untyped-def]
    evidence_map = build_segmented_map(n_studies)
    url = reverse("portal:map_data", kwargs={"slug": evidence_map.slug})
    with django_assert_num_queries(12):
        body = client.get(url).json()
    uncoded = len(range(0, n_studies, 4))
    # Study n has Subgroup n % 3, unless n % 4 == 0: then no code (n = 0, 4, 8 mod 12 for the groups).
    in_group = [len(range(k, n_studies, 3)) - len(range(4 * k, n_studies, 12)) for k in range(3)]
    assert body["cells"][0]["seg"] == [*in_group, uncoded]
    group = Code.objects.get(code_set__evidence_map=evidence_map, name="Group 1")
    with django_assert_num_queries(14):
        body = client.get(url, {"code": group.pk}).json()
    assert body["totals"]["studies"] == body["cells"][0]["seg"][1] == in_group[1]


def test_the_study_page_lists_its_codes_by_code_set(client, demo_map):  # type: ignore[no-untyped-def]
    study = Study.objects.get(evidence_map=demo_map, external_id="demo-myrick-2021")
    html = client.get(reverse("portal:study", kwargs={"slug": SLUG, "pk": study.pk})).content.decode()
    assert "<dt>Setting</dt><dd>Authoritarian regime</dd>" in html
    assert "<dt>Population group</dt><dd>Political prisoners and detainees; Women and girls</dd>" in html
