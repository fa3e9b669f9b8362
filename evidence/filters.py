"""The map's filters: parsed from a query string, applied to studies, written back to a URL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Q, QuerySet
from django_countries import countries as all_countries

from studies.m49 import COUNTRY_SUBREGION
from studies.models import SUBREGION_TO_REGION, Confidence, Region, Study, StudyDesign


class FilterError(ValueError):
    """A filter value that cannot be used; `field` names the query parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _many(params: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """Values of a parameter given repeatedly (?design=rct&design=did) or comma-separated."""
    raw: Sequence[str]
    if hasattr(params, "getlist"):
        raw = params.getlist(name)
    else:
        value = params.get(name)
        raw = value if isinstance(value, list | tuple) else ([value] if value else [])
    out: list[str] = []
    for item in raw:
        out.extend(part.strip() for part in str(item).split(",") if part.strip())
    return tuple(dict.fromkeys(out))


def _year(params: Mapping[str, Any], name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        year = int(str(raw))
    except ValueError:
        raise FilterError(name, f"{raw!r} is not a year.") from None
    if not 1900 <= year <= date.today().year:
        raise FilterError(name, f"{year} is outside 1900-{date.today().year}.")
    return year


def _choices(name: str, values: tuple[str, ...], allowed: Sequence[str]) -> tuple[str, ...]:
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise FilterError(name, f"unknown value(s) {', '.join(unknown)}; choose from {', '.join(allowed)}.")
    return values


@dataclass(frozen=True)
class StudyFilters:
    region: tuple[str, ...] = ()
    country: tuple[str, ...] = ()
    population: tuple[str, ...] = ()
    design: tuple[str, ...] = ()
    confidence: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    q: str = ""

    @classmethod
    def from_query(cls, params: Mapping[str, Any]) -> StudyFilters:
        """Read filters from request.GET (or a dict); raise FilterError naming a bad parameter."""
        country = tuple(c.upper() for c in _many(params, "country"))
        filters = cls(
            region=_choices("region", _many(params, "region"), Region.values),
            country=_choices("country", country, [code for code, _ in all_countries]),
            population=_many(params, "population"),
            design=_choices("design", _many(params, "design"), StudyDesign.values),
            confidence=_choices("confidence", _many(params, "confidence"), Confidence.values),
            year_min=_year(params, "year_min"),
            year_max=_year(params, "year_max"),
            q=str(params.get("q") or "").strip()[:200],
        )
        if filters.year_min and filters.year_max and filters.year_min > filters.year_max:
            raise FilterError("year_min", f"{filters.year_min} is after year_max {filters.year_max}.")
        return filters

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def to_query(self) -> str:
        pairs: list[tuple[str, str]] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                pairs.extend((f.name, v) for v in value)
            elif value not in (None, ""):
                pairs.append((f.name, str(value)))
        return urlencode(pairs)

    def apply(self, studies: QuerySet[Study]) -> QuerySet[Study]:
        if self.region:
            in_region = Q(region__in=self.region)
            for code, sub in COUNTRY_SUBREGION.items():
                if SUBREGION_TO_REGION[sub] in self.region:
                    in_region |= Q(countries__contains=code)
            studies = studies.filter(in_region)
        if self.country:
            # Countries are stored as comma-separated two-letter codes, so a code can only
            # match itself.
            any_country = Q()
            for code in self.country:
                any_country |= Q(countries__contains=code)
            studies = studies.filter(any_country)
        if self.population:
            studies = studies.filter(population__in=self.population)
        if self.design:
            studies = studies.filter(design__in=self.design)
        if self.confidence:
            studies = studies.filter(confidence__in=self.confidence)
        if self.year_min:
            studies = studies.filter(year__gte=self.year_min)
        if self.year_max:
            studies = studies.filter(year__lte=self.year_max)
        if self.q:
            studies = text_search(studies, self.q)
        return studies


def text_search(studies: QuerySet[Study], text: str) -> QuerySet[Study]:
    """Full-text search over titles, abstracts and authors.

    PostgreSQL: stemmed full-text search with web-search syntax ("quoted phrases", -not, or).
    SQLite: every word must appear (case-insensitive) in the title, abstract or authors.
    """
    if connection.vendor == "postgresql":
        vector = SearchVector("title", weight="A") + SearchVector("authors", weight="A") + SearchVector(
            "abstract", weight="B"
        )
        return studies.annotate(search=vector).filter(search=SearchQuery(text, search_type="websearch"))
    for word in text.split():
        word = word.strip("\"'")
        if word:
            studies = studies.filter(
                Q(title__icontains=word) | Q(abstract__icontains=word) | Q(authors__icontains=word)
            )
    return studies
