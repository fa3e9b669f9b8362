"""Each defect real exports have, one test each: an error names its record and field and leaves
the map exactly as it was; a reference with no codes, abstract or year, an unknown key and the
like are imported and listed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from evidence.models import EvidenceMap
from interchange.eppi.generate import DEFECTS, ERROR_DEFECTS, GeneratedFile
from studies.models import EffectSize, Study
from tests.interchange.eppi.conftest import kinds, run, snapshot

pytestmark = pytest.mark.django_db

Make = Callable[..., GeneratedFile]


def _imported_clean(generated: Make) -> dict[str, object]:
    result = run(generated(seed=3))
    assert not result.refused, result.report.errors
    return snapshot()


# What the report says for each error, by defect: (kind, field, words in the message).
ERRORS = {
    "unknown-attribute": ("unknown_attribute", "Codes", "AttributeId 999999999 is not in any code set"),
    "duplicate-itemid": ("duplicate_id", "ItemId", "is used by 2 references"),
    "duplicate-outcomeid": ("duplicate_id", "OutcomeId", "is used by 2 outcomes"),
    "sd-zero": ("effect_input", "Data5 (Group 1 SD)", "must be greater than 0 (got 0)"),
    "year-19xx": ("bad_value", "Year", "“19xx” is not a year"),
    "bad-number": ("bad_value", "Data1", "'forty' is not a number"),
}


def test_every_error_defect_has_its_expected_message() -> None:
    assert set(ERRORS) == set(ERROR_DEFECTS)


@pytest.mark.parametrize("defect", ERROR_DEFECTS)
def test_an_error_names_record_and_field_and_changes_nothing(generated: Make, defect: str) -> None:
    before = _imported_clean(generated)
    bad = generated(seed=3, defects=[defect])
    result = run(bad)
    assert result.refused and not result.written
    kind, field, words = ERRORS[defect]
    errors = [p for p in result.report.errors if p.kind == kind]
    assert errors, result.report.errors
    (record,) = bad.defects[defect]
    assert any(p.record == record and p.field == field and words in p.message for p in errors), errors
    assert snapshot() == before


def test_every_problem_of_a_file_is_reported_at_once(generated: Make) -> None:
    bad = generated(references=80, outcomes=160, seed=5, defects=list(ERROR_DEFECTS))
    result = run(bad)
    assert result.refused
    found = {p.kind for p in result.report.errors}
    assert found >= {kind for kind, _, _ in ERRORS.values()}
    assert not EvidenceMap.objects.exists()  # the map it would have created is not there either


# --- imported, and listed ---------------------------------------------------------------------


def _item(generated_file: GeneratedFile, defect: str) -> str:
    return generated_file.defects[defect][0].split(",")[0]


def test_a_reference_with_no_codes_is_imported_and_listed(generated: Make) -> None:
    made = generated(seed=3, defects=["no-codes"])
    result = run(made)
    assert not result.refused
    record = _item(made, "no-codes")
    assert any(record in line for line in kinds(result)["no_codes"])
    study = Study.objects.get(external_id=record.removeprefix("ItemId "))
    assert not study.codes.exists() and not study.interventions.exists()


def test_a_reference_with_no_abstract_is_imported_and_listed(generated: Make) -> None:
    made = generated(seed=3, defects=["no-abstract"])
    result = run(made)
    record = _item(made, "no-abstract")
    assert kinds(result)["no_abstract"] == [f"{record}, Abstract: none given; the study is imported without one"]
    assert Study.objects.get(external_id=record.removeprefix("ItemId ")).abstract == ""


def test_a_reference_with_no_year_is_imported_and_listed(generated: Make) -> None:
    made = generated(seed=3, defects=["no-year"])
    result = run(made)
    record = _item(made, "no-year")
    assert any(line.startswith(f"{record}, Year") for line in kinds(result)["no_year"])
    study = Study.objects.get(external_id=record.removeprefix("ItemId "))
    assert study.year is None and study.short_citation.endswith("(n.d.)")


def test_unknown_keys_are_ignored_and_listed(generated: Make) -> None:
    made = generated(seed=3, defects=["unknown-keys"])
    result = run(made)
    assert not result.refused
    listed = " ".join(kinds(result)["unknown_key"])
    for key in ("ExportedWith", "Tags", "Weighting"):
        assert key in listed
    assert Study.objects.count() == len(made.references)


def test_a_doi_field_without_a_doi_is_left_out_and_listed(generated: Make) -> None:
    made = generated(seed=3, defects=["bad-doi"])
    result = run(made)
    record = _item(made, "bad-doi")
    assert f"{record}, DOI: “not available” is not a DOI; left out" in kinds(result)["cleaned"]
    assert Study.objects.get(external_id=record.removeprefix("ItemId ")).doi == ""


def test_an_smd_that_does_not_follow_from_its_numbers_is_listed(generated: Make) -> None:
    made = generated(seed=3, defects=["smd-mismatch"])
    result = run(made)
    (record,) = made.defects["smd-mismatch"]
    warnings = [p for p in result.report.problems if p.kind == "smd_disagreement" and p.record == record]
    assert len(warnings) == 1 and "does not follow from the outcome's own numbers" in warnings[0].message
    assert EffectSize.objects.filter(external_id=record.rsplit(" ", 1)[-1]).exists()


def test_a_reference_not_included_in_the_review_is_left_out(generated: Make) -> None:
    made = generated(seed=3, defects=["excluded"])
    result = run(made)
    record = _item(made, "excluded")
    assert any(line.startswith(f"{record}, ItemStatus: is “E”") for line in kinds(result)["skipped_reference"])
    assert not Study.objects.filter(external_id=record.removeprefix("ItemId ")).exists()


def test_an_outcome_without_an_intervention_code_is_left_out(generated: Make) -> None:
    made = generated(seed=3, defects=["unplaced-outcome"])
    result = run(made)
    (record,) = made.defects["unplaced-outcome"]
    assert any(line.startswith(f"{record}, ItemAttributeIdIntervention") for line in kinds(result)["skipped_outcome"])
    assert not EffectSize.objects.filter(external_id=record.rsplit(" ", 1)[-1]).exists()


def test_a_design_the_map_does_not_know_is_listed_and_becomes_other(generated: Make) -> None:
    made = generated(seed=3, defects=["unmapped-design"])
    result = run(made)
    assert any("“Case study” is not a study design the map knows (coded for 1 reference" in line
               for line in kinds(result)["design"])
    record = _item(made, "unmapped-design")
    assert Study.objects.get(external_id=record.removeprefix("ItemId ")).design == "other"
    (note,) = [p for p in result.report.problems if p.kind == "design" and p.severity == "note"]
    assert record in note.message and "new studies among them are Other" in note.message


def test_every_defect_is_tested() -> None:
    listed = {
        "no-codes", "no-abstract", "no-year", "unknown-keys", "bad-doi", "smd-mismatch", "excluded",
        "unplaced-outcome", "unmapped-design",
    }
    assert listed | set(ERROR_DEFECTS) == set(DEFECTS)
