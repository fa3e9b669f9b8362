"""generate_map: a deterministic, realistic synthetic map, validated like every other write,
all or nothing. Small sizes only; the speed is measured by hand (README, Benchmarks)."""

from __future__ import annotations

import math
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Avg, Count
from django.urls import reverse

from evidence.filters import text_search
from evidence.models import Code, CodeSet, Direction, EvidenceMap, Intervention, Outcome
from evidence.synthesis import map_evidence
from interchange import generate
from interchange.generate import GenerateError, generate_map, plan_map, summarise_map
from studies.effect_sizes.registry import INPUT_FIELDS, INPUT_KIND_SPECS, compute_effect
from studies.models import AppraisalItem, EffectSize, Study, region_for

pytestmark = pytest.mark.django_db

STUDIES, EFFECTS = 200, 1000


@pytest.fixture
def small_map() -> EvidenceMap:
    return generate_map("gen", studies=STUDIES, effect_sizes=EFFECTS, seed=3)


def snapshot(evidence_map: EvidenceMap) -> dict[str, Any]:
    """Every generated row of a map by its natural keys: no ids, no timestamps."""
    volatile = {"id", "evidence_map_id", "study_id", "intervention_id", "outcome_id", "created_at", "updated_at"}
    studies = Study.objects.filter(evidence_map=evidence_map).order_by("external_id")
    return {
        "studies": [
            {k: v for k, v in row.items() if k not in volatile}
            | {"countries": sorted(str(c) for c in Study.objects.get(pk=row["id"]).countries)}
            for row in studies.values()
        ],
        "coding": sorted(
            (s.external_id, i.name, o.name)
            for s in studies.prefetch_related("interventions", "outcomes")
            for i in s.interventions.all() for o in s.outcomes.all()
        ),
        "effects": [
            {k: v for k, v in row.items() if k not in volatile}
            for row in EffectSize.objects.filter(study__evidence_map=evidence_map)
            .order_by("study__external_id", "id").values("study__external_id", "intervention__name",
                                                         "outcome__name", *_effect_fields())
        ],
        "appraisal": sorted(
            AppraisalItem.objects.filter(study__evidence_map=evidence_map)
            .values_list("study__external_id", "criterion", "rating", "note")
        ),
        "codes": sorted(
            Study.codes.through.objects.filter(study__evidence_map=evidence_map)
            .values_list("study__external_id", "code__code_set__name", "code__name")
        ),
    }


def _effect_fields() -> list[str]:
    skip = {"id", "study", "intervention", "outcome", "created_at", "updated_at"}
    return [f.name for f in EffectSize._meta.concrete_fields if f.name not in skip]


def row_counts() -> dict[str, int]:
    return {
        "maps": EvidenceMap.objects.count(),
        "interventions": Intervention.objects.count(),
        "outcomes": Outcome.objects.count(),
        "studies": Study.objects.count(),
        "effects": EffectSize.objects.count(),
        "items": AppraisalItem.objects.count(),
        "coded rows": Study.interventions.through.objects.count(),
        "coded columns": Study.outcomes.through.objects.count(),
        "code sets": CodeSet.objects.count(),
        "codes": Code.objects.count(),
        "codings": Study.codes.through.objects.count(),
    }


# --- Determinism ---------------------------------------------------------------------------


def test_the_plan_depends_on_the_seed_alone() -> None:
    first = plan_map("a", studies=50, effect_sizes=250, seed=1)
    assert plan_map("a", studies=50, effect_sizes=250, seed=1) == first
    assert plan_map("a", studies=50, effect_sizes=250, seed=2).studies != first.studies


def test_the_same_seed_writes_the_same_rows_and_another_seed_other_rows() -> None:
    evidence_map = generate_map("gen", studies=60, effect_sizes=300, seed=5)
    first = snapshot(evidence_map)
    again = generate_map("gen", studies=60, effect_sizes=300, seed=5, replace=True)
    assert snapshot(again) == first
    other = generate_map("gen", studies=60, effect_sizes=300, seed=6, replace=True)
    assert snapshot(other)["effects"] != first["effects"]


# --- What is written -----------------------------------------------------------------------


def test_counts_and_framework_as_asked(small_map: EvidenceMap) -> None:
    assert small_map.is_published and small_map.description.startswith(generate.GENERATED_MARKER)
    studies = Study.objects.filter(evidence_map=small_map)
    assert studies.count() == STUDIES
    assert EffectSize.objects.filter(study__evidence_map=small_map).count() == EFFECTS
    leaves = Intervention.objects.filter(evidence_map=small_map, parent__isnull=False)
    assert Intervention.objects.filter(evidence_map=small_map, parent=None).count() == 10
    assert leaves.count() == 60
    assert Outcome.objects.filter(evidence_map=small_map, parent=None).count() == 8
    assert Outcome.objects.filter(evidence_map=small_map, parent__isnull=False).count() == 40

    custom = generate_map("grid", studies=30, effect_sizes=90, rows=(3, 2), columns=(2, 4))
    assert Intervention.objects.filter(evidence_map=custom, parent__isnull=False).count() == 6
    assert Outcome.objects.filter(evidence_map=custom, parent__isnull=False).count() == 8
    assert EffectSize.objects.filter(study__evidence_map=custom).count() == 90


def test_studies_look_like_a_real_map(small_map: EvidenceMap) -> None:
    studies = Study.objects.filter(evidence_map=small_map)
    assert studies.filter(status="draft").count() == STUDIES // 20
    qualitative = studies.filter(effect_sizes=None)
    assert qualitative.exists() and not qualitative.filter(interventions=None).exists()
    assert not qualitative.filter(outcomes=None).exists()
    per_study = list(studies.annotate(n=Count("effect_sizes")).values_list("n", flat=True))
    assert min(n for n in per_study if n) == 1 and max(per_study) <= generate.MAX_EFFECTS_PER_STUDY
    assert max(per_study) >= 10
    appraised = studies.exclude(confidence="")
    assert 0.55 < appraised.count() / STUDIES < 0.85
    assert not AppraisalItem.objects.filter(study__evidence_map=small_map, study__confidence="").exists()
    assert AppraisalItem.objects.filter(study__in=appraised).values("study").distinct().count() == appraised.count()
    assert {s.design for s in studies} >= {"rct", "did", "qualitative"}
    years = [s.year for s in studies]
    assert min(years) >= 1990 and max(years) <= 2025 and len(set(years)) > 10
    regions = set(studies.values_list("region", flat=True))
    assert {"Africa", "Asia", "Americas", "Global"} <= regions
    for study in studies:
        assert study.region == region_for([str(c) for c in study.countries], is_global=study.is_global)
    assert any(len(s.countries) > 1 for s in studies)
    assert len({s.title for s in studies}) > STUDIES * 0.9


def test_every_input_kind_is_there_with_plausible_inputs(small_map: EvidenceMap) -> None:
    effects = EffectSize.objects.filter(study__evidence_map=small_map)
    assert set(effects.values_list("input_kind", flat=True)) == set(INPUT_KIND_SPECS)
    odds = effects.filter(input_kind="odds_ratio_ci")
    assert odds.filter(n_1__isnull=True).exists() and odds.filter(n_1__isnull=False).exists()
    assert not effects.filter(input_kind="risk_ratio_ci", baseline_risk__isnull=True).exists()
    assert set(effects.filter(input_kind="f_stat").values_list("direction", flat=True)) <= {1, -1}
    assert effects.filter(ci_level__isnull=False).exists() and effects.filter(ci_level__isnull=True).exists()
    lower = effects.filter(outcome__desirable_direction=Direction.LOWER)
    higher = effects.filter(outcome__desirable_direction=Direction.HIGHER)
    assert lower.exists() and higher.exists()
    # a beneficial effect lowers a "lower is better" outcome
    assert lower.aggregate(g=Avg("g"))["g"] < 0 < higher.aggregate(g=Avg("g"))["g"]


def test_every_effect_size_is_converted_finite_and_its_study_coded(small_map: EvidenceMap) -> None:
    coded_rows = set(Study.interventions.through.objects.values_list("study_id", "intervention_id"))
    coded_cols = set(Study.outcomes.through.objects.values_list("study_id", "outcome_id"))
    for es in EffectSize.objects.filter(study__evidence_map=small_map):
        assert math.isfinite(es.g) and math.isfinite(es.var_g) and es.var_g > 0
        assert es.ci_low_g <= es.g <= es.ci_high_g
        # g is the registry's conversion of the stored input, not a value made up on the side
        inputs = {f: getattr(es, f) for f in INPUT_FIELDS}
        assert es.g == pytest.approx(compute_effect(es.input_kind, inputs).g, rel=1e-12, abs=1e-15)
        assert (es.study_id, es.intervention_id) in coded_rows
        assert (es.study_id, es.outcome_id) in coded_cols


def test_code_sets_and_codings_at_scale(small_map: EvidenceMap) -> None:
    setting, group = CodeSet.objects.filter(evidence_map=small_map)
    assert (setting.name, setting.is_filter, group.name, group.is_filter) == ("Setting", True, "Population group", False)
    assert small_map.segment_code_set == group
    assert Code.objects.filter(code_set=setting, parent__isnull=False).count() == 5
    studies = Study.objects.filter(evidence_map=small_map)
    in_setting = studies.filter(codes__code_set=setting).distinct().count()
    in_group = studies.filter(codes__code_set=group).distinct().count()
    assert 0.75 < in_setting / STUDIES < 0.95 and 0.6 < in_group / STUDIES < 0.9
    per_study = studies.annotate(n=Count("codes")).values_list("n", flat=True)
    assert max(per_study) <= 4 and 0 in per_study
    # Both levels of the tree are used, and a filter by a top-level code takes in its children.
    urban = Code.objects.get(code_set=setting, name="Urban")
    coded = set(Study.codes.through.objects.filter(code__code_set=setting).values_list("code_id", flat=True))
    assert urban.pk in coded and coded & set(urban.children.values_list("pk", flat=True))
    from evidence.filters import StudyFilters

    below = StudyFilters(code=(str(urban.pk),)).apply(studies).count()
    assert studies.filter(codes=urban).count() < below < STUDIES


def test_generated_rows_pass_the_complete_validation(small_map: EvidenceMap) -> None:
    """What the generator leaves to the database (foreign keys, constraints) holds too."""
    for study in Study.objects.filter(evidence_map=small_map)[:25]:
        study.full_clean()
    for es in EffectSize.objects.filter(study__evidence_map=small_map).select_related("study")[:60]:
        es.full_clean()
    for item in AppraisalItem.objects.filter(study__evidence_map=small_map)[:25]:
        item.full_clean()


def test_the_map_renders_and_text_search_finds_some_studies(client, small_map: EvidenceMap) -> None:  # type: ignore[no-untyped-def]
    evidence = map_evidence(small_map)
    assert evidence.n_effects > 0
    assert any(cell.result is not None for cell in evidence.cells.values())
    response = client.get(reverse("portal:map_data", kwargs={"slug": small_map.slug}))
    assert response.status_code == 200
    assert response.json()["cells"]
    assert client.get(reverse("portal:map", kwargs={"slug": small_map.slug})).status_code == 200
    published = Study.objects.published().filter(evidence_map=small_map)
    found = text_search(published, "cash transfer").count()
    assert 0 < found < published.count()


def test_the_summary_reads_back_what_was_written(small_map: EvidenceMap) -> None:
    summary = summarise_map(small_map)
    assert (summary.published, summary.drafts, summary.effect_sizes) == (190, 10, EFFECTS)
    assert summary.leaf_cells == 60 * 40
    assert 0 < summary.cells_with_effects <= summary.non_empty_cells < summary.leaf_cells
    assert summary.busiest is not None and summary.busiest_aggregate is not None
    assert summary.busiest_aggregate.n_effects >= summary.busiest.n_effects
    assert summary.busiest_aggregate.n_studies >= summary.busiest.n_studies


# --- The command ---------------------------------------------------------------------------


def test_the_command_prints_a_summary() -> None:
    out = StringIO()
    call_command("generate_map", "cmd", "--studies", "40", "--effect-sizes", "120", "--rows", "4x3",
                 "--columns", "3x3", "--seed", "9", stdout=out)
    text = out.getvalue()
    assert "generated in" in text and "40: 38 published, 2 drafts" in text
    assert "effect sizes  120" in text and "leaf cells    108:" in text and "busiest leaf" in text
    assert "code sets     Setting: 8 codes, " in text and "; Population group: 6 codes, " in text
    assert Intervention.objects.filter(evidence_map__slug="cmd", parent__isnull=False).count() == 12


@pytest.mark.parametrize("args, message", [
    (["--studies", "10", "--effect-sizes", "201"], "at most 20 effect sizes per study"),
    (["--studies", "0", "--effect-sizes", "0"], "at least 1"),
    (["--studies", "10", "--effect-sizes", "10", "--rows", "10by6"], "not a grid"),
])
def test_impossible_requests_are_clear_errors(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("generate_map", "bad", *args, stdout=StringIO())
    assert not EvidenceMap.objects.exists()


def test_an_existing_slug_without_replace_is_an_error_and_changes_nothing(small_map: EvidenceMap) -> None:
    before, rows = row_counts(), snapshot(small_map)
    with pytest.raises(CommandError, match="exists; use --replace"):
        call_command("generate_map", "gen", "--studies", "10", "--effect-sizes", "20", stdout=StringIO())
    assert row_counts() == before
    assert snapshot(small_map) == rows


def test_replace_swaps_the_whole_map_and_leaves_no_rows_behind(small_map: EvidenceMap) -> None:
    call_command("generate_map", "gen", "--studies", "30", "--effect-sizes", "70", "--replace", stdout=StringIO())
    evidence_map = EvidenceMap.objects.get(slug="gen")
    assert evidence_map.pk != small_map.pk
    assert row_counts() == {
        "maps": 1, "interventions": 70, "outcomes": 48, "studies": 30, "effects": 70,
        "items": AppraisalItem.objects.filter(study__evidence_map=evidence_map).count(),
        "coded rows": Study.interventions.through.objects.filter(study__evidence_map=evidence_map).count(),
        "coded columns": Study.outcomes.through.objects.filter(study__evidence_map=evidence_map).count(),
        "code sets": 2, "codes": len(generate.CODES),
        "codings": Study.codes.through.objects.filter(study__evidence_map=evidence_map).count(),
    }


def test_replace_leaves_a_map_that_it_did_not_make_alone(demo_map: EvidenceMap) -> None:
    before = row_counts()
    with pytest.raises(GenerateError, match="not made by generate_map"):
        generate_map(demo_map.slug, studies=10, effect_sizes=10, replace=True)
    assert row_counts() == before


@pytest.mark.parametrize("replacing", [False, True])
def test_a_failure_midway_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch, replacing: bool) -> None:
    if replacing:
        old = generate_map("gen", studies=40, effect_sizes=100, seed=1)
        old_rows = snapshot(old)
    before = row_counts()
    real_insert = generate._insert

    def insert_then_fail(model: Any, objs: Any) -> None:
        real_insert(model, objs)
        if model is AppraisalItem:  # after the studies, their coding and appraisal
            raise RuntimeError("disk full")

    monkeypatch.setattr(generate, "_insert", insert_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_map("gen", studies=40, effect_sizes=100, seed=2, replace=replacing)
    assert row_counts() == before
    if replacing:
        assert snapshot(EvidenceMap.objects.get(slug="gen")) == old_rows


def test_the_generator_refreshes_the_planner_statistics() -> None:
    """On PostgreSQL the planner must know the new rows at once (else the text filter scans
    every study instead of using its index); SQLite has nothing to refresh."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's")
    generate_map("analysed", studies=STUDIES, effect_sizes=EFFECTS, seed=4)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class WHERE relname IN ('studies_study', 'studies_effectsize')"
        )
        counts = dict(cursor.fetchall())
    assert counts["studies_study"] >= STUDIES
    assert counts["studies_effectsize"] >= EFFECTS
