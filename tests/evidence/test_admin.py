"""The admin of code sets: a map's code sets and its segmenting set, a code set's code tree
(parents searched in the same set), a study's codes (searched in its map), each rule on its
field, and every write audited and seen by the map's version."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from evidence.models import Code, CodeSet, EvidenceMap
from studies.models import Study
from tests.factories import EvidenceMapFactory, StudyFactory

pytestmark = pytest.mark.django_db


def form_data(response: Any) -> dict[str, Any]:
    """What the admin page would post back unchanged: the main form's values and each inline's
    management form and rows."""
    data: dict[str, Any] = {}

    def add(form: Any) -> None:
        for name in form.fields:
            value = form[name].value()
            if value is None:
                continue
            if isinstance(value, bool):
                if value:
                    data[form.add_prefix(name)] = "on"
                continue
            if isinstance(value, list | tuple):
                data[form.add_prefix(name)] = [str(v) for v in value]
            else:
                data[form.add_prefix(name)] = str(getattr(value, "pk", value))

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{name}"] = str(value)
        data[f"{formset.prefix}-TOTAL_FORMS"] = str(formset.initial_form_count())
        for form in formset.initial_forms:
            add(form)
    return data


def with_rows(data: dict[str, Any], prefix: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`data` with new inline rows appended."""
    start = int(data[f"{prefix}-TOTAL_FORMS"])
    for i, row in enumerate(rows, start=start):
        for key, value in row.items():
            data[f"{prefix}-{i}-{key}"] = value
    data[f"{prefix}-TOTAL_FORMS"] = str(start + len(rows))
    return data


def errors(response: Any) -> dict[str, list[str]]:
    """The field errors of the page's form and inlines, by field name."""
    assert response.status_code == 200, response
    found: dict[str, list[str]] = {}
    for name, messages in response.context["adminform"].form.errors.items():
        found.setdefault(name, []).extend(messages)
    for inline in response.context["inline_admin_formsets"]:
        for form in inline.formset.forms:
            for name, messages in form.errors.items():
                found.setdefault(name, []).extend(messages)
    return found


@pytest.fixture
def boss(client: Client, admin_user: Any) -> Client:
    client.force_login(admin_user)
    return client


@pytest.fixture
def evidence_map() -> EvidenceMap:
    evidence_map = EvidenceMapFactory(slug="m", title="M")
    setting = CodeSet.objects.create(evidence_map=evidence_map, name="Setting", slug="setting", is_filter=True)
    urban = Code.objects.create(code_set=setting, name="Urban")
    Code.objects.create(code_set=setting, name="Informal settlements", parent=urban)
    CodeSet.objects.create(evidence_map=evidence_map, name="Funding", slug="funding", position=1)
    return evidence_map


def versions_of(evidence_map: EvidenceMap) -> int:
    evidence_map.refresh_from_db(fields=["version"])
    return evidence_map.version


# --- The map: its code sets and the segmenting set -----------------------------------------------


def test_the_map_page_lists_its_code_sets_and_offers_only_them_for_segments(boss: Client, evidence_map: EvidenceMap) -> None:
    other = CodeSet.objects.create(evidence_map=EvidenceMapFactory(), name="Elsewhere", slug="elsewhere")
    url = reverse("admin:evidence_evidencemap_change", args=[evidence_map.pk])
    page = boss.get(url)
    segments = page.context["adminform"].form.fields["segment_code_set"]
    assert {c.name for c in segments.queryset} == {"Setting", "Funding"}
    inline = page.context["inline_admin_formsets"][0].formset
    assert [f.instance.name for f in inline.initial_forms] == ["Setting", "Funding"]

    data = form_data(page)
    data["segment_code_set"] = str(other.pk)
    assert "segment_code_set" in errors(boss.post(url, data))
    funding = CodeSet.objects.get(evidence_map=evidence_map, slug="funding")
    before = versions_of(evidence_map)
    data["segment_code_set"] = str(funding.pk)
    # ... and offer Funding as a filter, in the same save.
    # Names are per language (modeltranslation): the admin edits name_en and name_fr.
    funding_row = next(k for k, v in data.items() if k.endswith("-name_en") and v == "Funding")
    data[funding_row.replace("-name_en", "-is_filter")] = "on"
    assert boss.post(url, data).status_code == 302
    evidence_map.refresh_from_db()
    assert evidence_map.segment_code_set == funding
    assert CodeSet.objects.get(pk=funding.pk).is_filter
    assert versions_of(evidence_map) > before
    assert CodeSet.history.filter(id=funding.pk, history_type="~").exists()


def test_a_new_map_offers_no_code_set_for_segments(boss: Client, evidence_map: EvidenceMap) -> None:
    page = boss.get(reverse("admin:evidence_evidencemap_add"))
    assert list(page.context["adminform"].form.fields["segment_code_set"].queryset) == []


def test_a_reserved_slug_is_refused_on_its_field(boss: Client, evidence_map: EvidenceMap) -> None:
    url = reverse("admin:evidence_evidencemap_change", args=[evidence_map.pk])
    data = with_rows(form_data(boss.get(url)), "code_sets", [{"name_en": "Designs", "slug": "design", "position": "2"}])
    found = errors(boss.post(url, data))
    assert list(found) == ["slug"]
    assert "“design” is reserved" in found["slug"][0]
    assert not CodeSet.objects.filter(slug="design").exists()
    data["code_sets-2-slug"] = "designs"
    assert boss.post(url, data).status_code == 302
    assert CodeSet.objects.get(slug="designs").history.get().history_user.username == "boss"


# --- A code set: its code tree -------------------------------------------------------------------


def test_codes_are_edited_inline_with_parents_searched_in_the_same_set(boss: Client, evidence_map: EvidenceMap) -> None:
    setting = CodeSet.objects.get(evidence_map=evidence_map, slug="setting")
    urban = Code.objects.get(code_set=setting, name="Urban")
    url = reverse("admin:evidence_codeset_change", args=[setting.pk])
    page = boss.get(url)
    html = page.content.decode()
    # The parent box searches this set's codes only.
    assert f'data-ajax--url="/admin/autocomplete/?code_set={setting.pk}"' in html
    parent = page.context["inline_admin_formsets"][0].formset.forms[0].fields["parent"]
    assert {c.name for c in parent.queryset} == {"Urban", "Informal settlements"}

    before = versions_of(evidence_map)
    data = with_rows(form_data(page), "codes", [
        {"name_en": "Capital city", "parent": str(urban.pk), "position": "1"},
        {"name_en": "Rural", "position": "2"},
    ])
    assert boss.post(url, data).status_code == 302
    capital = Code.objects.get(code_set=setting, name="Capital city")
    assert capital.parent == urban
    assert capital.history.get().history_user.username == "boss"
    assert versions_of(evidence_map) > before

    # A parent from another set is refused on its field, and nothing is saved.
    funding = CodeSet.objects.get(evidence_map=evidence_map, slug="funding")
    public = Code.objects.create(code_set=funding, name="Public")
    data = with_rows(form_data(boss.get(url)), "codes", [{"name_en": "Orphan", "parent": str(public.pk), "position": "0"}])
    assert "parent" in errors(boss.post(url, data))
    assert not Code.objects.filter(name="Orphan").exists()


def test_the_autocomplete_keeps_to_its_set_or_map(boss: Client, evidence_map: EvidenceMap) -> None:
    setting = CodeSet.objects.get(evidence_map=evidence_map, slug="setting")
    funding = CodeSet.objects.get(evidence_map=evidence_map, slug="funding")
    Code.objects.create(code_set=funding, name="Urban development fund")
    elsewhere = CodeSet.objects.create(evidence_map=EvidenceMapFactory(), name="Setting", slug="setting")
    Code.objects.create(code_set=elsewhere, name="Urban, elsewhere")

    def search(**params: Any) -> list[str]:
        response = boss.get("/admin/autocomplete/", {"term": "urban", "app_label": "evidence", "model_name": "code",
                                                     **params})
        assert response.status_code == 200, response.content
        return sorted(r["text"] for r in response.json()["results"])

    parent = {"app_label": "evidence", "model_name": "code", "field_name": "parent"}
    assert search(**parent, code_set=setting.pk) == ["Setting: Urban"]
    assert len(search(**parent)) == 3
    codes = {"app_label": "studies", "model_name": "study", "field_name": "codes"}
    assert search(**codes, evidence_map=evidence_map.pk) == ["Funding: Urban development fund", "Setting: Urban"]


# --- A study's codes ---------------------------------------------------------------------------


def test_a_studys_codes_are_searched_in_its_map_and_checked(boss: Client, evidence_map: EvidenceMap) -> None:
    study = StudyFactory(evidence_map=evidence_map, title="Coded in the admin")
    urban = Code.objects.get(code_set__evidence_map=evidence_map, name="Urban")
    elsewhere = Code.objects.create(
        code_set=CodeSet.objects.create(evidence_map=EvidenceMapFactory(), name="Other", slug="other"), name="Far",
    )
    url = reverse("admin:studies_study_change", args=[study.pk])
    page = boss.get(url)
    assert f'data-ajax--url="/admin/autocomplete/?evidence_map={evidence_map.pk}"' in page.content.decode()
    codes = page.context["adminform"].form.fields["codes"]
    assert {c.name for c in codes.queryset} == {"Urban", "Informal settlements"}

    before = versions_of(evidence_map)
    data = form_data(page)
    data["codes"] = [str(urban.pk)]
    assert boss.post(url, data).status_code == 302
    assert list(Study.objects.get(pk=study.pk).codes.all()) == [urban]
    assert versions_of(evidence_map) > before
    assert [c.code for c in study.history.latest().codes.all()] == [urban]

    data["codes"] = [str(urban.pk), str(elsewhere.pk)]
    assert "codes" in errors(boss.post(url, data))
    assert list(Study.objects.get(pk=study.pk).codes.all()) == [urban]


def test_a_new_study_is_checked_against_the_map_it_is_given(boss: Client, evidence_map: EvidenceMap) -> None:
    other = EvidenceMapFactory(slug="other", title="Other")
    urban = Code.objects.get(code_set__evidence_map=evidence_map, name="Urban")
    add = reverse("admin:studies_study_add")
    page = boss.get(add, {"evidence_map": evidence_map.pk})
    assert f'data-ajax--url="/admin/autocomplete/?evidence_map={evidence_map.pk}"' in page.content.decode()
    data = form_data(page)
    data.update({"authors": "Okafor, N.", "year": "2019", "title": "New", "design": "rct", "status": "draft",
                 "evidence_map": str(other.pk), "codes": [str(urban.pk)]})
    found = errors(boss.post(add, data))
    assert list(found) == ["codes"]
    assert found["codes"] == ["Not codes of the map “Other”: Setting: Urban."]
    data["evidence_map"] = str(evidence_map.pk)
    assert boss.post(add, data).status_code == 302
    assert list(Study.objects.get(title="New").codes.all()) == [urban]
