"""The demo map loads, and loading it again changes nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command

from evidence.models import CellSummary, Code, CodeSet, EvidenceMap, Intervention, Outcome
from interchange.demo import DIPLOMACY, POLITICAL_SECURITY
from studies.models import EffectSize, Study

pytestmark = pytest.mark.django_db

MODELS = (EvidenceMap, Intervention, Outcome, CodeSet, Code, Study, EffectSize, CellSummary)


def counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in MODELS} | {
        f"history:{m.__name__}": m.history.count() for m in MODELS
    } | {
        "codings": Study.codes.through.objects.count(),
        "history:codings": apps.get_model("studies", "HistoricalStudy_codes").objects.count(),
    }


def test_the_demo_can_be_loaded_again_without_duplicates_or_new_history() -> None:
    out = StringIO()
    call_command("load_demo", stdout=out)
    assert "ready" in out.getvalue()
    first = counts()
    call_command("load_demo", stdout=StringIO())
    assert counts() == first
    assert first["EvidenceMap"] == 1 and first["Study"] > 10


def test_the_demo_repairs_a_changed_record(demo_map: EvidenceMap) -> None:
    study = Study.objects.get(external_id="demo-myrick-2021")
    Study.objects.filter(pk=study.pk).update(title="Vandalised")
    EffectSize.objects.filter(study=study).first().delete()
    call_command("load_demo", stdout=StringIO())
    study.refresh_from_db()
    assert study.title.startswith("Public and private diplomacy")
    assert study.effect_sizes.count() == 2


def test_the_example_cell_has_two_studies_and_four_effect_sizes(demo_map: EvidenceMap) -> None:
    effects = EffectSize.objects.filter(
        intervention__name=DIPLOMACY, outcome__name=POLITICAL_SECURITY, study__evidence_map=demo_map
    )
    assert effects.count() == 4
    assert effects.values("study").distinct().count() == 2
    myrick = effects.filter(study__external_id="demo-myrick-2021", ratio=1.58).get()
    assert myrick.native_metric == "logOR"
    assert Study.objects.get(external_id="demo-kahn-nisser-2018").region == "Global"


def test_the_demo_has_gaps_and_a_draft(demo_map: EvidenceMap) -> None:
    empty_rows = Intervention.objects.filter(evidence_map=demo_map, parent__isnull=False, studies=None)
    assert empty_rows.exists()
    assert Study.objects.filter(evidence_map=demo_map, status="draft").exists()
    assert Study.objects.filter(evidence_map=demo_map, effect_sizes=None).exists()


def test_the_example_cell_pools_to_the_published_figures(demo_map: EvidenceMap) -> None:
    from evidence.synthesis import map_evidence

    row = Intervention.objects.get(evidence_map=demo_map, name=DIPLOMACY)
    column = Outcome.objects.get(evidence_map=demo_map, name=POLITICAL_SECURITY)
    cell = map_evidence(demo_map).cell(row.pk, column.pk)
    assert (cell.n_studies, cell.n_effects) == (2, 4)
    assert f"{cell.result.estimate:.3f}" == "0.139"
    assert cell.result.model == "CHE" and cell.result.vcov == "CR2" and cell.result.n_clusters == 2
    assert cell.label.text == "Moderate effect"
    assert cell.confidence.level == "low"
    assert any("limited number of studies" in reason for reason in cell.confidence.reasons)
    assert cell.region == "Global"


def test_the_demo_has_a_filter_code_set_and_a_segmenting_one(demo_map: EvidenceMap) -> None:
    setting, group = CodeSet.objects.filter(evidence_map=demo_map)
    assert (setting.name, setting.is_filter, group.name, group.is_filter) == ("Setting", True, "Population group", False)
    assert demo_map.segment_code_set == group
    # Setting nests: its codes have children.
    assert Code.objects.filter(code_set=setting, parent__isnull=False).count() == 5
    assert Code.objects.filter(code_set=setting, parent__isnull=True).count() == 2
    # Every study has a setting; a few have no population group (they are "not coded").
    studies = Study.objects.filter(evidence_map=demo_map)
    assert not studies.exclude(codes__code_set=setting).exists()
    assert 0 < studies.exclude(codes__code_set=group).count() < studies.count() // 2


def test_the_demo_repairs_its_codings(demo_map: EvidenceMap) -> None:
    study = Study.objects.get(external_id="demo-myrick-2021")
    study.codes.clear()
    Code.objects.filter(code_set__evidence_map=demo_map, name="Rural").delete()  # not a demo code: no effect
    call_command("load_demo", stdout=StringIO())
    assert sorted(c.name for c in study.codes.all()) == [
        "Authoritarian regime", "Political prisoners and detainees", "Women and girls",
    ]
