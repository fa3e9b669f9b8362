"""The shape of a map's evidence at a glance: how many of the studies a reader sees (filtered)
fall in each year, design, region, confidence rating, appraisal rating and country.

The counts are grouped or filtered counts in the database (no study is loaded), so a map of
tens of thousands of studies costs four queries; `map_overview` caches the result per map version
(drafts included for members) and filters. The records use the column vocabulary of
`evidence.columns` (`year`, `design`, `design_label`, ...) and go out as CSV by
`overview_csv_lines`; the page draws the same `Chart`s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django_countries import countries as all_countries

from evidence import selectors, versions
from evidence.columns import blank_as_null, csv_lines
from evidence.filters import StudyFilters
from evidence.models import EvidenceMap
from studies.models import (
    AppraisalCriterion,
    AppraisalItem,
    AppraisalRating,
    Confidence,
    Region,
    Study,
    StudyDesign,
    can_see_drafts,
)

NOT_GIVEN = "Not given"
NOT_APPRAISED = "Not appraised"
NO_DATE = "n.d."


@dataclass(frozen=True)
class Series:
    """One set of bars: its name and a count per category of its chart."""

    name: str
    counts: tuple[int, ...]


@dataclass(frozen=True)
class Chart:
    """One chart of the overview: categories with a count per series, and the same numbers as
    records (`columns`, `rows`) for the CSV."""

    name: str  # the `chart` of the CSV download and the id of the chart on the page
    title: str
    axis: str  # what the categories are
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    locations: tuple[str, ...] = ()  # ISO 3166-1 alpha-3 per category (the world map)

    @property
    def total(self) -> int:
        """The sum of every count (for a chart of one series, the studies it counts)."""
        return sum(sum(s.counts) for s in self.series)

    def table(self) -> list[tuple[str, list[int]]]:
        """(category, count per series), for the chart's data table."""
        return [(category, [s.counts[i] for s in self.series]) for i, category in enumerate(self.categories)]

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "axis": self.axis, "categories": list(self.categories),
            "series": [{"name": s.name, "counts": list(s.counts)} for s in self.series],
            "locations": list(self.locations),
        }


@dataclass(frozen=True)
class Overview:
    n_studies: int
    n_without_country: int  # studies with no country given (global ones among them)
    charts: tuple[Chart, ...]

    def chart(self, name: str) -> Chart:
        for chart in self.charts:
            if chart.name == name:
                return chart
        raise KeyError(name)

    def as_json(self) -> dict[str, Any]:
        return {"n_studies": self.n_studies, "charts": [chart.as_json() for chart in self.charts]}


CHARTS = ("year", "design", "region", "confidence", "appraisal", "country")
STUDIES = "Studies"


def _grouped(studies: QuerySet[Study], field: str) -> dict[Any, int]:
    """Field value -> number of studies (one query; the model's ordering is cleared so that it
    does not join the grouping)."""
    rows = studies.order_by().values(field).annotate(n=Count("pk")).values_list(field, "n")
    return dict(rows)


def _single(name: str, title: str, axis: str, found: list[tuple[Any, str, int]], columns: tuple[str, ...],
            record: Any) -> Chart:
    """A chart of one series from (value, label, count) in display order."""
    return Chart(
        name=name, title=title, axis=axis, categories=tuple(label for _, label, _ in found),
        series=(Series(STUDIES, tuple(n for _, _, n in found)),), columns=columns,
        rows=tuple({key: blank_as_null(v) for key, v in record(value, n).items()} for value, _, n in found),
    )


def _by_year(studies: QuerySet[Study]) -> Chart:
    counts = _grouped(studies, "year")
    years = [y for y in counts if y is not None]
    # Every year from the first to the last, so that a gap in the evidence shows as one.
    span: list[int | None] = list(range(min(years), max(years) + 1)) if years else []
    if None in counts:
        span.append(None)
    found = [(y, NO_DATE if y is None else str(y), counts.get(y, 0)) for y in span]
    return _single("year", "Studies by year of publication", "Year of publication", found,
                   ("year", "n_studies"), lambda v, n: {"year": v, "n_studies": n})


# The coded fields counted in one pass over the studies, with their choices.
CHOICE_FIELDS: dict[str, Any] = {"design": StudyDesign, "region": Region, "confidence": Confidence}


def _choice_counts(studies: QuerySet[Study]) -> dict[str, dict[str, int]]:
    """Field -> value (blank included) -> number of studies, for every field of CHOICE_FIELDS
    (one query: a filtered count per value, so the filters run once, not once per field)."""
    wanted = [(field, value) for field, choices in CHOICE_FIELDS.items() for value in ("", *choices.values)]
    found = studies.order_by().aggregate(
        **{f"n{i}": Count("pk", filter=Q(**{field: value})) for i, (field, value) in enumerate(wanted)}
    )
    counts: dict[str, dict[str, int]] = {field: {} for field in CHOICE_FIELDS}
    for i, (field, value) in enumerate(wanted):
        counts[field][value] = found[f"n{i}"] or 0
    return counts


def _by_choice(counts: dict[str, int], choices: Any, blank: str) -> list[tuple[Any, str, int]]:
    found = [(value, str(label), counts.get(value, 0)) for value, label in choices]
    if counts.get(""):
        found.append(("", blank, counts[""]))
    return found


def _by_design(counts: dict[str, int]) -> Chart:
    found = _by_choice(counts, StudyDesign.choices, NOT_GIVEN)
    return _single("design", "Studies by design", "Study design", found, ("design", "design_label", "n_studies"),
                   lambda v, n: {"design": v, "design_label": StudyDesign(v).label if v else None, "n_studies": n})


def _by_region(counts: dict[str, int]) -> Chart:
    found = _by_choice(counts, Region.choices, NOT_GIVEN)
    return _single("region", "Studies by region (UN M49)", "Region", found, ("region", "n_studies"),
                   lambda v, n: {"region": v, "n_studies": n})


def _by_confidence(counts: dict[str, int]) -> Chart:
    found = _by_choice(counts, Confidence.choices, NOT_APPRAISED)
    return _single(
        "confidence", "Studies by confidence rating", "Study confidence", found,
        ("confidence", "confidence_label", "n_studies"),
        lambda v, n: {"confidence": v, "confidence_label": Confidence(v).label if v else None, "n_studies": n},
    )


def _by_appraisal(studies: QuerySet[Study]) -> Chart:
    """Per appraisal criterion, the studies rated yes, partly, no, ... on it (one query; a study
    has at most one rating per criterion)."""
    rows = (
        AppraisalItem.objects.filter(study__in=studies.order_by().values("pk")).order_by()
        .values("criterion", "rating").annotate(n=Count("study_id")).values_list("criterion", "rating", "n")
    )
    counts = {(criterion, rating): n for criterion, rating, n in rows}
    criteria, ratings = AppraisalCriterion.choices, AppraisalRating.choices
    return Chart(
        name="appraisal", title="Appraisal ratings by criterion", axis="Appraisal criterion",
        categories=tuple(str(label) for _, label in criteria),
        series=tuple(Series(str(label), tuple(counts.get((c, r), 0) for c, _ in criteria)) for r, label in ratings),
        columns=("criterion", "criterion_label", "rating", "rating_label", "n_studies"),
        rows=tuple(
            {"criterion": c, "criterion_label": str(c_label), "rating": r, "rating_label": str(r_label),
             "n_studies": counts.get((c, r), 0)}
            for c, c_label in criteria for r, r_label in ratings
        ),
    )


def _by_country(studies: QuerySet[Study]) -> tuple[Chart, int]:
    """Studies per country (a study of several countries counts in each), most studied first,
    and the number of studies without a country. One query, grouped by the stored country list:
    only the distinct combinations are split here."""
    per_country: Counter[str] = Counter()
    without = 0
    for stored, n in _grouped(studies, "countries").items():
        codes = [code for code in str(stored or "").split(",") if code]
        if not codes:
            without += n
        for code in codes:
            per_country[code] += n
    names = {code: str(all_countries.name(code) or code) for code in per_country}
    ordered = sorted(per_country, key=lambda code: (-per_country[code], names[code]))
    chart = Chart(
        name="country", title="Studies by country", axis="Country", categories=tuple(names[c] for c in ordered),
        series=(Series(STUDIES, tuple(per_country[c] for c in ordered)),),
        columns=("country", "country_label", "n_studies"),
        rows=tuple({"country": c, "country_label": names[c], "n_studies": per_country[c]} for c in ordered),
        locations=tuple(all_countries.alpha3(c) or "" for c in ordered),
    )
    return chart, without


def compute_overview(studies: QuerySet[Study]) -> Overview:
    """Every chart of the given studies (four queries: years, designs with regions and
    confidence ratings, countries, appraisal ratings)."""
    year = _by_year(studies)
    coded = _choice_counts(studies)
    country, without = _by_country(studies)
    charts = (
        year, _by_design(coded["design"]), _by_region(coded["region"]), _by_confidence(coded["confidence"]),
        _by_appraisal(studies), country,
    )
    return Overview(n_studies=sum(year.series[0].counts), n_without_country=without, charts=charts)


def map_overview(evidence_map: EvidenceMap, filters: StudyFilters, user: object) -> Overview:
    """The overview of the map's studies that `user` sees (drafts only for the map's members)
    and that pass the filters, cached per map version and filters."""
    members = can_see_drafts(user, evidence_map)
    key = versions.cache_key("overview", evidence_map, filters.to_query(), members=members)
    return versions.cached(key, lambda: compute_overview(filters.apply(selectors.map_studies(evidence_map, user))))


def overview_csv_lines(chart: Chart) -> Iterator[str]:
    return csv_lines(chart.columns, chart.rows)
