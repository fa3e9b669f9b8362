"""`field__in_ids`: the same rows as `__in`, with the ids sent as one parameter."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from studies.models import EffectSize, Study
from tests.factories import EffectSizeFactory, StudyFactory

pytestmark = pytest.mark.django_db


def test_in_ids_selects_what_in_selects() -> None:
    studies = [StudyFactory() for _ in range(6)]
    effects = [EffectSizeFactory(study=s) for s in studies for _ in range(2)]
    wanted = [studies[0].pk, studies[3].pk, studies[5].pk]
    assert set(Study.objects.filter(pk__in_ids=wanted)) == set(Study.objects.filter(pk__in=wanted))
    by_fk = EffectSize.objects.filter(study_id__in_ids=wanted)
    assert set(by_fk) == {e for e in effects if e.study_id in wanted}
    assert set(EffectSize.objects.filter(study__in_ids=wanted)) == set(by_fk)
    assert not Study.objects.filter(pk__in_ids=[]).exists()
    assert set(Study.objects.exclude(pk__in_ids=wanted)) == set(studies) - set(Study.objects.filter(pk__in=wanted))


def test_thousands_of_ids_are_one_parameter() -> None:
    study = StudyFactory()
    ids = [study.pk, *range(10**6, 10**6 + 20_000)]
    with CaptureQueriesContext(connection) as queries:
        assert list(Study.objects.filter(pk__in_ids=ids)) == [study]
    assert len(queries) == 1 and len(queries[0]["sql"]) < 200_000
