"""sitemap.xml: every page an anonymous reader can reach, for search engines (Django's sitemaps
framework: an index at /sitemap.xml and a section per kind of page, each paged at 50,000 URLs).

Cells are those of each published map's unfiltered data.json, read from its cached document.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from evidence import selectors
from evidence.filters import StudyFilters
from evidence.models import EvidenceMap
from evidence.synthesis.segments import MAP_DEFAULT
from portal.views import data_document


def _public_maps() -> list[EvidenceMap]:
    return list(selectors.visible_maps(None).order_by("pk"))


class MapSitemap(Sitemap[EvidenceMap]):
    def items(self) -> list[EvidenceMap]:
        return _public_maps()

    def location(self, item: EvidenceMap) -> str:
        return item.get_absolute_url()

    def lastmod(self, item: EvidenceMap) -> datetime:
        return item.changed_at


class CellSitemap(Sitemap[tuple[str, int, int, datetime]]):
    """Every cell with published studies of every published map (slug, row, column, change)."""

    def items(self) -> list[tuple[str, int, int, datetime]]:
        out: list[tuple[str, int, int, datetime]] = []
        for evidence_map in _public_maps():
            data = json.loads(data_document(evidence_map, StudyFilters(), "", MAP_DEFAULT))
            out.extend((evidence_map.slug, c["i"], c["o"], evidence_map.changed_at) for c in data["cells"])
        return out

    def location(self, item: tuple[str, int, int, datetime]) -> str:
        slug, i, o, _ = item
        return reverse("portal:cell", kwargs={"slug": slug, "intervention_id": i, "outcome_id": o})

    def lastmod(self, item: tuple[str, int, int, datetime]) -> datetime:
        return item[3]


class StudySitemap(Sitemap[dict[str, Any]]):
    def items(self) -> Any:
        return selectors.public_study_pages()

    def location(self, item: dict[str, Any]) -> str:
        return reverse("portal:study", kwargs={"slug": item["evidence_map__slug"], "pk": item["pk"]})

    def lastmod(self, item: dict[str, Any]) -> datetime:
        updated: datetime = item["updated_at"]
        return updated


SITEMAPS: dict[str, type[Sitemap[Any]]] = {"maps": MapSitemap, "cells": CellSitemap, "studies": StudySitemap}
