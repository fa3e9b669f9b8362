"""Reads of releases: which release a reader reads, and the list of a map's releases."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from evidence.models import EvidenceMap, Release
from studies.models import can_see_drafts

# Everything but the document, which only materialising a release reads.
SUMMARY_DEFER = ("document",)


def map_releases(evidence_map: EvidenceMap) -> QuerySet[Release]:
    """The map's releases, newest first, without their documents."""
    return Release.objects.filter(evidence_map=evidence_map).defer(*SUMMARY_DEFER).order_by("-number")


def visible_release(slug: str, number: int, user: object) -> Release | None:
    """Release `number` of the map `slug`, if the user sees the map (None otherwise)."""
    maps = EvidenceMap.objects.visible_to(user).filter(slug=slug)
    release: Release | None = (
        Release.objects.filter(evidence_map__in=maps, number=number).defer(*SUMMARY_DEFER)
        .select_related("evidence_map").first()
    )
    return release


def latest_release(slug: str, user: object) -> Release | None:
    """The newest release of the map `slug`, if the user sees the map."""
    maps = EvidenceMap.objects.visible_to(user).filter(slug=slug)
    release: Release | None = (
        Release.objects.filter(evidence_map__in=maps).defer(*SUMMARY_DEFER)
        .select_related("evidence_map").order_by("-number").first()
    )
    return release


def reads_working_copy(user: object, release: Release) -> bool:
    """Whether `user` reads the working copy of the released map by default: its members do
    (any role), everyone else reads its latest release."""
    return can_see_drafts(user, release.evidence_map)


def latest_by_map(map_ids: list[int]) -> dict[int, Release]:
    """The newest release of each of the maps (one query; maps without one are left out)."""
    newest = Release.objects.filter(evidence_map=OuterRef("evidence_map")).order_by("-number").values("pk")[:1]
    releases = Release.objects.filter(evidence_map_id__in=map_ids, pk=Subquery(newest)).defer(*SUMMARY_DEFER)
    return {release.evidence_map_id: release for release in releases}
