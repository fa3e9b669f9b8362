"""Reads for the public pages and the API: published data only."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from evidence.models import EvidenceMap
from studies.models import Status, Study


def published_maps() -> QuerySet[EvidenceMap]:
    return EvidenceMap.objects.filter(is_published=True).annotate(
        n_studies=Count("studies", filter=Q(studies__status=Status.PUBLISHED))
    )


def published_map(slug: str) -> EvidenceMap:
    return get_object_or_404(EvidenceMap, slug=slug, is_published=True)


def published_study(evidence_map: EvidenceMap, pk: int) -> Study:
    return get_object_or_404(
        Study.objects.filter(evidence_map=evidence_map, status=Status.PUBLISHED).prefetch_related(
            "effect_sizes__intervention", "effect_sizes__outcome", "appraisal_items"
        ),
        pk=pk,
    )
