"""Reads for the partner API: what a client may see, and how fresh it is.

Anonymous clients see published maps and their published studies only. Authenticated
reviewers (users who may view studies) also see draft maps and draft studies.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, IntegerField, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from evidence.models import CellSummary, EvidenceMap, Intervention, Outcome
from studies.models import EffectSize, Status, Study

User = AbstractBaseUser | AnonymousUser


def can_see_drafts(user: User | None) -> bool:
    """Reviewers who may view studies see drafts too; anonymous clients never do."""
    has_perm = getattr(user, "has_perm", None)
    return bool(user is not None and user.is_authenticated and has_perm and has_perm("studies.view_study"))


def visible_maps(user: User | None) -> QuerySet[EvidenceMap]:
    maps = EvidenceMap.objects.all()
    if not can_see_drafts(user):
        maps = maps.filter(is_published=True)
    return maps


def visible_studies(user: User | None) -> QuerySet[Study]:
    studies = Study.objects.all()
    if not can_see_drafts(user):
        studies = studies.filter(status=Status.PUBLISHED, evidence_map__is_published=True)
    return studies


def visible_effect_sizes(user: User | None) -> QuerySet[EffectSize]:
    effects = EffectSize.objects.all()
    if not can_see_drafts(user):
        effects = effects.filter(study__status=Status.PUBLISHED, study__evidence_map__is_published=True)
    return effects


# --- Freshness: one query gives a map (or every map) with what its ETag is computed from ---


def _per_map(queryset: QuerySet[Any], **aggregate: Any) -> Subquery:
    (name, expression), = aggregate.items()
    return Subquery(
        queryset.filter(evidence_map=OuterRef("pk"))
        .order_by()
        .values("evidence_map")
        .annotate(**{name: expression})
        .values(name)[:1]
    )


def with_versions(maps: QuerySet[EvidenceMap]) -> QuerySet[EvidenceMap]:
    """Annotate each map with the latest change and the row counts of everything on it.

    Counts are included so that deleting a study or an effect size changes the version
    even though no remaining row has a newer `updated_at`.
    """
    effects = (
        EffectSize.objects.filter(study__evidence_map=OuterRef("pk")).order_by().values("study__evidence_map")
    )

    def zero(expression: Subquery) -> Coalesce:
        return Coalesce(expression, 0, output_field=IntegerField())

    published = Study.objects.filter(status=Status.PUBLISHED)
    return maps.annotate(
        v_studies_max=_per_map(Study.objects.all(), m=Max("updated_at")),
        v_studies_n=zero(_per_map(Study.objects.all(), n=Count("pk"))),
        v_effects_max=Subquery(effects.annotate(m=Max("updated_at")).values("m")[:1]),
        v_effects_n=zero(Subquery(effects.annotate(n=Count("pk")).values("n")[:1])),
        v_summaries_max=_per_map(CellSummary.objects.all(), m=Max("updated_at")),
        v_summaries_n=zero(_per_map(CellSummary.objects.all(), n=Count("pk"))),
        v_interventions=zero(_per_map(Intervention.objects.all(), n=Count("pk"))),
        v_outcomes=zero(_per_map(Outcome.objects.all(), n=Count("pk"))),
        n_published_studies=zero(_per_map(published, n=Count("pk"))),
    )


_VERSION_FIELDS = (
    "pk", "updated_at", "is_published", "v_studies_max", "v_studies_n", "v_effects_max", "v_effects_n",
    "v_summaries_max", "v_summaries_n", "v_interventions", "v_outcomes",
)


@dataclass(frozen=True)
class Version:
    """What a conditional GET compares: an opaque tag and the time of the latest change."""

    tag: str
    last_modified: datetime | None


def version_of(maps: Iterable[EvidenceMap], *, salt: str = "") -> Version:
    """The version of the given (annotated) maps; `salt` adds what else the response depends on."""
    digest = hashlib.sha256(salt.encode())
    latest: datetime | None = None
    for evidence_map in maps:
        values = [getattr(evidence_map, name, None) for name in _VERSION_FIELDS]
        digest.update(repr(values).encode())
        for value in values:
            if isinstance(value, datetime) and (latest is None or value > latest):
                latest = value
    return Version(tag=digest.hexdigest()[:32], last_modified=latest)


# --- Framework trees ---


@dataclass(frozen=True)
class TreeNode:
    id: int
    name: str
    description: str
    parent_id: int | None
    depth: int
    position: int
    children: tuple[int, ...]
    desirable_direction: str | None = None


def framework_tree(model: type[Intervention] | type[Outcome], evidence_map: EvidenceMap) -> list[TreeNode]:
    """A map's interventions or outcomes in display order, depth first (one query)."""
    fields = ["id", "name", "description", "parent_id", "position"]
    if model is Outcome:
        fields.append("desirable_direction")
    by_parent: dict[int | None, list[dict[str, Any]]] = defaultdict(list)
    for row in model.objects.filter(evidence_map=evidence_map).values(*fields):
        by_parent[row["parent_id"]].append(row)
    for siblings in by_parent.values():
        siblings.sort(key=lambda r: (r["position"], r["name"]))
    nodes: list[TreeNode] = []

    def walk(parent: int | None, depth: int) -> None:
        for row in by_parent.get(parent, []):
            nodes.append(
                TreeNode(
                    id=row["id"], name=row["name"], description=row["description"], parent_id=parent,
                    depth=depth, position=row["position"],
                    children=tuple(c["id"] for c in by_parent.get(row["id"], [])),
                    desirable_direction=row.get("desirable_direction"),
                )
            )
            walk(row["id"], depth + 1)

    walk(None, 0)
    return nodes


def with_descendants(
    model: type[Intervention] | type[Outcome], node_id: int, map_ids: Iterable[int]
) -> set[int]:
    """A node of one of the given maps and every node below it; empty if there is no such node.

    One query: every node of the node's map.
    """
    rows = list(
        model.objects.filter(
            evidence_map__in=model.objects.filter(pk=node_id, evidence_map__in=list(map_ids)).values("evidence_map")
        ).values_list("id", "parent_id")
    )
    children: dict[int | None, list[int]] = defaultdict(list)
    for pk, parent in rows:
        children[parent].append(pk)
    if node_id not in {pk for pk, _ in rows}:
        return set()
    found, stack = set(), [node_id]
    while stack:
        current = stack.pop()
        found.add(current)
        stack.extend(children.get(current, []))
    return found


# --- Lists ---


def study_list(studies: QuerySet[Study]) -> QuerySet[Study]:
    """Studies with their map and codings: the page, then one query per coding."""
    return (
        studies.select_related("evidence_map")
        .prefetch_related(
            Prefetch("interventions", queryset=Intervention.objects.only("id")),
            Prefetch("outcomes", queryset=Outcome.objects.only("id")),
        )
        .order_by("authors", "year", "pk")
    )


def effect_size_list(effects: QuerySet[EffectSize]) -> QuerySet[EffectSize]:
    return effects.select_related("study__evidence_map").order_by("study__authors", "study__year", "study_id", "pk")


def studies_in_map(
    studies: QuerySet[Study], *, evidence_map: EvidenceMap | None = None,
    interventions: set[int] | None = None, outcomes: set[int] | None = None,
) -> QuerySet[Study]:
    if evidence_map is not None:
        studies = studies.filter(evidence_map=evidence_map)
    if interventions is not None:
        studies = studies.filter(pk__in=Study.interventions.through.objects.filter(
            intervention_id__in=interventions).values("study_id"))
    if outcomes is not None:
        studies = studies.filter(pk__in=Study.outcomes.through.objects.filter(
            outcome_id__in=outcomes).values("study_id"))
    return studies


def cell_summary_of(evidence_map: EvidenceMap, intervention_id: int, outcome_id: int) -> CellSummary | None:
    return CellSummary.objects.filter(
        evidence_map=evidence_map, intervention_id=intervention_id, outcome_id=outcome_id
    ).first()


def node_belongs(model: type[Intervention] | type[Outcome], evidence_map: EvidenceMap, node_id: int) -> bool:
    return model.objects.filter(Q(evidence_map=evidence_map) & Q(pk=node_id)).exists()
