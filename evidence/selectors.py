"""Reads for the pages, the exports and the API: who may see what, the framework trees, and
how fresh a map is.

Visibility is decided by the querysets' `visible_to(user)` (studies/models.py and
evidence/models.py) and nowhere else; every read here goes through it. Pooled numbers are
computed by evidence.synthesis from published studies only.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from evidence.models import (
    CellSummary,
    Code,
    CodeSet,
    Direction,
    EvidenceMap,
    Intervention,
    Outcome,
)
from evidence.releases.context import cache_scope
from studies.models import CITATION_ORDER, EFFECT_CITATION_ORDER, EffectSize, Study

FrameworkModel = type[Intervention] | type[Outcome]

# --- Maps ---------------------------------------------------------------------------------


def visible_maps(user: object) -> QuerySet[EvidenceMap]:
    return EvidenceMap.objects.visible_to(user)


def visible_map(slug: str, user: object) -> EvidenceMap:
    return get_object_or_404(visible_maps(user), slug=slug)


def maps_with_counts(user: object) -> QuerySet[EvidenceMap]:
    """The maps a user may see, each with its number of studies that user may see (one query)."""
    return visible_maps(user).annotate(
        n_studies=Subquery(
            Study.objects.visible_to(user).filter(evidence_map=OuterRef("pk")).order_by()
            .values("evidence_map").annotate(n=Count("pk")).values("n")[:1],
            output_field=IntegerField(),
        )
    )


# --- Framework trees ----------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A row or column of the map: a framework node with its place in the tree."""

    id: int
    name: str
    description: str
    parent_id: int | None
    depth: int
    position: int
    ancestors: tuple[int, ...]  # from the root down to and including this node
    children: tuple[int, ...] = ()
    desirable_direction: str | None = None  # outcomes only
    external_id: str = ""  # codes only: the identifier in the source system, if any

    @property
    def higher_is_better(self) -> bool:
        return self.desirable_direction in (None, Direction.HIGHER)


def framework_tree(model: FrameworkModel, evidence_map: EvidenceMap) -> dict[int, Node]:
    """A map's interventions or outcomes by id, in display order: depth first, siblings by
    position then name (one query)."""
    fields = ["id", "name", "description", "parent_id", "position"]
    if model is Outcome:
        fields.append("desirable_direction")
    return _tree(model.objects.filter(evidence_map=evidence_map).values(*fields))


def _tree(rows: Iterable[dict[str, Any]]) -> dict[int, Node]:
    """Nodes by id, depth first, siblings by position then name; a row whose parent is not
    among the rows is left out."""
    by_parent: dict[int | None, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_parent[row["parent_id"]].append(row)
    for siblings in by_parent.values():
        siblings.sort(key=lambda r: (r["position"], r["name"]))
    nodes: dict[int, Node] = {}

    def walk(parent: int | None, ancestors: tuple[int, ...]) -> None:
        for row in by_parent.get(parent, []):
            path = (*ancestors, row["id"])
            nodes[row["id"]] = Node(
                id=row["id"], name=row["name"], description=row["description"], parent_id=parent,
                depth=len(ancestors), position=row["position"], ancestors=path,
                children=tuple(c["id"] for c in by_parent.get(row["id"], [])),
                desirable_direction=row.get("desirable_direction"), external_id=row.get("external_id", ""),
            )
            walk(row["id"], path)

    walk(None, ())
    return nodes


def lower_is_better(evidence_map: EvidenceMap) -> list[str]:
    """Names of the map's outcomes where a lower value is an improvement, in tree order (one query)."""
    nodes = framework_tree(Outcome, evidence_map).values()
    return [n.name for n in nodes if not n.higher_is_better]


@dataclass(frozen=True)
class CodeSetTree:
    """One of a map's code sets with its codes (`Node`s by id, depth first)."""

    id: int
    name: str
    slug: str
    description: str
    external_id: str
    position: int
    is_filter: bool
    is_segment: bool
    codes: dict[int, Node]

    @property
    def code_list(self) -> list[Node]:
        return list(self.codes.values())


def code_set_trees(evidence_map: EvidenceMap, *, filters_only: bool = False) -> list[CodeSetTree]:
    """A map's code sets in order, each with its code tree (two queries); with
    `filters_only`, the sets the map offers as filters."""
    sets = CodeSet.objects.filter(evidence_map=evidence_map)
    if filters_only:
        sets = sets.filter(is_filter=True)
    found = list(sets.values("id", "name", "slug", "description", "external_id", "position", "is_filter"))
    rows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    fields = ("id", "name", "description", "parent_id", "position", "external_id", "code_set_id")
    for row in Code.objects.filter(code_set_id__in=[s["id"] for s in found]).values(*fields):
        rows[row["code_set_id"]].append(row)
    return [
        CodeSetTree(
            **code_set, is_segment=code_set["id"] == evidence_map.segment_code_set_id,
            codes=_tree(rows[code_set["id"]]),
        )
        for code_set in found
    ]


def code_filter_groups(evidence_map: EvidenceMap) -> list[tuple[str, str, list[tuple[int, str, int]]]]:
    """What the map page's form offers for the `code` filter: per code set offered as a
    filter, its name, slug and codes (id, name, depth), depth first (two queries)."""
    return [
        (tree.name, tree.slug, [(node.id, node.name, node.depth) for node in tree.codes.values()])
        for tree in code_set_trees(evidence_map, filters_only=True)
    ]


def segment_choices(evidence_map: EvidenceMap) -> list[tuple[int, str, str]]:
    """The code sets a reader may segment the map's bubbles by, as (id, slug, name) in order:
    those offered as filters and the map's segmenting set (one query)."""
    sets = CodeSet.objects.filter(evidence_map=evidence_map)
    sets = sets.filter(Q(is_filter=True) | Q(pk=evidence_map.segment_code_set_id or 0))
    return list(sets.order_by("position", "name").values_list("pk", "slug", "name"))


def with_descendants(model: FrameworkModel, node_id: int, map_ids: Iterable[int]) -> set[int]:
    """A node of one of the given maps and every node below it; empty if there is no such node.

    One query: every node of the node's map.
    """
    owner = model.objects.filter(pk=node_id, evidence_map__in=list(map_ids)).values_list("evidence_map_id", flat=True)
    rows = list(model.objects.filter(evidence_map_id__in=owner).values_list("id", "parent_id"))
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


# --- Studies and effect sizes -------------------------------------------------------------


def visible_study(evidence_map: EvidenceMap, pk: int, user: object) -> Study:
    return get_object_or_404(
        Study.objects.visible_to(user).filter(evidence_map=evidence_map).prefetch_related(
            "effect_sizes__intervention", "effect_sizes__outcome", "appraisal_items",
            Prefetch("codes", queryset=Code.objects.select_related("code_set").order_by(
                "code_set__position", "code_set__name", "position", "name")),
        ),
        pk=pk,
    )


def public_study_pages() -> Any:
    """Every study an anonymous reader sees, for the sitemap: id, its map's slug and its last
    change (one query per page of the sitemap)."""
    return (
        Study.objects.visible_to(None).order_by("evidence_map_id", "pk")
        .values("pk", "evidence_map__slug", "updated_at")
    )


def map_studies(evidence_map: EvidenceMap, user: object) -> QuerySet[Study]:
    return Study.objects.visible_to(user).filter(evidence_map=evidence_map)


def map_filter_options(evidence_map: EvidenceMap, user: object) -> dict[str, list[Any]]:
    """Populations and countries that occur among the map's visible studies (one query), and
    the code sets the map offers as filters with their codes (two queries)."""
    populations: set[str] = set()
    countries: set[str] = set()
    for population, codes in map_studies(evidence_map, user).values_list("population", "countries"):
        if population:
            populations.add(population)
        countries.update(c for c in str(codes or "").split(",") if c)
    return {"population": sorted(populations), "country": sorted(countries), "code": code_filter_groups(evidence_map)}


def studies_by_ids(evidence_map: EvidenceMap, ids: Iterable[int]) -> list[Study]:
    """Published studies of a map in citation order (one query; each knows its map)."""
    studies = list(
        Study.objects.published().filter(evidence_map=evidence_map, pk__in_ids=ids).order_by(*CITATION_ORDER)
    )
    for study in studies:
        study.evidence_map = evidence_map  # links to study pages need the slug, not a query each
    return studies


def short_citations(ids: Iterable[int]) -> dict[int, str]:
    """Study id -> its short citation ("Smith et al. (2014)") (one query, no abstracts)."""
    studies = Study.objects.filter(pk__in_ids=ids).only("pk", "authors", "year", "title")
    return {s.pk: s.short_citation for s in studies}


def study_ids_in_citation_order(ids: Iterable[int]) -> list[int]:
    """The given studies' ids in the order studies_by_ids lists them (one query, ids only)."""
    studies = Study.objects.published().filter(pk__in_ids=ids)
    return list(studies.order_by(*CITATION_ORDER).values_list("pk", flat=True))


def effect_sizes_by_ids(ids: Iterable[int], *, studies: Iterable[int] | None = None) -> list[EffectSize]:
    """Effect sizes with their study, row and column (one query); only those of `studies`
    when given."""
    effects = EffectSize.objects.filter(pk__in_ids=ids)
    if studies is not None:
        effects = effects.filter(study_id__in_ids=studies)
    return list(
        effects.select_related("study__evidence_map", "intervention", "outcome").order_by(*EFFECT_CITATION_ORDER)
    )


def study_characteristics(ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Study id -> its design, region, confidence and year (one query, no joins)."""
    fields = ("design", "region", "confidence", "year")
    rows = Study.objects.filter(pk__in_ids=ids).order_by().values_list("id", *fields)
    return {row[0]: dict(zip(fields, row[1:], strict=True)) for row in rows}


def study_codes(ids: Iterable[int], code_set_id: int) -> list[tuple[int, int]]:
    """(study id, code id) of the given studies' codes in one code set (one query)."""
    through = Study.codes.through
    return list(
        through.objects.filter(study_id__in=list(ids), code__code_set_id=code_set_id)
        .order_by().values_list("study_id", "code_id")
    )


def outcomes_of_studies(ids: Iterable[int]) -> dict[int, set[int]]:
    """Outcome id -> ids of the given studies coded with it (one query)."""
    found: dict[int, set[int]] = {}
    for study_id, outcome_id in Study.outcomes.through.objects.filter(study_id__in_ids=ids).values_list(
        "study_id", "outcome_id"
    ):
        found.setdefault(outcome_id, set()).add(study_id)
    return found


def study_list(studies: QuerySet[Study]) -> QuerySet[Study]:
    """Studies with their map and codings, in citation order: the rows, then one query per
    coding (rows, columns, codes)."""
    return (
        studies.select_related("evidence_map")
        .prefetch_related(
            Prefetch("interventions", queryset=Intervention.objects.only("id", "name")),
            Prefetch("outcomes", queryset=Outcome.objects.only("id", "name")),
            Prefetch("codes", queryset=Code.objects.only("id", "name", "code_set_id").order_by("code_set_id", "id")),
        )
        .order_by(*CITATION_ORDER)
    )


def studies_for_export(studies: QuerySet[Study]) -> QuerySet[Study]:
    """Studies with their coded rows, columns and codes by name, in citation order (four queries)."""
    return studies.select_related("evidence_map").order_by(*CITATION_ORDER).prefetch_related(
        "interventions", "outcomes", Prefetch("codes", queryset=Code.objects.only("id", "name", "code_set_id")),
    )


def map_code_sets(evidence_map: EvidenceMap) -> list[CodeSet]:
    """A map's code sets in order (one query)."""
    return list(CodeSet.objects.filter(evidence_map=evidence_map))


def effect_size_list(effects: QuerySet[EffectSize]) -> QuerySet[EffectSize]:
    return effects.select_related("study__evidence_map", "intervention", "outcome").order_by(*EFFECT_CITATION_ORDER)


def studies_in_nodes(
    studies: QuerySet[Study], *, interventions: set[int] | None = None, outcomes: set[int] | None = None,
) -> QuerySet[Study]:
    """Studies coded with any of the given interventions and any of the given outcomes."""
    if interventions is not None:
        studies = studies.filter(pk__in=Study.interventions.through.objects.filter(
            intervention_id__in=interventions).values("study_id"))
    if outcomes is not None:
        studies = studies.filter(pk__in=Study.outcomes.through.objects.filter(
            outcome_id__in=outcomes).values("study_id"))
    return studies


def cell_summary(evidence_map: EvidenceMap, intervention_id: int, outcome_id: int) -> CellSummary | None:
    return CellSummary.objects.filter(
        evidence_map=evidence_map, intervention_id=intervention_id, outcome_id=outcome_id
    ).first()


# --- Freshness: a map's validators come from its versions (evidence.versions) -------------


def with_counts(maps: QuerySet[EvidenceMap]) -> QuerySet[EvidenceMap]:
    """The maps with their number of published studies (for the API's map objects).

    Their versions, which validators need, are fields of the map itself: no annotation.
    """
    return maps.annotate(
        n_published_studies=Coalesce(
            Subquery(
                Study.objects.published().filter(evidence_map=OuterRef("pk")).order_by()
                .values("evidence_map").annotate(n=Count("pk")).values("n")[:1]
            ),
            0, output_field=IntegerField(),
        )
    )


@dataclass(frozen=True)
class Version:
    """What a conditional GET compares: an opaque tag and the time of the latest change."""

    tag: str
    last_modified: datetime | None


def version_of(maps: Iterable[EvidenceMap], *, salt: str = "", members: bool = False) -> Version:
    """The version of the given maps as a reader sees them (with `members`, as a reviewer
    does, drafts included); `salt` adds what else the response depends on."""
    digest = hashlib.sha256((cache_scope() + salt).encode())
    latest: datetime | None = None
    for evidence_map in maps:
        number = evidence_map.members_version if members else evidence_map.version
        changed = evidence_map.members_changed_at if members else evidence_map.changed_at
        changed = max(changed, evidence_map.updated_at)
        digest.update(repr((evidence_map.pk, evidence_map.is_published, number, changed)).encode())
        if latest is None or changed > latest:
            latest = changed
    return Version(tag=digest.hexdigest()[:32], last_modified=latest)
