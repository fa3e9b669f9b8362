"""The map as EPPI-Reviewer JSON: its shape, ids, outcome types, who sees what, and the command."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from evidence.models import Code, CodeSet, EvidenceMap
from interchange.eppi.export import export_map
from interchange.eppi.outcomes import to_input
from interchange.eppi.read import read_file
from interchange.generate import generate_map
from interchange.importing.report import Report
from studies.effect_sizes.registry import compute_effect
from studies.models import EffectSize, Status, Study
from tests.factories import EvidenceMapFactory

pytestmark = pytest.mark.django_db
SLUG = "human-rights-diplomacy"


def references(data: dict[str, object]) -> dict[str, dict[str, object]]:
    return {str(r["Title"]): r for r in data["References"]}  # type: ignore[attr-defined,index]


def test_the_export_reads_back_without_a_problem(demo_map: EvidenceMap) -> None:
    data = export_map(demo_map, None).data
    report = Report()
    eppi = read_file(json.dumps(data).encode(), report)
    assert report.problems == []
    names = [s.name for s in eppi.code_sets]
    assert names[:2] == ["Framework rows", "Framework columns"]
    assert set(CodeSet.objects.filter(evidence_map=demo_map).values_list("name", flat=True)) <= set(
        names
    )
    # Every AttributeId and ItemId is a whole number, unique in the file.
    assert len(eppi.attributes) == sum(1 for _ in eppi.attributes)
    assert len({r.item_id for r in eppi.references}) == len(eppi.references)


def test_external_ids_are_kept_and_missing_ones_generated_stably(demo_map: EvidenceMap) -> None:
    study = Study.objects.filter(evidence_map=demo_map, status=Status.PUBLISHED).first()
    assert study is not None
    Study.objects.filter(pk=study.pk).update(external_id="77123")
    code = Code.objects.filter(code_set__evidence_map=demo_map).first()
    assert code is not None
    Code.objects.filter(pk=code.pk).update(external_id="not-a-number")
    first, second = export_map(demo_map, None).data, export_map(demo_map, None).data
    assert first == second
    ids = [r["ItemId"] for r in first["References"]]  # type: ignore[attr-defined,index]
    assert [r["Title"] for r in first["References"] if r["ItemId"] == 77123] == [study.title]  # type: ignore[attr-defined,index]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids)
    report = Report()
    names = [a.name for a in read_file(json.dumps(first).encode(), report).attributes.values()]
    assert code.name in names  # its id is generated, since "not-a-number" cannot be an AttributeId


def test_each_outcome_reproduces_our_g() -> None:
    generated = generate_map(
        "generated", studies=30, effect_sizes=150, rows=(2, 2), columns=(2, 2), seed=2
    )
    data = export_map(generated, None).data
    effects = EffectSize.objects.filter(
        study__evidence_map=generated, study__status=Status.PUBLISHED
    )
    exported = []
    types = set()
    for reference in data["References"]:  # type: ignore[attr-defined]
        for outcome in reference["Outcomes"]:
            types.add(outcome["OutcomeTypeId"])
            mapped = to_input(outcome["OutcomeTypeId"], [outcome[f"Data{i}"] for i in range(1, 15)])
            estimate = compute_effect(mapped.input_kind, mapped.inputs)
            exported.append((estimate.g, estimate.vg))
            assert estimate.g == pytest.approx(outcome["SMD"], abs=1e-12)
            assert estimate.vg == pytest.approx(outcome["SESMD"] ** 2, rel=1e-12)
    expected = sorted(effects.values_list("g", "var_g"))
    assert len(exported) == len(expected)
    for (g, vg), (our_g, our_vg) in zip(sorted(exported), expected, strict=True):
        assert (g, vg) == (pytest.approx(our_g, abs=1e-12), pytest.approx(our_vg, rel=1e-12))
    assert types == {
        0,
        1,
        2,
        5,
        7,
    }  # means, 2 x 2 counts, t and r as their data; the rest as g and its SE


def test_readers_get_published_studies_members_get_drafts(
    client: Client, demo_map: EvidenceMap, reviewer
) -> None:  # type: ignore[no-untyped-def]
    url = reverse("interchange:map_eppi_json", kwargs={"slug": SLUG})
    draft = Study.objects.get(evidence_map=demo_map, status=Status.DRAFT)
    response = client.get(url)
    assert response["Content-Disposition"] == f'attachment; filename="{SLUG}-eppi.json"'
    titles = set(references(json.loads(response.content)))
    assert titles == set(
        Study.objects.filter(evidence_map=demo_map, status=Status.PUBLISHED).values_list(
            "title", flat=True
        )
    )
    client.force_login(reviewer)
    assert draft.title in references(json.loads(client.get(url).content))


def test_an_unpublished_map_is_not_found_for_readers(client: Client, reviewer) -> None:  # type: ignore[no-untyped-def]
    hidden = EvidenceMapFactory(is_published=False)
    url = reverse("interchange:map_eppi_json", kwargs={"slug": hidden.slug})
    assert client.get(url).status_code == 404
    client.force_login(reviewer)
    assert client.get(url).status_code == 200


def test_the_map_page_links_the_export(client: Client, demo_map: EvidenceMap) -> None:
    page = client.get(reverse("portal:map", kwargs={"slug": SLUG})).content.decode()
    assert reverse("interchange:map_eppi_json", kwargs={"slug": SLUG}) in page


def test_the_command_writes_the_file_and_says_how_to_import_it(
    demo_map: EvidenceMap, tmp_path: Path
) -> None:
    path = tmp_path / "map.json"
    out = io.StringIO()
    call_command("export_eppi", str(path), "--map", SLUG, stdout=out)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert len(data["References"]) == Study.objects.filter(evidence_map=demo_map).count()
    assert (
        f"manage.py import_eppi {path} --map NEW-SLUG --create --title TITLE --rows "
        in out.getvalue()
    )
    call_command("export_eppi", str(path), "--map", SLUG, "--published-only", stdout=io.StringIO())
    published = Study.objects.filter(evidence_map=demo_map, status=Status.PUBLISHED).count()
    assert len(json.loads(path.read_text(encoding="utf-8"))["References"]) == published
    with pytest.raises(CommandError, match="There is no map “nowhere”"):
        call_command("export_eppi", str(path), "--map", "nowhere")


def test_the_download_costs_a_fixed_number_of_queries(client: Client, demo_map: EvidenceMap, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    url = reverse("interchange:map_eppi_json", kwargs={"slug": SLUG})
    # The map's latest release (portal.releases: none, so the working copy); the map; its code
    # sets, codes, rows and columns; the studies and their codes, rows and columns; the effect
    # sizes.
    with django_assert_num_queries(11):
        assert client.get(url).status_code == 200
