"""factory_boy factories for the tests that need saved rows (maps, nodes, studies, effect sizes)."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model

from evidence.models import CellSummary, EvidenceMap, Intervention, Outcome
from studies.models import EffectSize, Status, Study


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests")


class EvidenceMapFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EvidenceMap

    title = factory.Sequence(lambda n: f"Map {n}")
    slug = factory.Sequence(lambda n: f"map-{n}")
    is_published = True


class InterventionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Intervention

    evidence_map = factory.SubFactory(EvidenceMapFactory)
    name = factory.Sequence(lambda n: f"Intervention {n}")


class OutcomeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Outcome

    evidence_map = factory.SubFactory(EvidenceMapFactory)
    name = factory.Sequence(lambda n: f"Outcome {n}")


class StudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Study

    evidence_map = factory.SubFactory(EvidenceMapFactory)
    authors = factory.Sequence(lambda n: f"Author{n}, A.")
    year = 2015
    title = factory.Sequence(lambda n: f"Study {n}")
    design = "rct"
    confidence = "medium"
    status = Status.PUBLISHED
    countries = ["KE"]


class EffectSizeFactory(factory.django.DjangoModelFactory):
    """An effect size given as g with its SE; computed fields filled by `compute()`."""

    class Meta:
        model = EffectSize

    study = factory.SubFactory(StudyFactory)
    intervention = factory.LazyAttribute(lambda o: InterventionFactory(evidence_map=o.study.evidence_map))
    outcome = factory.LazyAttribute(lambda o: OutcomeFactory(evidence_map=o.study.evidence_map))
    label = factory.Sequence(lambda n: f"Estimate {n}")
    input_kind = "es_se"
    es_value = 0.2
    es_se = 0.1

    @classmethod
    def _create(cls, model_class: type[EffectSize], *args: object, **kwargs: object) -> EffectSize:
        obj = model_class(*args, **kwargs)
        obj.compute()
        obj.save()
        obj.study.interventions.add(obj.intervention)
        obj.study.outcomes.add(obj.outcome)
        return obj


class CellSummaryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CellSummary

    evidence_map = factory.SubFactory(EvidenceMapFactory)
    intervention = factory.LazyAttribute(lambda o: InterventionFactory(evidence_map=o.evidence_map))
    outcome = factory.LazyAttribute(lambda o: OutcomeFactory(evidence_map=o.evidence_map))
    headline = "A headline"


def map_creator(username: str) -> Any:
    """A user with the permission to create maps (whose creator becomes their publisher)."""
    from django.contrib.auth.models import Permission

    user = UserFactory(username=username)
    user.user_permissions.add(Permission.objects.get(codename="add_evidencemap"))
    return get_user_model().objects.get(pk=user.pk)  # a fresh object: permissions are cached
