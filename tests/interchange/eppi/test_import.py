"""An import as a whole: what it writes, idempotence, a dry run, an edited file, what the file
lacks, history and versions."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from evidence.models import Code, CodeSet, EvidenceMap, Intervention, Outcome
from interchange.eppi.convert import Selection
from interchange.eppi.generate import GeneratedFile
from studies.models import EffectSize, Study
from tests.factories import StudyFactory, map_creator
from tests.interchange.eppi.conftest import (
    SLUG,
    TINY,
    kinds,
    outcome,
    reference,
    run,
    snapshot,
    tiny_export,
)

pytestmark = pytest.mark.django_db

Make = Callable[..., GeneratedFile]


def test_a_first_import_writes_the_whole_map(generated: Make) -> None:
    made = generated(seed=1)
    user = map_creator("importer")
    result = run(made, user=user)
    assert result.written and not result.refused
    evidence_map = EvidenceMap.objects.get(slug=SLUG)
    assert not evidence_map.is_published
    assert evidence_map.version == 2 and evidence_map.members_version == 2  # one bump for the whole import
    refs = made.references
    assert Study.objects.filter(evidence_map=evidence_map).count() == len(refs)
    assert set(Study.objects.values_list("status", flat=True)) == {"draft"}
    assert CodeSet.objects.filter(evidence_map=evidence_map).count() == 8
    assert Code.objects.filter(code_set__evidence_map=evidence_map).count() == 246
    # Rows are the intervention set's ten categories with their leaves; columns the outcome set's.
    assert Intervention.objects.filter(evidence_map=evidence_map, parent=None).count() == 10
    assert Outcome.objects.filter(evidence_map=evidence_map, parent=None).count() == 8
    codings = sum(len(r.get("Codes", [])) for r in refs)
    assert Study.codes.through.objects.count() == codings
    assert evidence_map.segment_code_set is not None and evidence_map.segment_code_set.external_id == "1003"
    assert set(CodeSet.objects.filter(is_filter=True).values_list("external_id", flat=True)) == {"1005", "1006"}
    # Slugs name query parameters: a code set called "Country" does not take the built-in filter's name.
    assert CodeSet.objects.get(external_id="1004").slug == "country-codes"
    assert CodeSet.objects.get(external_id="1003").slug == "study-design"
    # Every study and effect size has one history row, by the importing user, naming the file.
    for model in (Study, EffectSize, Code, Intervention):
        history = model.history.all()  # type: ignore[attr-defined]
        assert history.count() == model._default_manager.count()
        assert set(history.values_list("history_user__username", "history_type", "history_change_reason")) == {
            ("importer", "+", "Imported from test.json"),
        }
    assert set(Study.objects.values_list("created_by__username", flat=True)) == {"importer"}
    # A study's history row carries its codings as they were written.
    study = Study.objects.exclude(codes=None).first()
    assert study is not None
    row = study.history.get()  # type: ignore[attr-defined]
    assert {link.code_id for link in row.codes.all()} == set(study.codes.values_list("pk", flat=True))


def test_a_study_is_placed_in_its_coded_rows_and_columns_and_those_of_its_effect_sizes(generated: Make) -> None:
    made = generated(seed=1)
    run(made)
    for ref in made.references[:10]:
        study = Study.objects.get(external_id=str(ref["ItemId"]))
        coded = {str(c["AttributeId"]) for c in ref.get("Codes", [])}
        rows = set(study.interventions.values_list("external_id", flat=True))
        assert {str(o["ItemAttributeIdIntervention"]) for o in ref["Outcomes"]} <= rows
        assert rows <= coded | {str(o["ItemAttributeIdIntervention"]) for o in ref["Outcomes"]}
        assert set(study.codes.values_list("external_id", flat=True)) == coded


def test_the_same_file_twice_writes_nothing_the_second_time(generated: Make) -> None:
    made = generated(seed=2)
    run(made)
    before = snapshot()
    again = run(made)
    assert not again.written and not again.refused
    assert again.plan is not None and not again.plan.has_changes
    assert all(not section.changes for section in again.plan.sections.values())
    assert snapshot() == before  # rows, links, history rows and versions


def test_a_dry_run_writes_nothing_and_shows_the_plan(generated: Make) -> None:
    made = generated(seed=2)
    result = run(made, dry_run=True)
    assert not result.written and result.plan is not None
    assert len(result.plan.sections["studies"].created) == len(made.references)
    assert not EvidenceMap.objects.exists() and not Study.objects.exists()
    run(made)
    before = snapshot()
    edited = copy.deepcopy(made)
    edited.references[0]["Title"] = "A new title"
    dry = run(edited, dry_run=True)
    assert dry.plan is not None and [f for _, f in dry.plan.sections["studies"].updated] == [["title"]]
    assert snapshot() == before


def test_an_edited_file_changes_only_what_changed(generated: Make) -> None:
    made = generated(seed=4)
    run(made)
    before_versions = EvidenceMap.objects.values_list("version", "members_version").get()
    study_history = Study.history.count()  # type: ignore[attr-defined]
    effect_history = EffectSize.history.count()  # type: ignore[attr-defined]
    edited = copy.deepcopy(made)
    refs = edited.references
    refs[0]["Title"] = "Cash transfers and schooling, revisited"
    refs[1]["Codes"] = refs[1]["Codes"][:-1]  # one coding fewer
    with_outcomes = next(r for r in refs if any(o["OutcomeTypeId"] == 1 for o in r["Outcomes"]))
    changed_outcome = next(o for o in with_outcomes["Outcomes"] if o["OutcomeTypeId"] == 1)
    changed_outcome["Data3"] = changed_outcome["Data3"] + 1.0
    removed = refs.pop()  # the map keeps it; the report lists it
    result = run(edited)
    assert result.written and result.plan is not None
    studies = result.plan.sections["studies"]
    assert [ref.split(" “")[0] for ref, _ in studies.updated] == [f"ItemId {refs[0]['ItemId']}", f"ItemId {refs[1]['ItemId']}"]
    assert [fields for _, fields in studies.updated] == [["title"], ["codes"]]
    assert [fields for _, fields in result.plan.sections["effects"].updated] == [["mean_1"]]
    assert Study.history.count() == study_history + 2  # type: ignore[attr-defined]
    assert EffectSize.history.count() == effect_history + 1  # type: ignore[attr-defined]
    assert Study.objects.filter(external_id=str(removed["ItemId"])).exists()
    missing = kinds(result)["missing"]
    assert any(f"external id {removed['ItemId']}" in line for line in missing)
    effect = EffectSize.objects.get(external_id=str(changed_outcome["OutcomeId"]))
    assert effect.mean_1 == changed_outcome["Data3"]
    # Drafts only changed: the reviewers' version moved once, the readers' did not.
    versions = EvidenceMap.objects.values_list("version", "members_version").get()
    assert versions == (before_versions[0], before_versions[1] + 1)


def test_an_existing_study_without_an_external_id_is_found_by_its_doi() -> None:
    run(tiny_export(references=[reference(5001, DOI="10.1234/a"), reference(5002, DOI="10.1234/b")]), selection=TINY)
    hand_made = StudyFactory(evidence_map=EvidenceMap.objects.get(), doi="10.1234/c", external_id="", title="Typed in")
    result = run(tiny_export(references=[
        reference(5001, DOI="10.1234/a"), reference(5002, DOI="10.1234/b"), reference(5003, DOI="https://doi.org/10.1234/C"),
    ]), selection=TINY)
    assert not result.refused, result.report.errors
    hand_made.refresh_from_db()
    assert hand_made.external_id == "5003" and hand_made.title == "Study 5003"
    assert Study.objects.count() == 3


def test_a_doi_that_another_study_of_the_map_has_is_an_error() -> None:
    run(tiny_export(references=[reference(5001, DOI="10.1234/a")]), selection=TINY)
    StudyFactory(evidence_map=EvidenceMap.objects.get(), doi="10.1234/b", external_id="elsewhere")
    before = snapshot()
    result = run(tiny_export(references=[reference(5001, DOI="10.1234/a"), reference(5002, DOI="10.1234/b")]), selection=TINY)
    assert result.refused
    (error,) = result.report.errors
    assert (error.record, error.field) == ("ItemId 5002", "DOI")
    assert "a map has one study per DOI" in error.message
    assert snapshot() == before


def test_a_value_the_map_cannot_take_names_the_reference_and_field() -> None:
    result = run(tiny_export(references=[reference(5001, Year="1850"), reference(5002, Title="")]), selection=TINY)
    assert result.refused
    found = {(p.record, p.field) for p in result.report.errors}
    assert ("ItemId 5001", "Year") in found and ("ItemId 5002", "Title") in found
    assert not Study.objects.exists()


def test_an_outcome_outside_the_chosen_rows_is_left_out_with_the_reason() -> None:
    file = tiny_export(references=[reference(outcomes=[outcome(1, 1, {1: 20, 2: 20, 3: 1, 4: 0, 5: 1, 6: 1},
                                                               ItemAttributeIdIntervention=201)])])
    result = run(file, selection=TINY)
    assert kinds(result)["skipped_outcome"] == [
        "ItemId 5001, outcome 1, ItemAttributeIdIntervention: AttributeId 201 “Schooling” is not one of the map's rows; not imported"
    ]
    assert not EffectSize.objects.exists()


def test_the_selection_is_checked_against_the_file() -> None:
    file = tiny_export(references=[reference()])
    bad = Selection(rows=("10", "1011"), columns=("999",), segments="101", designs="30")
    result = run(file, selection=bad)
    messages = [f"{p.field}: {p.message}" for p in result.report.errors]
    assert "columns: 999 is neither a SetId nor an AttributeId of the file" in messages
    assert any(m.startswith("rows: AttributeId 1011 “Conditional” is both in rows") for m in messages)
    assert any(m.startswith("segments: AttributeId 101 is a code") for m in messages)
    assert not EvidenceMap.objects.exists()


def test_new_studies_can_be_published_at_once() -> None:
    selection = Selection(rows=TINY.rows, columns=TINY.columns, designs="30", publish=True)
    run(tiny_export(references=[reference()]), selection=selection)
    assert Study.objects.get().status == "published"


def test_a_map_that_exists_is_not_created_again_and_a_missing_one_needs_a_title(generated: Make) -> None:
    from interchange.eppi.pipeline import import_eppi
    from tests.interchange.eppi.conftest import SELECTION

    data = generated(references=5, outcomes=5).to_bytes()
    missing = import_eppi(data, SELECTION, slug="nowhere", user=None)
    assert [str(p) for p in missing.report.errors] == ["the map, slug: there is no map “nowhere”; to create it, give a title"]
    run(data)
    twice = import_eppi(data, SELECTION, slug=SLUG, user=None, title="Again")
    assert twice.refused and "exists already" in twice.report.errors[0].message
