"""The hostile-input corpus (tests/hostile.py) against every write path: the API, the admin's
forms and the importers (EPPI-Reviewer JSON, RIS, spreadsheets). Each value is refused with an
error naming the field, or stored harmlessly (as sent, and shown escaped), and the database is
otherwise unchanged."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from evidence.models import Code, CodeSet, EvidenceMap, Intervention, Outcome
from interchange.eppi.pipeline import import_eppi
from interchange.importing.run import ImportResult
from interchange.ris.pipeline import import_ris
from interchange.table.pipeline import import_table
from studies.models import AppraisalItem, EffectSize, Study
from tests import hostile
from tests.api.conftest import World
from tests.api.test_write import new_effect, new_study
from tests.interchange.eppi.conftest import TINY, outcome, reference, tiny_export
from tests.interchange.test_table import EFFECT, STUDY, small_framework, workbook
from tests.studies.test_admin import study_form

pytestmark = pytest.mark.django_db


def everything() -> list[Any]:
    models = (Study, EffectSize, AppraisalItem, EvidenceMap, Intervention, Outcome, CodeSet, Code,
              Study.history.model, EffectSize.history.model)
    return [list(m._default_manager.order_by("pk").values_list()) for m in models]


def cases(corpus: dict[str, Any], *fields: str) -> list[Any]:
    return [pytest.param(field, name, id=f"{field}-{name}") for field in fields for name in corpus]


def _markup_is_escaped(html: str) -> None:
    assert "<script>alert" not in html and "<img src=x" not in html


# --- The API ---


def _api_outcome(response: Any, field: str, before: list[Any]) -> str:
    """'refused' (a 4xx naming `field`, nothing written) or 'stored'."""
    if response.status_code in (200, 201):
        return "stored"
    assert 400 <= response.status_code < 500, response.content[:300]
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert any(name == field or name.startswith(f"{field}.") for name in error.get("fields", {})), error
    assert everything() == before
    return "refused"


def send(client: APIClient, method: str, url: str, body: Any) -> Any:
    """JSON in UTF-8, as a client library writes it; a lone surrogate, which UTF-8 cannot carry,
    travels as its escape (\\ud800)."""
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    text = re.sub(r"[\ud800-\udfff]", lambda found: f"\\u{ord(found.group()):04x}", text)
    return getattr(client, method)(url, text, content_type="application/json")


def _stored_text(value: Any, stored: Any) -> None:
    assert isinstance(value, str)
    assert stored == value


@pytest.mark.parametrize(("field", "name"), cases(hostile.TEXTS, "title", "abstract", "authors", "keywords"))
def test_api_study_text(reviewer_api: APIClient, world: World, field: str, name: str) -> None:
    value = hostile.TEXTS[name]
    before = everything()
    response = send(reviewer_api, "post", "/api/v1/studies/", new_study(world, **{field: value}))
    if _api_outcome(response, field, before) == "stored":
        study = Study.objects.get(pk=response.json()["id"])
        _stored_text(value, getattr(study, field))
        page = Client().get(study.get_absolute_url())
        assert page.status_code == 200
        _markup_is_escaped(page.content.decode())
    else:
        assert name in {"NUL character", "lone surrogate", "very long"}
    # The same value through PATCH.
    before = everything()
    response = send(reviewer_api, "patch", f"/api/v1/studies/{world.peru.pk}/", {field: value})
    _api_outcome(response, field, before)


@pytest.mark.parametrize(("field", "name"), cases(hostile.URLS, "url"))
def test_api_study_url(reviewer_api: APIClient, world: World, field: str, name: str) -> None:
    before = everything()
    response = send(reviewer_api, "post", "/api/v1/studies/", new_study(world, url=hostile.URLS[name]))
    if _api_outcome(response, field, before) == "stored":
        # Quotes and angle brackets are legal in a URL's path; the page writes them escaped.
        assert name == "markup in a URL"
        _markup_is_escaped(Client().get(Study.objects.get(pk=response.json()["id"]).get_absolute_url()).content.decode())


@pytest.mark.parametrize(("field", "name"), cases(hostile.NUMBERS, "year"))
def test_api_study_year(reviewer_api: APIClient, world: World, field: str, name: str) -> None:
    before = everything()
    response = send(reviewer_api, "post", "/api/v1/studies/", new_study(world, year=hostile.NUMBERS[name]))
    assert _api_outcome(response, field, before) == "refused"


@pytest.mark.parametrize(("field", "name"), cases(hostile.WRONG_TYPES, "title", "countries", "interventions"))
def test_api_study_wrong_types(reviewer_api: APIClient, world: World, field: str, name: str) -> None:
    before = everything()
    response = send(reviewer_api, "post", "/api/v1/studies/", new_study(world, **{field: hostile.WRONG_TYPES[name]}))
    if _api_outcome(response, field, before) == "stored":
        # A number sent for a title is the same text in JSON's eyes; nothing else may pass.
        assert (field, name) == ("title", "number")


@pytest.mark.parametrize(("field", "name"), cases(hostile.NUMBERS, "es_value", "es_se", "n_1"))
def test_api_effect_size_numbers(reviewer_api: APIClient, world: World, field: str, name: str) -> None:
    value = hostile.NUMBERS[name]
    body = new_effect(world, input_kind="es_se", es_value=0.2, es_se=0.1, mean_1=None, sd_1=None, n_1=None,
                      mean_2=None, sd_2=None, n_2=None)
    body[field] = value
    before = everything()
    response = send(reviewer_api, "post", "/api/v1/effect-sizes/", body)
    if _api_outcome(response, field, before) == "stored":
        effect = EffectSize.objects.get(pk=response.json()["id"])
        assert all(math.isfinite(v) for v in (effect.g, effect.var_g, effect.ci_low_g, effect.ci_high_g))
        assert abs(effect.g) <= 10 and 0 < effect.var_g <= 100
        assert (field, name) in {("es_value", "tiny"), ("es_value", "zero"), ("es_value", "negative zero")}


@pytest.mark.parametrize(("field", "name"), cases(hostile.TEXTS, "label", "notes"))
def test_api_effect_size_text(reviewer_api: APIClient, world: World, field: str, name: str) -> None:
    value = hostile.TEXTS[name]
    before = everything()
    response = send(reviewer_api, "post", "/api/v1/effect-sizes/", new_effect(world, **{field: value}))
    if _api_outcome(response, field, before) == "stored":
        _stored_text(value, getattr(EffectSize.objects.get(pk=response.json()["id"]), field))
        page = Client().get(f"/maps/{world.map.slug}/studies/{world.kenya.pk}/").content.decode()
        _markup_is_escaped(page)


def test_api_deep_nesting_and_unknown_fields(reviewer_api: APIClient, world: World) -> None:
    before = everything()
    nested = json.dumps(new_study(world, title="PLACE")).replace('"PLACE"', "[" * 10_000 + "]" * 10_000)
    response = send(reviewer_api, "post", "/api/v1/studies/", nested)
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"
    response = reviewer_api.post("/api/v1/studies/", new_study(world, g=0.5, titel="typo"), format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"g", "titel"}
    response = reviewer_api.patch(f"/api/v1/effect-sizes/{world.es_kenya.pk}/", {"var_g": 0.01}, format="json")
    assert response.status_code == 400 and set(response.json()["error"]["fields"]) == {"var_g"}
    assert everything() == before


# --- The admin's forms ---


def _admin_outcome(response: Any, field: str, before: list[Any], *, inline: bool = False) -> str:
    if response.status_code == 302:
        return "stored"
    assert response.status_code == 200
    if inline:
        errors = [e for formset in response.context["inline_admin_formsets"] for e in formset.formset.errors]
        assert any(field in e for e in errors), errors
    else:
        assert field in response.context["adminform"].form.errors, response.context["adminform"].form.errors
    assert everything() == before
    return "refused"


ADMIN_TEXTS = {k: v for k, v in hostile.TEXTS.items() if k != "lone surrogate"}  # a form post is UTF-8


@pytest.mark.parametrize(("field", "name"), cases(ADMIN_TEXTS, "title", "abstract") + cases(hostile.URLS, "url"))
def test_admin_study_form(admin_user: Any, world: World, field: str, name: str) -> None:
    value = {**hostile.TEXTS, **hostile.URLS}[name]
    client = Client()
    client.force_login(admin_user)
    before = everything()
    response = client.post(reverse("admin:studies_study_add"), study_form(world.map.pk, [], **{field: value}))
    if _admin_outcome(response, field, before) == "stored":
        study = Study.objects.latest("pk")
        _stored_text(value, getattr(study, field))
        assert field != "url" or name == "markup in a URL"  # legal in a URL's path; shown escaped
        page = client.get(study.get_absolute_url())  # a draft: the signed-in reviewer sees it
        assert page.status_code == 200
        _markup_is_escaped(page.content.decode())


@pytest.mark.parametrize(("field", "name"), cases(hostile.NUMBERS, "es_value", "es_se") + cases(ADMIN_TEXTS, "label"))
def test_admin_inline_effect_size(admin_user: Any, world: World, field: str, name: str) -> None:
    value = {**hostile.NUMBERS, **hostile.TEXTS}[name]
    effect = {"intervention": world.i_a.pk, "outcome": world.o_x.pk, "label": "L", "input_kind": "es_se",
              "es_value": "0.2", "es_se": "0.1", field: value if isinstance(value, str) else json.dumps(value)}
    client = Client()
    client.force_login(admin_user)
    before = everything()
    response = client.post(reverse("admin:studies_study_add"), study_form(world.map.pk, [effect]))
    if _admin_outcome(response, field, before, inline=True) == "stored":
        stored = EffectSize.objects.latest("pk")
        assert abs(stored.g) <= 10 and 0 < stored.var_g <= 100
        if field == "label":
            _stored_text(value, stored.label)


# --- The importers ---


def _import_outcome(result: ImportResult, field: str, before: list[Any]) -> str:
    if result.written:
        return "stored"
    assert result.refused
    errors = result.report.errors
    assert errors and all(e.record for e in errors)
    assert any(field in (e.field or "") for e in errors), [str(e) for e in errors]
    assert everything() == before
    return "refused"


def _stored_or_left_out(result: ImportResult, field: str, value: str, stored: str) -> None:
    """As sent; or, for a URL that is not http(s), left out with a note naming the field."""
    if stored == value:
        return
    assert stored == "" and field in ("URL", "UR"), (field, stored[:80])
    assert any(field in (p.field or "") and "left out" in p.message for p in result.report.problems)


IMPORT_TEXTS = {k: v for k, v in hostile.TEXTS.items() if k != "very long"} | {"long": "x" * 20_001}


@pytest.mark.parametrize(("field", "name"), cases(IMPORT_TEXTS, "Title", "Abstract") + cases(hostile.URLS, "URL"))
def test_eppi_reference_text(field: str, name: str) -> None:
    value = {**IMPORT_TEXTS, **hostile.URLS}[name]
    before = everything()
    data = json.dumps(tiny_export(references=[reference(**{field: value})])).encode()
    result = import_eppi(data, TINY, slug="hostile", user=None, title="Hostile", source_name="hostile.json")
    if _import_outcome(result, field, before) == "stored":
        study = Study.objects.get(evidence_map__slug="hostile")
        _stored_or_left_out(result, field, value, getattr(study, field.lower()))


@pytest.mark.parametrize("name", list(hostile.NUMBERS))
def test_eppi_outcome_numbers(name: str) -> None:
    value = hostile.NUMBERS[name]
    result_data = outcome(77, 0, {1: 0.2, 2: 0.1})  # a manual g (Data1) with its SE (Data2)
    result_data["Data1"] = value
    before = everything()
    data = json.dumps(tiny_export(references=[reference(outcomes=[result_data])])).encode()
    result = import_eppi(data, TINY, slug="hostile", user=None, title="Hostile", source_name="hostile.json")
    if result.written:
        for effect in EffectSize.objects.filter(study__evidence_map__slug="hostile"):
            assert abs(effect.g) <= 10 and 0 < effect.var_g <= 100
    else:
        assert any("Data1" in (e.field or "") and "77" in e.record for e in result.report.errors), [
            str(e) for e in result.report.errors]
        assert everything() == before


RIS_TAGS = {"TI": "title", "AB": "abstract", "UR": "url"}
RIS_TEXTS = {k: v.replace("\n", " ") for k, v in IMPORT_TEXTS.items() if k != "lone surrogate"}


@pytest.mark.parametrize(("field", "name"), cases(RIS_TEXTS, "TI", "AB") + cases(hostile.URLS, "UR"))
def test_ris_text(field: str, name: str) -> None:
    from tests.factories import EvidenceMapFactory

    EvidenceMapFactory(slug="hostile-ris")
    value = {**RIS_TEXTS, **hostile.URLS}[name]
    ris = {"TY": "JOUR", "TI": "A title", "PY": "2019", "AB": "An abstract", field: value}
    text = "".join(f"{tag}  - {v}\n" for tag, v in ris.items()) + "ER  - \n"
    before = everything()
    result = import_ris(text.encode("utf-8"), slug="hostile-ris", user=None)
    if _import_outcome(result, field, before) == "stored":
        study = Study.objects.get(evidence_map__slug="hostile-ris")
        _stored_or_left_out(result, field, value.strip(), getattr(study, RIS_TAGS[field]))


def test_ris_with_a_lone_surrogate_is_refused_as_not_utf8() -> None:
    from tests.factories import EvidenceMapFactory

    EvidenceMapFactory(slug="hostile-ris")
    before = everything()
    text = "TY  - JOUR\nTI  - broken \ud800 text\nER  - \n"
    result = import_ris(text.encode("utf-8", "surrogatepass"), slug="hostile-ris", user=None)
    assert result.refused and "UTF-8" in str(result.report.errors[0])
    assert everything() == before


SHEET_TEXTS = {k: v for k, v in IMPORT_TEXTS.items() if k not in {"lone surrogate", "NUL character", "control characters"}}


@pytest.mark.parametrize(("field", "name"), cases(SHEET_TEXTS, "Title", "Abstract") + cases(hostile.URLS, "URL"))
def test_spreadsheet_study_text(field: str, name: str) -> None:
    small_framework()
    value = {**SHEET_TEXTS, **hostile.URLS}[name]
    before = everything()
    result = import_table(workbook([{**STUDY, field: value}]), filename="map.xlsx", slug="tab", user=None)
    if _import_outcome(result, field, before) == "stored":
        _stored_or_left_out(result, field, value, getattr(Study.objects.get(evidence_map__slug="tab"), field.lower()))


@pytest.mark.parametrize("name", ["NUL character", "control characters", "markup", "long"])
def test_csv_study_text(name: str) -> None:
    small_framework()
    value = IMPORT_TEXTS[name]
    before = everything()
    csv = "Study ID,Title,Authors,Year,Design,Rows,Columns\r\n" f"S1,{value},Ngugi W,2019,RCT,Health,Growth\r\n"
    result = import_table(csv.encode(), filename="studies.csv", slug="tab", user=None)
    if _import_outcome(result, "Title", before) == "stored":
        assert Study.objects.get(evidence_map__slug="tab").title == value


@pytest.mark.parametrize("name", [n for n, v in hostile.NUMBERS.items() if not isinstance(v, list | dict | bool)])
def test_spreadsheet_effect_size_numbers(name: str) -> None:
    small_framework()
    value = hostile.NUMBERS[name]
    effect = {**EFFECT, "mean 1": value if isinstance(value, int | float) and abs(value) < 1e300 else str(value)}
    before = everything()
    result = import_table(workbook([STUDY], [effect]), filename="map.xlsx", slug="tab", user=None)
    if result.written:
        for stored in EffectSize.objects.filter(study__evidence_map__slug="tab"):
            assert abs(stored.g) <= 10 and 0 < stored.var_g <= 100
    else:
        assert any("mean 1" in str(e) for e in result.report.errors), [str(e) for e in result.report.errors]
        assert everything() == before
