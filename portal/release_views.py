"""Public pages about a map's releases: what changed between two of them, how to cite one,
the cells that changed since the previous release (for the map page's highlight), and the
Atom feeds of releases. Reading a release's own pages is portal.releases' work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.views.decorators.http import require_GET

from evidence import selectors
from evidence.models import EvidenceMap, Release
from evidence.releases import compare
from evidence.releases.citation import BIBTEX_TYPE, RIS_TYPE, Citation, cell_title, release_citation
from evidence.releases.context import current, reading
from evidence.releases.selectors import map_releases, visible_release
from studies.models import can_see_drafts


def _in_release(path: str, slug: str, number: int | None) -> str:
    """A working copy's map URL (/maps/<slug>/…, reversed in the site's own URLs, never a
    release's) moved into release `number` (None: left as it is)."""
    prefix = f"/maps/{slug}/"
    if number is None or not path.startswith(prefix):
        return path
    return f"{prefix}releases/{number}/{path.removeprefix(prefix)}"


def _cell_url(slug: str, number: int | None, intervention_id: int, outcome_id: int) -> str:
    kwargs = {"slug": slug, "intervention_id": intervention_id, "outcome_id": outcome_id}
    return _in_release(reverse("portal:cell", kwargs=kwargs, urlconf=settings.ROOT_URLCONF), slug, number)


def _study_url(slug: str, number: int | None, pk: int) -> str:
    path = reverse("portal:study", kwargs={"slug": slug, "pk": pk}, urlconf=settings.ROOT_URLCONF)
    return _in_release(path, slug, number)


def _primary_map(slug: str, user: object) -> EvidenceMap:
    """The map as it is now (never a release's copy of it), if the user sees it."""
    with reading(None):
        return selectors.visible_map(slug, user)


# --- What changed ---


def _comparison_rows(evidence_map: EvidenceMap, pair: compare.Pair, found: compare.Comparison) -> dict[str, Any]:
    """The comparison with the URLs of its studies and cells in the copies they belong to."""
    slug = evidence_map.slug
    before, after = pair.first.number, (pair.second.number if pair.second else None)
    cells = []
    for cell in found.cells:
        # A cell that became a gap is shown where it still had evidence.
        number = before if cell.status == "evidence_to_gap" else after
        cells.append({"cell": cell, "url": _cell_url(slug, number, cell.intervention_id, cell.outcome_id)})
    return {
        "added": [{"study": s, "url": _study_url(slug, after, s.id)} for s in found.studies_added],
        "removed": [{"study": s, "url": _study_url(slug, before, s.id)} for s in found.studies_removed],
        "recoded": [{"study": s, "url": _study_url(slug, after, s.id)} for s in found.studies_recoded],
        "cells": cells,
    }


@require_GET
def compare_page(request: HttpRequest, slug: str) -> HttpResponse:
    """/maps/<slug>/releases/compare/?from=<n>&to=<m|working>."""
    evidence_map = _primary_map(slug, request.user)
    members = can_see_drafts(request.user, evidence_map)
    releases = list(map_releases(evidence_map))
    context: dict[str, Any] = {"map": evidence_map, "releases": releases, "members": members}
    try:
        pair = compare.choose_pair(evidence_map, request.GET.get("from"), request.GET.get("to"), members=members)
    except compare.CompareError as error:
        context["error"] = error
        return render(request, "portal/release_compare.html", context, status=400 if releases else 200)
    found = compare.compare_pair(evidence_map, pair)
    context.update(pair=pair, comparison=found, counts=found.counts, **_comparison_rows(evidence_map, pair, found))
    return render(request, "portal/release_compare.html", context)


@require_GET
def changes_json(request: HttpRequest, slug: str) -> JsonResponse:
    """The cells that changed in the copy this request reads (a release, or the working
    copy) since the release before it: the map page's highlight."""
    release = current()
    evidence_map = _primary_map(slug, request.user)
    if release is None and not map_releases(evidence_map).exists():
        return JsonResponse({"since": None, "release": None, "cells": []})
    cells = compare.changed_cells(evidence_map, release)
    with reading(None):
        earlier = map_releases(evidence_map)
        if release is not None:
            earlier = earlier.filter(number__lt=release.number)
        previous = earlier.first()
    data = {
        "since": previous.number if previous else None,
        "release": release.number if release else None,
        "cells": [
            {
                "i": c.intervention_id, "o": c.outcome_id, "intervention": c.intervention, "outcome": c.outcome,
                "status": c.status, "label": list(c.label), "studies": list(c.n_studies), "effects": list(c.n_effects),
                "url": _cell_url(slug, release.number if release else None, c.intervention_id, c.outcome_id)
                if c.status != "evidence_to_gap" else None,
            }
            for c in cells
        ],
    }
    response = JsonResponse(data)
    response["Cache-Control"] = "no-cache"
    return response


# --- Citing ---


def _release_or_404(request: HttpRequest, slug: str, number: int) -> Release:
    with reading(None):
        release = visible_release(slug, number, request.user)
    if release is None:
        raise Http404("No such release of this map.")
    return release


def _citation(request: HttpRequest, release: Release) -> Citation:
    url = request.build_absolute_uri(reverse("portal:release", kwargs={"slug": release.evidence_map.slug, "number": release.number}))
    return release_citation(release, url)


@require_GET
def cite_page(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    release = _release_or_404(request, slug, number)
    citation = _citation(request, release)
    context = {
        "map": release.evidence_map, "release": release, "citation": citation,
        "bibtex_url": reverse("portal:release_cite_bib", kwargs={"slug": slug, "number": number}),
        "ris_url": reverse("portal:release_cite_ris", kwargs={"slug": slug, "number": number}),
    }
    return render(request, "portal/release_cite.html", context)


def _download(text: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _cited(request: HttpRequest, slug: str, number: int) -> Citation:
    """The release's citation, or with ?intervention=&outcome= its cell's."""
    release = _release_or_404(request, slug, number)
    citation = _citation(request, release)
    raw_i, raw_o = request.GET.get("intervention"), request.GET.get("outcome")
    if raw_i is None and raw_o is None:
        return citation
    try:
        i, o = int(raw_i or ""), int(raw_o or "")
    except ValueError:
        raise Http404("A cell is named by two ids, intervention and outcome.") from None
    document = compare.release_document(release)
    names = {k: {row["pk"]: row["fields"]["name"] for row in document[k]} for k in ("interventions", "outcomes")}
    if i not in names["interventions"] or o not in names["outcomes"]:
        raise Http404("No such cell in this release.")
    url = request.build_absolute_uri(_cell_url(slug, number, i, o))
    return release_citation(release, url, part=cell_title(names["interventions"][i], names["outcomes"][o]))


@require_GET
def cite_bibtex(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    citation = _cited(request, slug, number)
    return _download(citation.bibtex(), BIBTEX_TYPE, f"{citation.key}.bib")


@require_GET
def cite_ris(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    citation = _cited(request, slug, number)
    return _download(citation.ris(), RIS_TYPE, f"{citation.key}.ris")


def cell_citation(request: HttpRequest, intervention: Any, outcome: Any) -> dict[str, Any] | None:
    """The citation of a cell page's cell in the release it shows (None for a working copy)."""
    release = current()
    if release is None:
        return None
    slug = release.evidence_map.slug
    url = request.build_absolute_uri(_cell_url(slug, release.number, intervention.id, outcome.id))
    citation = release_citation(release, url, part=cell_title(intervention.name, outcome.name))
    query = f"?intervention={intervention.id}&outcome={outcome.id}"
    kwargs = {"slug": slug, "number": release.number}
    return {
        "citation": citation,
        # The citation routes are the releases' own: the same in a release's URLs.
        "bibtex_url": reverse("portal:release_cite_bib", kwargs=kwargs) + query,
        "ris_url": reverse("portal:release_cite_ris", kwargs=kwargs) + query,
    }


# --- Following updates ---


class _ReleaseFeed(Feed):  # type: ignore[type-arg]
    feed_type = Atom1Feed

    def item_title(self, item: Release) -> str:
        return f"{item.evidence_map.title}: release {item.number}"

    def item_description(self, item: Release) -> str:
        dates = ""
        if item.search_from or item.search_to:
            dates = f" Searches from {item.search_from or 'an unstated date'} to {item.search_to or 'an unstated date'}."
        notes = f" {item.notes}" if item.notes else ""
        return (
            f"{item.n_studies} studies, {item.n_effect_sizes} effect sizes, {item.n_cells} cells with evidence."
            f"{dates}{notes}"
        )

    def item_link(self, item: Release) -> str:
        return reverse("portal:release", kwargs={"slug": item.evidence_map.slug, "number": item.number})

    def item_guid(self, item: Release) -> str:
        # A stable identifier for the entry, whatever host it is read from (RFC 4287 atom:id).
        return f"tag:egm,{item.released_at:%Y-%m-%d}:{item.evidence_map.slug}/releases/{item.number}"

    item_guid_is_permalink = False

    def item_pubdate(self, item: Release) -> datetime:
        return item.released_at

    def item_updateddate(self, item: Release) -> datetime:
        return item.released_at

    def item_author_name(self, item: Release) -> str | None:
        return item.evidence_map.organisation or None


FEED_ITEMS = 50


class MapReleasesFeed(_ReleaseFeed):
    """/maps/<slug>/releases/feed.atom: the map's releases, newest first."""

    def get_object(self, request: HttpRequest, slug: str) -> EvidenceMap:
        return _primary_map(slug, request.user)

    def title(self, obj: EvidenceMap) -> str:
        return f"Releases of {obj.title}"

    def link(self, obj: EvidenceMap) -> str:
        return reverse("portal:releases", kwargs={"slug": obj.slug})

    def subtitle(self, obj: EvidenceMap) -> str:
        return f"Each new release of the evidence and gap map “{obj.title}”."

    def items(self, obj: EvidenceMap) -> list[Release]:
        with reading(None):
            return list(map_releases(obj).select_related("evidence_map")[:FEED_ITEMS])


class AllReleasesFeed(_ReleaseFeed):
    """/releases/feed.atom: the releases of every published map, newest first."""

    title = "Releases of the evidence and gap maps"
    subtitle = "Each new release of every published map."

    def link(self) -> str:
        return reverse("portal:home")

    def items(self) -> list[Release]:
        with reading(None):
            maps = EvidenceMap.objects.filter(is_published=True)
            releases = Release.objects.filter(evidence_map__in=maps).defer("document").select_related("evidence_map")
            return list(releases.order_by("-released_at", "-pk")[:FEED_ITEMS])
