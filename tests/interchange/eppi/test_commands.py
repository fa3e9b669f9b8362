"""manage.py import_eppi and generate_eppi as a reviewer runs them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from evidence.models import EvidenceMap
from interchange.eppi.generate import DEFECTS, ERROR_DEFECTS, generate_eppi
from studies.models import EffectSize, Study
from tests.factories import map_creator

pytestmark = pytest.mark.django_db

OPTIONS = ["--rows", "1001", "--columns", "1002", "--designs", "1003", "--countries", "1004",
           "--segments", "1003", "--filters", "1005,1006"]


def command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_eppi", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "review.json"
    path.write_bytes(generate_eppi(references=30, outcomes=60, seed=9).to_bytes("utf-8-sig"))
    return path


def test_the_tree_shows_each_code_set_and_code_with_its_id(export: Path) -> None:
    out, _ = command(str(export), "--tree")
    lines = out.splitlines()
    assert lines[0] == "SetId 1001  Interventions (70 codes)"
    assert any(line.startswith("  5100") and "Social protection" in line for line in lines)
    assert any(line.startswith("SetId 1003  Study design") for line in lines)
    assert not EvidenceMap.objects.exists()


def test_an_import_shows_progress_the_plan_and_the_report(export: Path) -> None:
    user = map_creator("ana")
    out, err = command(str(export), "--map", "review", "--create", "--title", "Review", "--user", "ana", *OPTIONS)
    assert "Reading the file:" in err and "Writing effect sizes:" in err
    assert "Map “Review” (review) — new" in out
    assert "  studies       30 to create, 0 to update, 0 unchanged" in out
    assert "SMD compared with the source's" in out
    assert out.rstrip().splitlines()[-1].startswith("Imported in ")
    assert set(Study.history.values_list("history_user", flat=True)) == {user.pk}  # type: ignore[attr-defined]
    out, err = command(str(export), "--map", "review", *OPTIONS)
    assert out.rstrip().endswith("The map already holds everything in the file: nothing to change.")
    assert "Writing" not in err


def test_a_dry_run_says_so(export: Path) -> None:
    out, _ = command(str(export), "--map", "review", "--create", "--title", "Review", "--dry-run", *OPTIONS)
    assert out.rstrip().endswith("Dry run: nothing was written.")
    assert not Study.objects.exists()


def test_a_file_with_errors_fails_and_writes_its_report(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    bad = generate_eppi(references=40, outcomes=80, seed=9, defects=list(ERROR_DEFECTS))
    path.write_bytes(bad.to_bytes())
    report = tmp_path / "report.txt"
    with pytest.raises(CommandError, match=r"errors in the file; nothing was imported"):
        command(str(path), "--map", "review", "--create", "--title", "Review", "--report", str(report), *OPTIONS)
    text = report.read_text(encoding="utf-8")
    assert text.startswith("Errors (nothing is imported until they are fixed):")
    for records in bad.defects.values():
        for record in records:
            assert record in text
    assert not EffectSize.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rows", "1001", "--columns", "1002"], "--map SLUG is required"),
        (["--map", "x", "--create", "--rows", "1", "--columns", "2"], "--create needs --title"),
        (["--map", "x", "--columns", "2"], "--rows IDS is required"),
        (["--map", "x", "--rows", "1", "--columns", "2", "--user", "nobody"], "There is no user “nobody”"),
    ],
)
def test_options_are_checked(export: Path, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        command(str(export), *args)


def test_generate_eppi_writes_the_file_it_says(tmp_path: Path) -> None:
    path = tmp_path / "made.json"
    out = io.StringIO()
    call_command("generate_eppi", str(path), "--references", "25", "--outcomes", "40", "--codings", "100",
                 "--seed", "4", "--defects", "no-year,unknown-attribute", "--encoding", "utf-8", stdout=out)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert len(data["References"]) == 25
    assert "25 references, 101 codings, 40 outcomes" in out.getvalue()  # the defect adds a code
    assert "defect unknown-attribute: ItemId" in out.getvalue()
    assert "--rows 1001 --columns 1002" in out.getvalue()
    with pytest.raises(CommandError, match="unknown defects"):
        call_command("generate_eppi", str(path), "--references", "5", "--outcomes", "0", "--defects", "typo")
    assert set(DEFECTS) >= {"no-year", "unknown-attribute"}
