"""Reads for the public pages and the API: published data only."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from evidence.models import CellSummary, EvidenceMap
from studies.models import EffectSize, Status, Study


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


# --- Reads for the map, cell and export pages (each one query, whatever the map's size) ---


def map_filter_options(evidence_map: EvidenceMap) -> dict[str, list[str]]:
    """Populations and countries that occur among the map's published studies (one query)."""
    populations: set[str] = set()
    countries: set[str] = set()
    rows = Study.objects.filter(evidence_map=evidence_map, status=Status.PUBLISHED).values_list(
        "population", "countries"
    )
    for population, codes in rows:
        if population:
            populations.add(population)
        countries.update(c for c in str(codes or "").split(",") if c)
    return {"populations": sorted(populations), "countries": sorted(countries)}


def studies_by_ids(evidence_map: EvidenceMap, ids: list[int] | tuple[int, ...]) -> list[Study]:
    """Published studies of a map in citation order (one query; each knows its map)."""
    studies = list(
        Study.objects.filter(evidence_map=evidence_map, status=Status.PUBLISHED, pk__in=ids).order_by(
            "authors", "year", "pk"
        )
    )
    for study in studies:
        study.evidence_map = evidence_map  # links to study pages need the slug, not a query each
    return studies


def effect_sizes_by_ids(ids: list[int] | tuple[int, ...]) -> list[EffectSize]:
    """Effect sizes with their study, row and column (one query)."""
    return list(
        EffectSize.objects.filter(pk__in=ids)
        .select_related("study", "intervention", "outcome")
        .order_by("study__authors", "study__year", "study_id", "pk")
    )


def cell_summary(evidence_map: EvidenceMap, intervention_id: int, outcome_id: int) -> CellSummary | None:
    return CellSummary.objects.filter(
        evidence_map=evidence_map, intervention_id=intervention_id, outcome_id=outcome_id
    ).first()


def outcomes_of_studies(ids: list[int] | tuple[int, ...]) -> dict[int, set[int]]:
    """Outcome id -> ids of the given studies coded with it (one query)."""
    found: dict[int, set[int]] = {}
    for study_id, outcome_id in Study.outcomes.through.objects.filter(study_id__in=ids).values_list(
        "study_id", "outcome_id"
    ):
        found.setdefault(outcome_id, set()).add(study_id)
    return found


def studies_for_export(studies: QuerySet[Study]) -> QuerySet[Study]:
    """Filtered studies with their coded rows and columns (three queries)."""
    return studies.order_by("authors", "year", "pk").prefetch_related("interventions", "outcomes")
