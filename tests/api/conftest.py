from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle

from api import tokens


@pytest.fixture(autouse=True)
def generous_throttle(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests make many anonymous requests in a second: lift the rate (one test lowers it)."""
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "100000/minute"})
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def reviewer_api(reviewer) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    token = tokens.issue(user=reviewer, name="tests")[1]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


class World:
    """A published map with a two-level framework, three published studies and a draft, and two
    code sets (a nested "Setting" offered as a filter, a flat "Funding"); and a draft map. The
    draft study's title and effect are distinctive so leaks are easy to spot."""

    def __init__(self) -> None:
        from evidence.models import Code, CodeSet, Direction
        from studies.models import Status
        from tests.factories import (
            EffectSizeFactory,
            EvidenceMapFactory,
            InterventionFactory,
            OutcomeFactory,
            StudyFactory,
        )

        self.map = EvidenceMapFactory(slug="open-map", title="Open map")
        m = self.map
        self.i_top = InterventionFactory(evidence_map=m, name="Top intervention", position=0)
        self.i_a = InterventionFactory(evidence_map=m, parent=self.i_top, name="Child A", position=0)
        self.i_b = InterventionFactory(evidence_map=m, parent=self.i_top, name="Child B", position=1)
        self.o_top = OutcomeFactory(evidence_map=m, name="Top outcome")
        self.o_x = OutcomeFactory(evidence_map=m, parent=self.o_top, name="Outcome X",
                                  desirable_direction=Direction.LOWER)
        self.kenya = StudyFactory(evidence_map=m, title="Schools in Kenya", year=2012, design="rct",
                                  confidence="high", countries=["KE"], population="children")
        self.peru = StudyFactory(evidence_map=m, title="Clinics in Peru", year=2018, design="did",
                                 confidence="low", countries=["PE"], population="adults")
        self.india = StudyFactory(evidence_map=m, title="Markets in India", year=2020, design="rct",
                                  confidence="medium", countries=["IN"], population="adults")
        self.draft = StudyFactory(evidence_map=m, title="SECRET DRAFT study", year=2019, status=Status.DRAFT,
                                  countries=["KE"])
        self.es_kenya = EffectSizeFactory(study=self.kenya, intervention=self.i_a, outcome=self.o_x, es_value=0.3)
        self.es_peru = EffectSizeFactory(study=self.peru, intervention=self.i_a, outcome=self.o_x, es_value=0.1)
        self.es_india = EffectSizeFactory(study=self.india, intervention=self.i_b, outcome=self.o_x, es_value=0.5)
        self.es_draft = EffectSizeFactory(study=self.draft, intervention=self.i_a, outcome=self.o_x,
                                          es_value=9.99, es_se=0.5)
        self.hidden_map = EvidenceMapFactory(slug="hidden-map", title="Hidden map", is_published=False)
        self.hidden_study = StudyFactory(evidence_map=self.hidden_map, title="SECRET study on a draft map")
        self.hidden_es = EffectSizeFactory(study=self.hidden_study, es_value=7.77)

        # Setting: Urban (Informal settlements, Capital city), Rural. Funding: Public, Private.
        self.setting = CodeSet.objects.create(evidence_map=m, name="Setting", slug="setting", is_filter=True)
        self.urban = Code.objects.create(code_set=self.setting, name="Urban", position=0)
        self.slums = Code.objects.create(code_set=self.setting, name="Informal settlements", parent=self.urban)
        self.capital = Code.objects.create(code_set=self.setting, name="Capital city", parent=self.urban)
        self.rural = Code.objects.create(code_set=self.setting, name="Rural", position=1)
        self.funding = CodeSet.objects.create(evidence_map=m, name="Funding", slug="funding", position=1)
        self.public = Code.objects.create(code_set=self.funding, name="Public")
        self.private = Code.objects.create(code_set=self.funding, name="Private")
        self.kenya.codes.set([self.slums, self.public])
        self.peru.codes.set([self.rural, self.private])
        self.india.codes.set([self.urban, self.public, self.private])
        self.draft.codes.set([self.slums, self.public])
        self.hidden_set = CodeSet.objects.create(evidence_map=self.hidden_map, name="Setting", slug="setting")
        self.hidden_code = Code.objects.create(code_set=self.hidden_set, name="SECRET code")
        self.hidden_study.codes.set([self.hidden_code])


@pytest.fixture
def world(db) -> World:  # type: ignore[no-untyped-def]
    return World()
