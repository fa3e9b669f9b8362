"""Spreadsheet import (import_table) and the whole map as a workbook (export_table, the download):
the template, defects named by sheet, row and column, all or nothing, dry run, idempotence,
encodings, a column mapping for a Covidence export, and the round trip."""

from __future__ import annotations

import io
import math
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse
from openpyxl import load_workbook

from evidence.models import Code, CodeSet, EvidenceMap, Intervention, Outcome
from evidence.synthesis import map_evidence
from interchange.generate import generate_map
from interchange.table.export import map_workbook, map_workbook_data
from interchange.table.layout import (
    CODES,
    EFFECT_SIZES,
    INPUT_KINDS_SHEET,
    SHEETS,
    STUDIES,
    new_workbook,
    template,
    workbook_bytes,
)
from interchange.table.pipeline import import_table
from studies.effect_sizes.registry import INPUT_FIELDS, INPUT_KIND_SPECS
from studies.models import EffectSize, Status, Study
from tests.factories import EvidenceMapFactory, InterventionFactory, OutcomeFactory, StudyFactory

pytestmark = pytest.mark.django_db

# Sees what a superuser sees, drafts of every map included.
STAFF = get_user_model()(is_superuser=True, is_active=True)


def workbook(studies: list[dict[str, Any]], effects: list[dict[str, Any]] = (), codes: list[dict[str, Any]] = ()) -> bytes:  # type: ignore[assignment]
    """A workbook in the template's layout, lines given by header."""
    wb = new_workbook()
    for sheet, lines in ((STUDIES, studies), (EFFECT_SIZES, effects), (CODES, codes)):
        for line in lines:
            wb[sheet.name].append([line.get(header, "") for header in sheet.headers])
    return workbook_bytes(wb)


def small_framework(slug: str = "tab") -> EvidenceMap:
    evidence_map = EvidenceMapFactory(slug=slug)
    health = InterventionFactory(evidence_map=evidence_map, name="Health")
    InterventionFactory(evidence_map=evidence_map, name="Nutrition", parent=health)
    OutcomeFactory(evidence_map=evidence_map, name="Growth")
    code_set = CodeSet.objects.create(evidence_map=evidence_map, name="Setting", slug="setting")
    Code.objects.create(code_set=code_set, name="Rural")
    return evidence_map


STUDY = {"Study ID": "S1", "Authors": "Ngugi W; Otieno P", "Year": 2019, "Title": "School meals in Kisumu",
         "Countries": "Kenya", "Design": "Randomised controlled trial", "Status": "Published",
         "Rows": "Health > Nutrition", "Columns": "Growth"}
EFFECT = {"Study ID": "S1", "Effect size ID": "E1", "Row": "Health > Nutrition", "Column": "Growth",
          "Label": "Height for age", "Input kind": "means", "mean 1": 1.2, "SD 1": 0.5, "n 1": 40,
          "mean 2": 1.0, "SD 2": 0.5, "n 2": 42}


def snapshot(evidence_map: EvidenceMap) -> tuple[int, ...]:
    return (
        Study.objects.filter(evidence_map=evidence_map).count(),
        EffectSize.objects.filter(study__evidence_map=evidence_map).count(),
        Study.history.count(), EffectSize.history.count(), Intervention.history.count(),
        Study.codes.through.objects.filter(study__evidence_map=evidence_map).count(),
    )


# --- The template --------------------------------------------------------------------------


def test_the_template_has_every_sheet_and_the_registrys_input_kinds() -> None:
    wb = load_workbook(io.BytesIO(template()))
    assert wb.sheetnames == [*(s.name for s in SHEETS), INPUT_KINDS_SHEET]
    for sheet in SHEETS:
        assert [c.value for c in wb[sheet.name][1]] == sheet.headers
    effects = wb[EFFECT_SIZES.name]
    assert {c.value for c in effects[1]} >= {"SD 1", "n 1", "t", "r"}
    note = next(c for c in effects[1] if c.value == "Input kind").comment.text
    guide = {row[0]: row for row in wb[INPUT_KINDS_SHEET].iter_rows(min_row=2, values_only=True)}
    assert set(guide) == set(INPUT_KIND_SPECS)
    assert guide["means"][2] == "mean 1; SD 1; n 1; mean 2; SD 2; n 2" and "means: mean 1; SD 1" in note


def test_the_template_is_offered_for_download_in_the_admin(admin_user, client) -> None:  # type: ignore[no-untyped-def]
    client.force_login(admin_user)
    response = client.get(reverse("admin:interchange_table_template"))
    assert response.status_code == 200
    assert load_workbook(io.BytesIO(response.content)).sheetnames[0] == "Studies"
    changelist = client.get(reverse("admin:interchange_importjob_changelist"))
    assert reverse("admin:interchange_table_template") in changelist.content.decode()


# --- Import ----------------------------------------------------------------------------------


def test_a_workbook_imports_studies_codings_and_effect_sizes_then_nothing_the_second_time() -> None:
    evidence_map = small_framework()
    data = workbook([STUDY], [EFFECT], [{"Study ID": "S1", "Code set": "Setting", "Code": "Rural"}])
    result = import_table(data, filename="map.xlsx", slug="tab", user=None)
    assert result.written and not result.report.errors, result.report.errors
    study = Study.objects.get(evidence_map=evidence_map)
    assert (study.external_id, study.year, study.design, study.status, study.authors) == (
        "S1", 2019, "rct", "published", "Ngugi W; Otieno P")
    assert [c.code for c in study.countries] == ["KE"]
    assert [n.name for n in study.interventions.all()] == ["Nutrition"]
    assert [c.name for c in study.codes.all()] == ["Rural"]
    effect = EffectSize.objects.get()
    assert effect.external_id == "E1" and effect.g == pytest.approx(0.396, abs=1e-3)
    before = snapshot(evidence_map)
    again = import_table(data, filename="map.xlsx", slug="tab", user=None)
    assert not again.written and not again.report.errors
    assert snapshot(evidence_map) == before


def test_every_defect_is_reported_at_once_by_sheet_row_and_column_and_nothing_is_written() -> None:
    evidence_map = small_framework()
    StudyFactory(evidence_map=evidence_map, external_id="KEEP")
    before = snapshot(evidence_map)
    data = workbook(
        [STUDY, {**STUDY, "Study ID": "S2", "Design": "Cohort of some sort", "Year": "19xx",
                 "Rows": "Education"}, {**STUDY, "Title": "Same ID again"}],
        [{**EFFECT, "SD 1": 0}],
        [{"Study ID": "S1", "Code set": "Setting", "Code": "Urban"}, {"Study ID": "S9", "Code set": "Nope", "Code": "x"}],
    )
    result = import_table(data, filename="bad.xlsx", slug="tab", user=None)
    assert not result.written and result.refused
    errors = {str(p) for p in result.report.errors}
    assert "Studies sheet, row 3 (study S2), Design: “Cohort of some sort” is not a design the map knows (one of: " \
        in {s[: s.index("one of: ") + 8] for s in errors if "Cohort" in s}
    assert "Studies sheet, row 3 (study S2), Year: “19xx” is not a year (four digits, such as 2014)" in errors
    assert any(e.startswith("Studies sheet, row 3 (study S2), Rows: “Education” is not a row of the map") for e in errors)
    assert "Studies sheet, row 4, Study ID: “S1” is also the ID of row 2; each study needs its own" in errors
    assert any(e.startswith("Effect sizes sheet, row 2 (effect size E1), SD 1:") and "0" in e for e in errors)
    assert "Codes sheet, row 2, Code: “Urban” is not a code of the code set “Setting”" in errors
    assert "Codes sheet, row 3, Study ID: “S9” is not the Study ID of a line of the Studies sheet" in errors
    assert any(e.startswith("Codes sheet, row 3, Code set: “Nope” is not a code set of the map") for e in errors)
    assert snapshot(evidence_map) == before


def test_the_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path) -> None:
    evidence_map = small_framework()
    path = tmp_path / "map.xlsx"
    path.write_bytes(workbook([STUDY], [EFFECT]))
    out = StringIO()
    call_command("import_table", str(path), "--map", "tab", "--dry-run", stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert "studies       1 to create" in text and "effect sizes  1 to create" in text
    assert "Dry run: nothing was written." in text
    assert Study.objects.filter(evidence_map=evidence_map).count() == 0


def test_the_command_names_the_errors_and_refuses(tmp_path: Path) -> None:
    small_framework()
    path = tmp_path / "map.xlsx"
    path.write_bytes(workbook([{**STUDY, "Year": "19xx"}]))
    out = StringIO()
    with pytest.raises(CommandError, match="1 error in the file; nothing was imported"):
        call_command("import_table", str(path), "--map", "tab", stdout=out, stderr=StringIO())
    assert "Studies sheet, row 2 (study S1), Year: “19xx” is not a year" in out.getvalue()


CSV = "Study ID,Title,Authors,Year,Design,Rows,Columns\r\nS1,School meals,Ngugi W,2019,RCT,Health,Growth\r\n"


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_a_csv_file_in_utf8_with_or_without_bom_is_the_studies_sheet(bom: bytes) -> None:
    evidence_map = small_framework()
    data = bom + CSV.replace("School meals", "“Écoles” et cantines").encode()
    result = import_table(data, filename="studies.csv", slug="tab", user=None)
    assert result.written, result.report.errors
    study = Study.objects.get(evidence_map=evidence_map)
    assert (study.title, study.design, [n.name for n in study.interventions.all()]) == (
        "“Écoles” et cantines", "rct", ["Health"])


def test_a_csv_file_in_another_encoding_is_refused_with_where_and_why() -> None:
    evidence_map = small_framework()
    data = CSV.replace("School meals", "Écoles").encode("windows-1252")
    result = import_table(data, filename="studies.csv", slug="tab", user=None)
    assert result.refused
    [error] = result.report.errors
    assert error.record == "the file" and error.field == "line 2"
    assert "is not UTF-8" in error.message and "CSV UTF-8" in error.message
    assert Study.objects.filter(evidence_map=evidence_map).count() == 0


COVIDENCE = (
    "Title,Authors,Abstract,Published Year,Published Month,Journal,Volume,Issue,Pages,Accession Number,DOI,Ref,"
    "Covidence #,Study,Notes,Tags\r\n"
    "Cash transfers and schooling,\"Ngugi, W.; Otieno, P.\",We study…,2018,Mar,J Dev Econ,12,3,1-20,,"
    "https://doi.org/10.1000/XYZ.1,,#12,Ngugi 2018,,\r\n"
    "School meals,\"Baraka, A.\",,2021,,World Dev,,,,,,,#15,Baraka 2021,,\r\n"
)


def test_a_covidence_export_is_read_through_a_column_mapping(tmp_path: Path) -> None:
    evidence_map = small_framework()
    path = tmp_path / "covidence_included.csv"
    path.write_text(COVIDENCE, encoding="utf-8-sig")
    out = StringIO()
    call_command("import_table", str(path), "--map", "tab",
                 "--map-columns", "Covidence #=external_id,Published Year=year,Journal=source,Study=short_title",
                 stdout=out, stderr=StringIO())
    studies = {s.external_id: s for s in Study.objects.filter(evidence_map=evidence_map)}
    assert set(studies) == {"#12", "#15"}
    first = studies["#12"]
    assert (first.title, first.year, first.doi, first.source, first.short_title, first.status, first.design) == (
        "Cash transfers and schooling", 2018, "10.1000/xyz.1", "J Dev Econ", "Ngugi 2018", Status.DRAFT, "other")
    assert "Keys this importer does not read (ignored)" in out.getvalue() and "Published Month" in out.getvalue()
    # The same file again writes nothing.
    before = snapshot(evidence_map)
    call_command("import_table", str(path), "--map", "tab",
                 "--map-columns", "Covidence #=external_id,Published Year=year,Journal=source,Study=short_title",
                 stdout=StringIO(), stderr=StringIO())
    assert snapshot(evidence_map) == before


def test_without_the_mapping_the_missing_required_column_is_named(tmp_path: Path) -> None:
    small_framework()
    result = import_table(COVIDENCE.encode(), filename="covidence.csv", slug="tab", user=None)
    assert result.refused
    assert [str(p) for p in result.report.errors] == [
        "Studies sheet, Study ID: this column is missing (name the file's column with the column mapping, "
        "e.g. \"Your header=external_id\")"
    ]


# --- Export and the round trip ---------------------------------------------------------------


def _paths(model: type[Any], evidence_map: EvidenceMap) -> dict[int, str]:
    rows = {n.pk: n for n in model.objects.filter(evidence_map=evidence_map)}

    def path(node: Any) -> str:
        return node.name if node.parent_id is None else f"{path(rows[node.parent_id])} > {node.name}"

    return {pk: path(node) for pk, node in rows.items()}


STUDY_FIELDS = ("title", "authors", "year", "short_title", "source", "volume", "issue", "pages", "doi", "url",
                "abstract", "keywords", "is_global", "population", "design", "confidence", "status", "region")


def describe(evidence_map: EvidenceMap) -> dict[str, Any]:
    """The map in names, comparable between two maps."""
    rows, columns = _paths(Intervention, evidence_map), _paths(Outcome, evidence_map)
    codes = {c.pk: (c.code_set.name, c.name) for c in Code.objects.filter(code_set__evidence_map=evidence_map)
             .select_related("code_set")}
    studies = {}
    keys = {}
    for s in Study.objects.filter(evidence_map=evidence_map).prefetch_related("interventions", "outcomes", "codes"):
        key = s.title, s.authors, s.year
        keys[s.pk] = key
        studies[key] = (
            tuple(getattr(s, f) for f in STUDY_FIELDS), sorted(c.code for c in s.countries),
            sorted(rows[n.pk] for n in s.interventions.all()), sorted(columns[n.pk] for n in s.outcomes.all()),
            sorted(codes[c.pk] for c in s.codes.all()),
        )
    effects = sorted(
        (keys[e.study_id], rows[e.intervention_id], columns[e.outcome_id], e.label, e.input_kind,
         tuple(getattr(e, f) for f in INPUT_FIELDS), e.notes, e.g, e.se_g)
        for e in EffectSize.objects.filter(study__evidence_map=evidence_map)
    )
    evidence = map_evidence(evidence_map)
    cells = {}
    for cell in evidence.cells.values():
        if cell.result is not None:
            r = cell.result
            cells[(rows[cell.intervention_id], columns[cell.outcome_id])] = (
                r.k, r.estimate, r.se, r.ci_low, r.ci_high, r.tau2, r.pi_low, r.pi_high, r.p_value, len(cell.studies))
    return {"studies": studies, "effects": effects, "cells": cells,
            "code_sets": sorted((cs.name, cs.is_filter) for cs in CodeSet.objects.filter(evidence_map=evidence_map))}


def assert_same_map(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["studies"] == b["studies"]
    assert a["code_sets"] == b["code_sets"]
    assert len(a["effects"]) == len(b["effects"])
    for x, y in zip(a["effects"], b["effects"], strict=True):
        assert x[:-2] == y[:-2]
        assert math.isclose(x[-2], y[-2], abs_tol=1e-9) and math.isclose(x[-1], y[-1], abs_tol=1e-9)
    assert a["cells"].keys() == b["cells"].keys() and a["cells"]
    for key, numbers in a["cells"].items():
        assert numbers == pytest.approx(b["cells"][key], abs=1e-9, rel=0), key


def _copy_settings(source: EvidenceMap, slug: str) -> EvidenceMap:
    target = EvidenceMap.objects.get(slug=slug)
    for name in ("pooling_method", "pooling_test", "within_study_correlation", "effect_label_preset",
                 "min_studies_for_confidence", "inconsistency_i2", "egger_alpha", "egger_min_k", "is_published"):
        setattr(target, name, getattr(source, name))
    target.save()
    # Nor does the workbook say which way each column's outcome is better; aggregate cells
    # pool on the "positive means improvement" scale, so the copy needs the source's.
    direction = {path: Outcome.objects.get(pk=pk).desirable_direction for pk, path in _paths(Outcome, source).items()}
    for pk, path in _paths(Outcome, target).items():
        Outcome.objects.filter(pk=pk).update(desirable_direction=direction[path])
    return target


@pytest.mark.parametrize("source", ["demo", "generated"])
def test_importing_the_exported_workbook_into_an_empty_map_gives_the_same_map(source: str, demo_map) -> None:  # type: ignore[no-untyped-def]
    if source == "generated":
        demo_map = generate_map("gen", studies=30, effect_sizes=80, rows=(3, 2), columns=(2, 2), seed=4)
    # Text that a spreadsheet would take for a formula stays text.
    Study.objects.filter(pk=Study.objects.filter(evidence_map=demo_map).first().pk).update(title="=1+1 “study”")
    data = map_workbook(map_workbook_data(demo_map, STAFF))
    empty = EvidenceMapFactory(slug="copy", is_published=False)
    result = import_table(data, filename="export.xlsx", slug="copy", user=None)
    assert result.written and not result.report.errors, [str(p) for p in result.report.errors]
    copy = _copy_settings(demo_map, empty.slug)
    assert_same_map(describe(demo_map), describe(copy))
    assert copy.segment_code_set is not None and copy.segment_code_set.name == demo_map.segment_code_set.name
    # The copy exported and imported again changes nothing.
    before = snapshot(copy)
    again = import_table(map_workbook(map_workbook_data(copy, STAFF)), filename="again.xlsx", slug="copy", user=None)
    assert not again.report.errors and not again.written
    assert snapshot(copy) == before


def test_the_map_workbook_download_shows_anonymous_readers_published_studies_only(client, demo_map) -> None:  # type: ignore[no-untyped-def]
    draft = StudyFactory(evidence_map=demo_map, status=Status.DRAFT, title="A draft", external_id="draft-1")
    url = reverse("interchange:map_xlsx", kwargs={"slug": demo_map.slug})
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{demo_map.slug}-map.xlsx"'
    wb = load_workbook(io.BytesIO(response.content))
    ids = [row[0] for row in wb["Studies"].iter_rows(min_row=2, values_only=True)]
    published = Study.objects.filter(evidence_map=demo_map, status=Status.PUBLISHED).count()
    assert len(ids) == published and draft.external_id not in ids
    demo_map.is_published = False
    demo_map.save()
    assert client.get(url).status_code == 404


def test_the_export_command_writes_the_map_and_the_template(tmp_path: Path, demo_map) -> None:  # type: ignore[no-untyped-def]
    StudyFactory(evidence_map=demo_map, status=Status.DRAFT, external_id="draft-1")
    call_command("export_table", str(tmp_path / "all.xlsx"), "--map", demo_map.slug, stdout=StringIO())
    call_command("export_table", str(tmp_path / "pub.xlsx"), "--map", demo_map.slug, "--published", stdout=StringIO())
    call_command("export_table", str(tmp_path / "t.xlsx"), "--template", stdout=StringIO())
    count = {name: load_workbook(tmp_path / name)["Studies"].max_row - 1 for name in ("all.xlsx", "pub.xlsx", "t.xlsx")}
    studies = Study.objects.filter(evidence_map=demo_map)
    published = studies.filter(status=Status.PUBLISHED).count()
    assert count == {"all.xlsx": studies.count(), "pub.xlsx": published, "t.xlsx": 0}
    assert published < studies.count() - 1


def test_the_export_imported_into_its_own_map_finds_its_studies_and_effect_sizes(demo_map) -> None:  # type: ignore[no-untyped-def]
    """Effect sizes entered without an external id are found by study, cell and label."""
    EffectSize.objects.filter(study__evidence_map=demo_map).update(external_id="")
    before = describe(demo_map)
    counts = snapshot(demo_map)[:2]
    result = import_table(map_workbook(map_workbook_data(demo_map, STAFF)), filename="own.xlsx",
                          slug=demo_map.slug, user=None)
    assert not result.report.errors and result.plan is not None
    assert result.plan.sections["effects"].created == [] and result.plan.sections["studies"].created == []
    assert snapshot(demo_map)[:2] == counts
    assert_same_map(before, describe(demo_map))
    assert not EffectSize.objects.filter(study__evidence_map=demo_map, external_id="").exists()


def test_a_file_that_is_not_a_workbook_is_refused() -> None:
    small_framework()
    result = import_table(b"PK\x03\x04 not really a zip", filename="map.xlsx", slug="tab", user=None)
    assert result.refused and result.report.errors[0].message.startswith("is not an Excel .xlsx workbook")


def test_a_value_that_is_not_a_number_and_an_input_the_kind_does_not_read_are_named() -> None:
    small_framework()
    data = workbook([STUDY], [{**EFFECT, "SD 2": "about 0.5", "r": 0.3}])
    result = import_table(data, filename="map.xlsx", slug="tab", user=None)
    assert [str(p) for p in result.report.errors] == [
        "Effect sizes sheet, row 2 (effect size E1), SD 2: “about 0.5” is not a number"]
    assert "Effect sizes sheet, row 2 (effect size E1), r: is not read for the input kind “means”; ignored" in {
        str(p) for p in result.report.problems}


def test_the_map_workbook_download_runs_a_fixed_number_of_queries(client, demo_map, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    url = reverse("interchange:map_xlsx", kwargs={"slug": demo_map.slug})
    # The map's latest release (portal.releases: none, so the working copy); the map; its rows,
    # columns, code sets and codes; the studies with their rows, columns and codes (one query
    # each); the effect sizes.
    with django_assert_num_queries(11):
        assert client.get(url).status_code == 200
    StudyFactory.create_batch(5, evidence_map=demo_map)
    with django_assert_num_queries(11):
        assert client.get(url).status_code == 200


def test_the_map_page_links_the_workbook(client, demo_map) -> None:  # type: ignore[no-untyped-def]
    from django.urls import reverse

    page = client.get(reverse("portal:map", kwargs={"slug": demo_map.slug})).content.decode()
    workbook = reverse("interchange:map_xlsx", kwargs={"slug": demo_map.slug})
    assert f'href="{workbook}"' in page
    assert client.get(workbook).status_code == 200
