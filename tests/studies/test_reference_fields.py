"""Studies as real reference lists have them: no year (n.d.), no named author, and the
citation details (short title, volume, issue, pages, keywords) that importers bring in."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from evidence import selectors
from evidence.filters import StudyFilters
from interchange.exports import studies_csv, studies_ris
from studies.models import Study
from tests.factories import EffectSizeFactory, EvidenceMapFactory, StudyFactory

pytestmark = pytest.mark.django_db


def test_a_study_without_a_year_is_valid_and_cited_as_no_date() -> None:
    study = StudyFactory(authors="Smith, A.; Jones, B.", year=None)
    study.full_clean()
    assert study.short_citation == "Smith and Jones (n.d.)"
    assert study.year_text == "n.d."


def test_a_work_without_a_named_author_is_cited_by_its_title() -> None:
    study = StudyFactory.build(authors="", year=2019, title="Annual review of cash transfer programmes in Kenya")
    study.full_clean(exclude=["evidence_map"])
    assert study.short_citation == "“Annual review of cash…” (2019)"


def test_the_database_refuses_an_implausible_year_but_takes_none() -> None:
    evidence_map = EvidenceMapFactory()
    StudyFactory(evidence_map=evidence_map, year=None)
    with transaction.atomic(), pytest.raises(IntegrityError):
        Study.objects.filter(evidence_map=evidence_map).update(year=1200)


def test_validation_still_names_a_bad_year() -> None:
    study = StudyFactory.build(year=1850)
    with pytest.raises(ValidationError) as caught:
        study.full_clean(exclude=["evidence_map"])
    assert "year" in caught.value.message_dict


def test_undated_studies_come_last_in_citation_order_on_every_database() -> None:
    evidence_map = EvidenceMapFactory()
    undated = StudyFactory(evidence_map=evidence_map, authors="Adams, A.", year=None)
    later = StudyFactory(evidence_map=evidence_map, authors="Adams, A.", year=2020)
    earlier = StudyFactory(evidence_map=evidence_map, authors="Adams, A.", year=2001)
    ordered = selectors.studies_by_ids(evidence_map, [undated.pk, later.pk, earlier.pk])
    assert [s.pk for s in ordered] == [earlier.pk, later.pk, undated.pk]
    assert list(Study.objects.filter(evidence_map=evidence_map).values_list("pk", flat=True)) == [
        earlier.pk, later.pk, undated.pk,
    ]


def test_a_year_filter_leaves_out_undated_studies() -> None:
    evidence_map = EvidenceMapFactory()
    dated = StudyFactory(evidence_map=evidence_map, year=2015)
    StudyFactory(evidence_map=evidence_map, year=None)
    filters = StudyFilters.from_query({"year_min": "2010"})
    assert list(filters.apply(Study.objects.filter(evidence_map=evidence_map))) == [dated]
    assert Study.objects.filter(evidence_map=evidence_map).count() == 2


def test_exports_write_the_citation_details_and_leave_an_unknown_year_empty() -> None:
    study = StudyFactory(
        year=None, source="Journal of Development Effectiveness", volume="12", issue="3", pages="201-230",
        keywords="cash transfers\nschooling\n",
    )
    rows = list(csv.DictReader(io.StringIO(studies_csv([study]))))
    assert rows[0]["year"] == ""
    assert (rows[0]["volume"], rows[0]["issue"], rows[0]["pages"]) == ("12", "3", "201-230")
    ris = studies_ris([study]).split("\r\n")
    assert not any(line.startswith("PY") for line in ris)
    for line in ("VL  - 12", "IS  - 3", "SP  - 201", "EP  - 230", "KW  - cash transfers", "KW  - schooling"):
        assert line in ris


def test_pages_show_an_undated_anonymous_study(client) -> None:  # type: ignore[no-untyped-def]
    effect = EffectSizeFactory(study__authors="", study__year=None, study__title="Evaluation of a voucher scheme")
    study = effect.study
    page = client.get(reverse("portal:study", kwargs={"slug": study.evidence_map.slug, "pk": study.pk}))
    assert page.status_code == 200
    assert "(n.d.). Evaluation of a voucher scheme." in page.content.decode()
    cell = client.get(reverse("portal:cell", kwargs={
        "slug": study.evidence_map.slug, "intervention_id": effect.intervention_id, "outcome_id": effect.outcome_id,
    }))
    assert cell.status_code == 200
    html = cell.content.decode()
    assert "“Evaluation of a voucher…” (n.d.)" in html  # the short citation, in the table
    assert "(n.d.). Evaluation of a voucher scheme." in html  # the full one, in the study list


def test_the_api_gives_null_for_an_unknown_year_and_the_citation_details() -> None:
    study = StudyFactory(year=None, short_title="Smith (n.d.)", volume="4", issue="", pages="1-9", keywords="a\nb")
    body = APIClient().get(f"/api/v1/studies/{study.pk}/").json()
    assert body["year"] is None
    assert (body["short_title"], body["volume"], body["issue"], body["pages"], body["keywords"]) == (
        "Smith (n.d.)", "4", None, "1-9", "a\nb",  # missing text is null, as a missing year
    )
