"""The import pipeline on its own, with a map record built by hand as any reader (a spreadsheet, RIS)
would build one: matching, what the file lacks, clashes with the map, validation in the file's words."""

from __future__ import annotations

import pytest

from evidence.models import Intervention
from interchange.importing.records import (
    CodeSetRecord,
    EffectRecord,
    MapRecord,
    NodeRecord,
    StudyRecord,
)
from interchange.importing.report import Report
from interchange.importing.run import import_map
from studies.effect_sizes.registry import INPUT_FIELDS
from studies.models import EffectSize, Study
from tests.factories import EvidenceMapFactory, InterventionFactory, StudyFactory

pytestmark = pytest.mark.django_db


def record(**changes: object) -> MapRecord:
    study = StudyRecord(
        key="S1", ref="row 2", fields={"title": "A study", "authors": "Ngugi, W.", "year": 2019},
        defaults={"design": "rct", "status": "published"}, labels={"title": "Title", "year": "Year"},
        codes={"C1"}, interventions={"R1"}, outcomes={"K1"},
    )
    effect = EffectRecord(
        key="E1", ref="row 2 of effect sizes", study="S1", intervention="R1", outcome="K1",
        fields={"label": "Main", "input_kind": "es_se", "es_value": 0.2, "es_se": 0.1, "notes": ""},
        labels={"es_se": "standard error column"},
    )
    values: dict[str, object] = {
        "source": "a spreadsheet",
        "interventions": [NodeRecord("R1", "Cash transfers", "row R1")],
        "outcomes": [NodeRecord("K1", "Schooling", "column K1")],
        "code_sets": [CodeSetRecord("CS", "Setting", "code set CS", codes=[NodeRecord("C1", "Rural", "code C1")])],
        "studies": [study],
        "effects": [effect],
    }
    values.update(changes)
    return MapRecord(**values)  # type: ignore[arg-type]


def test_a_hand_made_row_is_found_by_its_name_and_given_the_files_key() -> None:
    evidence_map = EvidenceMapFactory(slug="hand")
    hand_made = InterventionFactory(evidence_map=evidence_map, name="Cash transfers", external_id="")
    result = import_map(record(), Report(), slug="hand", user=None)
    assert result.written, result.report.errors
    hand_made.refresh_from_db()
    assert hand_made.external_id == "R1"
    assert Intervention.objects.filter(evidence_map=evidence_map).count() == 1
    assert result.plan is not None and result.plan.sections["interventions"].updated == [
        ("row R1 “Cash transfers”", ["external_id"])
    ]
    effect = EffectSize.objects.get()
    assert (effect.g, effect.study.status, effect.study.design) == (0.2, "published", "rct")


def test_rows_and_studies_the_record_lacks_are_listed_and_kept() -> None:
    evidence_map = EvidenceMapFactory(slug="hand")
    other_row = InterventionFactory(evidence_map=evidence_map, name="Vouchers", external_id="R9")
    typed_in = StudyFactory(evidence_map=evidence_map, title="Typed in by hand", external_id="")
    result = import_map(record(), Report(), slug="hand", user=None)
    missing = [str(p) for p in result.report.problems if p.kind == "missing"]
    assert "row “Vouchers” (external id R9): is on the map but not in the file; kept as it is" in missing
    assert any(line.startswith(f"study {typed_in.short_citation} “Typed in by hand” (id {typed_in.pk})") for line in missing)
    assert Intervention.objects.filter(pk=other_row.pk).exists() and Study.objects.filter(pk=typed_in.pk).exists()


def test_a_new_row_named_like_a_row_the_map_keeps_is_an_error() -> None:
    evidence_map = EvidenceMapFactory(slug="hand")
    InterventionFactory(evidence_map=evidence_map, name="Cash transfers", external_id="R9")
    result = import_map(record(), Report(), slug="hand", user=None)
    assert result.refused
    (error,) = result.report.errors
    assert (error.record, error.field) == ("row R1", "AttributeName")
    assert "is also the name of the map's row “Cash transfers”" in error.message
    assert not Study.objects.exists()


def test_a_bad_input_is_named_in_the_files_words() -> None:
    EvidenceMapFactory(slug="hand")
    bad = record()
    bad.effects[0].fields["es_se"] = -0.1
    result = import_map(bad, Report(), slug="hand", user=None)
    assert [str(p) for p in result.report.errors] == [
        "row 2 of effect sizes, standard error column: must be greater than 0 (got -0.1)"
    ]
    assert not EffectSize.objects.exists()


def test_an_update_that_changes_the_input_kind_clears_the_old_inputs() -> None:
    EvidenceMapFactory(slug="hand")
    import_map(record(), Report(), slug="hand", user=None)
    changed = record()
    changed.effects[0].fields = {"label": "Main", "input_kind": "t_stat", "t_value": 2.0, "n_1": 40, "n_2": 40, "notes": ""}
    result = import_map(changed, Report(), slug="hand", user=None)
    assert result.written, result.report.errors
    effect = EffectSize.objects.get()
    assert effect.input_kind == "t_stat" and effect.es_value is None and effect.es_se is None
    assert {name for name in INPUT_FIELDS if getattr(effect, name) is not None} == {"t_value", "n_1", "n_2"}
