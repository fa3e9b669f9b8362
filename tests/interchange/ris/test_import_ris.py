"""RIS citations into a map: fields, duplicates, the report, all or nothing, idempotence, encodings."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from evidence.models import EvidenceMap
from interchange.ris.convert import normalise_title, split_author
from interchange.ris.pipeline import import_ris
from studies.models import Study
from tests.conftest import grant
from tests.factories import EvidenceMapFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db

RIS = """TY  - JOUR
ID  - cash-2014
AU  - Baird, Sarah J.
AU  - McIntosh, Craig
AU  - Özler, Berk
TI  - Cash or condition? Evidence from a cash transfer experiment
JO  - The Quarterly Journal of Economics
PY  - 2011/11/01/
VL  - 126
IS  - 4
SP  - 1709
EP  - 1753
DO  - https://doi.org/10.1093/QJE/QJR032
UR  - https://academic.oup.com/qje/article/126/4/1709/1922303
AB  - We test whether conditions matter.
KW  - cash transfers
KW  - schooling
ER  -

TY  - RPRT
AU  - World Bank
TI  - Social protection in Africa: a review
PY  - 2019
ER  -

TY  - JOUR
AU  - Smith, J.
TI  - Undated working paper on microfinance
ER  -
"""


def ris_file(text: str = RIS, *, bom: bool = False, encoding: str = "utf-8") -> bytes:
    data = text.encode(encoding)
    return b"\xef\xbb\xbf" + data if bom else data


def studies(slug: str = "ris") -> list[tuple[object, ...]]:
    return list(
        Study.objects.filter(evidence_map__slug=slug)
        .order_by("pk")
        .values_list(
            "title",
            "authors",
            "year",
            "source",
            "volume",
            "issue",
            "pages",
            "doi",
            "url",
            "abstract",
            "keywords",
            "status",
            "design",
            "external_id",
        )
    )


def history_rows() -> int:
    return Study.history.count()  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def evidence_map() -> EvidenceMap:
    return EvidenceMapFactory(slug="ris")  # type: ignore[no-any-return]


def test_citations_become_draft_studies_with_every_field(evidence_map: EvidenceMap) -> None:
    user = UserFactory(username="ana")
    grant(user, evidence_map, "reviewer")
    result = import_ris(ris_file(), slug="ris", user=user, source_name="search.ris")
    assert result.written and not result.report.errors
    first, second, third = studies()
    assert first[:11] == (
        "Cash or condition? Evidence from a cash transfer experiment",
        "Baird SJ; McIntosh C; Özler B",
        2011,
        "The Quarterly Journal of Economics",
        "126",
        "4",
        "1709-1753",
        "10.1093/qje/qjr032",
        "https://academic.oup.com/qje/article/126/4/1709/1922303",
        "We test whether conditions matter.",
        "cash transfers\nschooling",
    )
    assert first[11:13] == ("draft", "other") and first[13].startswith("ris:")
    assert second[1:3] == ("World Bank", 2019)  # an organisation keeps its name
    assert third[1:3] == ("Smith J", None)
    assert set(Study.history.values_list("history_user__username", "history_change_reason")) == {  # type: ignore[attr-defined]
        ("ana", "Imported from search.ris")
    }


def test_authors_are_split_into_surname_and_initials() -> None:
    assert split_author("Baird, Sarah J.") == "Baird SJ"
    assert split_author("  de la Cruz,  Ana-María ") == "de la Cruz AM"
    assert split_author("Smith, J., Jr.") == "Smith J"
    assert split_author("UNICEF") == "UNICEF"
    assert normalise_title("The Effect of Cash-Transfers.") == normalise_title(
        "the effect of cash transfers"
    )


def test_a_record_with_no_year_or_abstract_is_imported_and_listed(
    evidence_map: EvidenceMap,
) -> None:
    result = import_ris(ris_file(), slug="ris", user=None)
    assert result.written
    no_year = [(p.record, p.field) for p in result.report.problems if p.kind == "no_year"]
    no_abstract = [(p.record, p.field) for p in result.report.problems if p.kind == "no_abstract"]
    assert no_year == [("record 3", "PY")]
    assert no_abstract == [("record 2", "AB"), ("record 3", "AB")]
    assert Study.objects.filter(evidence_map=evidence_map, year=None).count() == 1


def test_citations_on_the_map_are_listed_not_written(evidence_map: EvidenceMap) -> None:
    by_doi = StudyFactory(
        evidence_map=evidence_map, doi="10.1093/qje/qjr032", title="Another title", year=2011
    )
    by_title = StudyFactory(
        evidence_map=evidence_map, doi="", title="SOCIAL PROTECTION IN AFRICA — A REVIEW", year=2019
    )
    StudyFactory(
        evidence_map=evidence_map, doi="", title="Undated working paper on microfinance", year=2015
    )
    before = history_rows()
    result = import_ris(ris_file(), slug="ris", user=None)
    assert result.written
    duplicates = {
        p.record: (p.field, p.message) for p in result.report.problems if p.kind == "duplicate"
    }
    assert duplicates == {
        "record 1 (ID cash-2014)": (
            "DO",
            f"same DOI 10.1093/qje/qjr032 as the map's study {by_doi.short_citation} (id {by_doi.pk}); not imported",
        ),
        "record 2": (
            "TI, PY",
            f"same title and year as the map's study {by_title.short_citation} (id {by_title.pk}); not imported",
        ),
    }
    # Same title, another year: not a duplicate.
    assert Study.objects.filter(evidence_map=evidence_map).count() == 4
    assert history_rows() == before + 1
    assert not [p for p in result.report.problems if p.kind == "missing"]


def test_duplicates_within_the_file_are_listed_not_written(evidence_map: EvidenceMap) -> None:
    again = (
        RIS
        + "TY  - JOUR\nTI  - Cash or Condition? Evidence from a cash-transfer experiment\nDO  - 10.1093/qje/qjr032\nER  - \n"
    )
    again += "TY  - JOUR\nTI  - Social protection in Africa. A review\nPY  - 2019\nER  - \n"
    result = import_ris(ris_file(again), slug="ris", user=None)
    assert result.written
    duplicates = {p.record: p.message for p in result.report.problems if p.kind == "duplicate"}
    assert duplicates == {
        "record 4": "same DOI 10.1093/qje/qjr032 as record 1 (ID cash-2014) of the file; not imported",
        "record 5": "same title and year as record 2 of the file; not imported",
    }
    assert len(studies()) == 3


def test_the_same_file_twice_writes_nothing_the_second_time(evidence_map: EvidenceMap) -> None:
    assert import_ris(ris_file(), slug="ris", user=None).written
    before, rows, version = (
        studies(),
        history_rows(),
        EvidenceMap.objects.get(slug="ris").members_version,
    )
    result = import_ris(ris_file(), slug="ris", user=None)
    assert not result.written and not result.report.errors
    assert result.plan is not None and not result.plan.has_changes
    assert (studies(), history_rows(), EvidenceMap.objects.get(slug="ris").members_version) == (
        before,
        rows,
        version,
    )
    assert len([p for p in result.report.problems if p.kind == "duplicate"]) == 3


def test_an_edited_study_is_not_written_back(evidence_map: EvidenceMap) -> None:
    import_ris(ris_file(), slug="ris", user=None)
    Study.objects.filter(year=None).update(title="Microfinance and small firms")
    rows = history_rows()
    result = import_ris(ris_file(), slug="ris", user=None)
    assert not result.written and history_rows() == rows
    assert Study.objects.filter(title="Microfinance and small firms").exists()


def test_every_problem_is_reported_at_once_and_nothing_is_written(
    evidence_map: EvidenceMap,
) -> None:
    StudyFactory(evidence_map=evidence_map, title="Kept")
    before, rows = studies(), history_rows()
    bad = (
        RIS.replace("PY  - 2019", "PY  - 19xx")
        + "TY  - JOUR\nAU  - Nobody, N.\nPY  - 2020\nER  - \n"
    )
    bad += "TY  - JOUR\nTI  - From the future\nPY  - 2999\nER  - \n"
    result = import_ris(ris_file(bad), slug="ris", user=None)
    assert not result.written
    errors = {(p.record, p.field): p.message for p in result.report.errors}
    assert errors == {
        ("record 2", "PY"): "“19xx” is not a year (four digits, such as 2014)",
        ("record 4", "TI"): "is empty; a study needs a title",
        ("record 5", "PY"): "The year 2999 is in the future.",
    }
    assert (studies(), history_rows()) == (before, rows)


def test_a_dry_run_shows_the_plan_and_writes_nothing(evidence_map: EvidenceMap) -> None:
    result = import_ris(ris_file(), slug="ris", user=None, dry_run=True)
    assert not result.written and result.plan is not None
    assert "  studies       3 to create, 0 to update, 0 unchanged" in result.plan.lines()
    assert studies() == [] and history_rows() == 0


def test_utf8_with_a_byte_order_mark_is_read(evidence_map: EvidenceMap) -> None:
    result = import_ris(ris_file(bom=True), slug="ris", user=None)
    assert result.written
    assert studies()[0][1] == "Baird SJ; McIntosh C; Özler B"


def test_another_encoding_is_refused_with_where_and_why(evidence_map: EvidenceMap) -> None:
    result = import_ris(ris_file(encoding="windows-1252"), slug="ris", user=None)
    assert not result.written and result.plan is None
    messages = [p.message for p in result.report.errors]
    assert messages[0] == "text that is not UTF-8: byte 0xD6 at line 5, column 7"
    assert "it looks like Windows-1252" in messages[-1] and "in.ris > out.ris" in messages[-1]
    assert studies() == []


def test_a_file_that_is_not_ris_is_refused(evidence_map: EvidenceMap) -> None:
    result = import_ris(b'{"References": []}', slug="ris", user=None)
    assert not result.written
    assert [p.kind for p in result.report.errors] == ["structure"]


def test_an_unknown_map_is_named() -> None:
    result = import_ris(ris_file(), slug="nowhere", user=None)
    assert [p.message for p in result.report.errors] == [
        "there is no map “nowhere”; to create it, give a title"
    ]


def command(*args: str) -> str:
    out = io.StringIO()
    call_command("import_ris", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_command_imports_dry_runs_and_refuses(
    evidence_map: EvidenceMap, tmp_path: Path
) -> None:
    grant(UserFactory(username="ana"), EvidenceMap.objects.get(slug="ris"), "reviewer")
    path = tmp_path / "search.ris"
    path.write_bytes(ris_file())
    out = command(str(path), "--map", "ris", "--dry-run")
    assert "studies       3 to create" in out and out.rstrip().endswith(
        "Dry run: nothing was written."
    )
    assert studies() == []
    out = command(str(path), "--map", "ris", "--user", "ana")
    assert "References with no year (1)" in out and out.rstrip().splitlines()[-1].startswith(
        "Imported in "
    )
    out = command(str(path), "--map", "ris")
    assert out.rstrip().endswith("nothing to change.")
    path.write_bytes(ris_file(RIS.replace("PY  - 2019", "PY  - 19xx")))
    with pytest.raises(CommandError, match="1 error in the file; nothing was imported"):
        command(str(path), "--map", "ris")
