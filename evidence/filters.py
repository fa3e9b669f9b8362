"""The map's filters, declared once.

`StudyFilterSet` (django-filter) declares every filter: its query parameter, label, help
text, widget, the values it accepts and how it narrows the studies. Everything else derives
from it: the filter form on the map page, the validation of `data.json`, cell pages,
exports and API queries (`StudyFilters.from_query`), and the API's OpenAPI parameters
(`api.schema`). Adding a filter is one declaration here plus its test.

The `code` filter takes ids of codes of the map's own code sets (evidence.models.CodeSet):
a code matches itself and every code below it; codes of one set are alternatives (OR), and
codes of different sets must all match (AND). Its ids are checked against the maps a query
covers (`from_query(..., maps=...)`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any
from urllib.parse import urlencode

import django_filters
from django import forms
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connections
from django.db.models import Q, QuerySet
from django.utils import translation
from django.utils.translation import gettext as _
from django_countries import countries as all_countries

from evidence.columns import STUDY_FIELDS
from evidence.models import Code, EvidenceMap
from studies.m49 import COUNTRY_SUBREGION
from studies.models import SUBREGION_TO_REGION, Confidence, EffectSize, Region, Study, StudyDesign


class FilterError(ValueError):
    """A filter value that cannot be used; `field` names the query parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


Choices = Sequence[tuple[str, str]] | Callable[[], Sequence[tuple[str, str]]]


class ManyValuesField(forms.Field):
    """Values given repeatedly (?design=rct&design=did) or comma-separated, checked against
    `choices` when there are any; cleans to a tuple without duplicates."""

    widget = forms.SelectMultiple

    def __init__(self, *, choices: Choices = (), upper: bool = False, options: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._choices = choices
        self.upper = upper
        self.options = options  # the form offers only the values that occur on the map
        if choices and not callable(choices):
            # A long list given as a callable (countries) is not copied into every form's
            # widget: forms deep-copy their widgets, and the page offers only the map's values.
            self.widget.choices = self.choices

    @property
    def choices(self) -> list[tuple[str, str]]:
        found = self._choices() if callable(self._choices) else self._choices
        return [(str(value), str(label)) for value, label in found]

    def to_python(self, value: Any) -> tuple[str, ...]:
        raw = value if isinstance(value, list | tuple) else ([value] if value else [])
        out: list[str] = []
        for item in raw:
            out.extend(part.strip() for part in str(item).split(",") if part.strip())
        if self.upper:
            out = [v.upper() for v in out]
        values = tuple(dict.fromkeys(out))
        if self._choices:
            allowed = [value for value, _ in self.choices]
            unknown = [v for v in values if v not in allowed]
            if unknown:
                raise forms.ValidationError(
                    _("unknown value(s) %(values)s; choose from %(allowed)s.")
                    % {"values": ", ".join(unknown), "allowed": ", ".join(allowed)}
                )
        return values


class YearField(forms.Field):
    widget = forms.NumberInput

    def to_python(self, value: Any) -> int | None:
        if value in (None, ""):
            return None
        try:
            year = int(str(value))
        except ValueError:
            raise forms.ValidationError(_("%(value)s is not a year.") % {"value": repr(value)}) from None
        if not 1900 <= year <= date.today().year:
            raise forms.ValidationError(_("%(year)s is outside 1900-%(now)s.") % {"year": year, "now": date.today().year})
        return year

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        return {**super().widget_attrs(widget), "min": "1900", "max": "2100", "inputmode": "numeric"}


class SearchInput(forms.TextInput):
    input_type = "search"


class SearchField(forms.CharField):
    widget = SearchInput

    def to_python(self, value: Any) -> str:
        return str(value or "").strip()[:200]


class YesNoField(forms.Field):
    """"yes" or "no" (also true/false, 1/0); empty means either."""

    widget = forms.Select(choices=[("", "Either"), ("yes", "Yes"), ("no", "No")])

    def to_python(self, value: Any) -> bool | None:
        text = str(value or "").strip().lower()
        if text == "":
            return None
        if text in ("yes", "true", "1"):
            return True
        if text in ("no", "false", "0"):
            return False
        raise forms.ValidationError(_("%(value)s is not yes or no.") % {"value": repr(value)})


# The largest id a query parameter may carry (every database's integer column holds it).
MAX_ID = 2**31 - 1


class CodeTreeWidget(forms.CheckboxSelectMultiple):
    """Checkboxes of codes grouped by code set, each code under its parent.

    `groups` holds what the form offers: one (code set name, code set slug, [(id, name,
    depth)]) per code set offered as a filter, codes depth first (set by StudyFilterSet).
    """

    groups: Sequence[tuple[str, str, Sequence[tuple[int, str, int]]]] = ()


class CodeField(ManyValuesField):
    """Code ids, repeated or comma-separated; cleans to a tuple of ids as text, in numeric
    order and without duplicates. With `maps` set (StudyFilterSet does), each id must be a
    code of one of those maps' code sets (one query)."""

    widget = CodeTreeWidget  # type: ignore[assignment]  # a SelectMultiple too, as checkboxes

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.maps: list[int] | None = None

    def to_python(self, value: Any) -> tuple[str, ...]:
        ids: set[int] = set()
        for text in super().to_python(value):
            if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_ID:  # not "²"
                raise forms.ValidationError(_("%(value)s is not a code id (a whole number from 1).") % {"value": repr(text)})
            ids.add(int(text))
        return tuple(str(pk) for pk in sorted(ids))

    def validate(self, value: Any) -> None:
        super().validate(value)
        if not value:
            return
        if self.maps is None:
            raise forms.ValidationError("code ids can only be checked against a map.")
        ids = [int(pk) for pk in value]
        found = set(Code.objects.filter(pk__in=ids, code_set__evidence_map__in=self.maps).values_list("pk", flat=True))
        unknown = [str(pk) for pk in ids if pk not in found]
        if unknown:
            where = "this map's" if len(self.maps) == 1 else "the maps'"
            raise forms.ValidationError(
                f"unknown code id(s) {', '.join(unknown)}: not codes of {where} code sets "
                "(/api/v1/maps/<slug>/code-sets/ lists them)."
            )


class ManyValuesFilter(django_filters.Filter):
    field_class = ManyValuesField

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if not value:
            return qs
        if self.method is not None:
            filtered: QuerySet[Any] = super().filter(qs, value)
            return filtered
        return qs.filter(**{f"{self.field_name}__in": value})


class CodeFilter(ManyValuesFilter):
    field_class = CodeField


class YearFilter(django_filters.NumberFilter):
    field_class = YearField


class SearchFilter(django_filters.CharFilter):
    field_class = SearchField


class YesNoFilter(django_filters.Filter):
    field_class = YesNoField


def _country_choices() -> list[tuple[str, str]]:
    return _country_choices_in(translation.get_language() or "")


@functools.cache
def _country_choices_in(language: str) -> list[tuple[str, str]]:
    """Every country code with its name (sorting ~250 names costs a request a millisecond)."""
    return [(code, str(name)) for code, name in all_countries]


# The text search configuration, named so that the expression is immutable and PostgreSQL
# can index it (studies/migrations/0003_study_search_index.py builds the same expression).
SEARCH_CONFIG = "english"


def search_vector() -> SearchVector:
    """What the text filter searches on PostgreSQL: titles and authors first, then abstracts."""
    combined: Any = (
        SearchVector("title", weight="A", config=SEARCH_CONFIG)
        + SearchVector("authors", weight="A", config=SEARCH_CONFIG)
        + SearchVector("abstract", weight="B", config=SEARCH_CONFIG)
    )
    return combined  # type: ignore[no-any-return]


def text_search(studies: QuerySet[Study], text: str) -> QuerySet[Study]:
    """Full-text search over titles, abstracts and authors.

    PostgreSQL: stemmed full-text search with web-search syntax ("quoted phrases", -not, or).
    SQLite: every word must appear (case-insensitive) in the title, abstract or authors.
    """
    # The database the query goes to: a release is read from SQLite whatever the primary is.
    if connections[studies.db].vendor == "postgresql":
        return studies.annotate(search=search_vector()).filter(
            search=SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)
        )
    for word in text.split():
        word = word.strip("\"'")
        if word:
            studies = studies.filter(
                Q(title__icontains=word) | Q(abstract__icontains=word) | Q(authors__icontains=word)
            )
    return studies


class StudyFilterSet(django_filters.FilterSet):
    """Every map filter, in the order the filter form shows them."""

    region = ManyValuesFilter(
        label="Region", choices=Region.choices, method="filter_region", widget=forms.CheckboxSelectMultiple,
        help_text="UN M49 region (repeat or comma-separate for several).",
    )
    design = ManyValuesFilter(
        label="Study design", choices=StudyDesign.choices, field_name="design",
        widget=forms.CheckboxSelectMultiple, help_text="Study design(s).",
    )
    confidence = ManyValuesFilter(
        label="Study confidence", choices=Confidence.choices, field_name="confidence",
        widget=forms.CheckboxSelectMultiple, help_text="Study confidence rating(s).",
    )
    country = ManyValuesFilter(
        label="Country", choices=_country_choices, upper=True, method="filter_country",
        help_text="ISO 3166-1 alpha-2 code(s).", options="country",
    )
    population = ManyValuesFilter(
        label="Population", field_name="population", help_text="Population (exact value).", options="population",
    )
    year_min = YearFilter(
        label="Published from", field_name="year", lookup_expr="gte",
        help_text="Published in or after this year (1900 to now).",
    )
    year_max = YearFilter(
        label="Published up to", field_name="year", lookup_expr="lte",
        help_text="Published in or before this year (1900 to now).",
    )
    q = SearchFilter(
        label="Search titles, authors and abstracts", method="filter_text",
        help_text="Text search in titles, abstracts and authors.",
    )
    has_effects = YesNoFilter(
        label="Has effect sizes", method="filter_has_effects",
        help_text="yes: only studies with at least one effect size; no: only studies without.",
    )

    appraised = YesNoFilter(
        label="Appraised", method="filter_appraised",
        help_text="yes: only studies with a confidence rating; no: only studies not yet appraised.",
    )
    code = CodeFilter(
        label="Codes", method="filter_code", options="code",
        help_text="Id(s) of codes of the map's code sets (listed by /api/v1/maps/{slug}/code-sets/), "
        "repeated or comma-separated. A code includes the codes below it; several codes of one "
        "code set match any of them, codes of different code sets must all match.",
    )

    class Meta:
        model = Study
        fields: list[str] = []

    def __init__(
        self, *args: Any, options: Mapping[str, Any] | None = None,
        maps: Iterable[EvidenceMap | int] | None = None, **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if maps is not None:
            code_field = self.form.fields["code"]
            code_field.maps = [m if isinstance(m, int) else m.pk for m in maps]
        # Filters marked with `options` offer, in the form, only the values that occur on
        # the map (a map's countries, its populations, the codes of the code sets it offers
        # as filters); any valid value is still accepted.
        if options is None:
            return
        for field in self.form.fields.values():
            if isinstance(field, CodeField):
                field.widget.groups = options.get(field.options, ())
                field.widget.choices = [
                    (str(pk), name) for _, _, codes in field.widget.groups for pk, name, _ in codes
                ]
            elif getattr(field, "options", ""):
                names = dict(field.choices)
                field.widget.choices = [(v, names.get(v, v)) for v in options.get(field.options, ())]

    def filter_region(self, qs: QuerySet[Study], name: str, value: tuple[str, ...]) -> QuerySet[Study]:
        in_region = Q(region__in=value)
        for code, sub in COUNTRY_SUBREGION.items():
            if SUBREGION_TO_REGION[sub] in value:
                in_region |= Q(countries__contains=code)
        return qs.filter(in_region)

    def filter_country(self, qs: QuerySet[Study], name: str, value: tuple[str, ...]) -> QuerySet[Study]:
        # Countries are stored as comma-separated two-letter codes, so a code only matches itself.
        any_country = Q()
        for code in value:
            any_country |= Q(countries__contains=code)
        return qs.filter(any_country)

    def filter_text(self, qs: QuerySet[Study], name: str, value: str) -> QuerySet[Study]:
        return text_search(qs, value) if value else qs

    def filter_appraised(self, qs: QuerySet[Study], name: str, value: bool | None) -> QuerySet[Study]:
        if value is None:
            return qs
        return qs.exclude(confidence="") if value else qs.filter(confidence="")

    def filter_has_effects(self, qs: QuerySet[Study], name: str, value: bool | None) -> QuerySet[Study]:
        if value is None:
            return qs
        with_effects = Q(pk__in=EffectSize.objects.values("study_id"))
        return qs.filter(with_effects if value else ~with_effects)

    def filter_code(self, qs: QuerySet[Study], name: str, value: tuple[str, ...]) -> QuerySet[Study]:
        # One query: every code of the code sets the chosen codes belong to, to find what
        # lies below each chosen code.
        chosen = {int(pk) for pk in value}
        sets = Code.objects.filter(pk__in=chosen).values("code_set_id")
        rows = list(Code.objects.filter(code_set_id__in=sets).values_list("pk", "parent_id", "code_set_id"))
        children: dict[int | None, list[int]] = {}
        set_of: dict[int, int] = {}
        for pk, parent, code_set in rows:
            children.setdefault(parent, []).append(pk)
            set_of[pk] = code_set
        matching: dict[int, set[int]] = {}  # code set -> the chosen codes and their descendants
        for pk in chosen & set(set_of):
            found = matching.setdefault(set_of[pk], set())
            stack = [pk]
            while stack:
                code = stack.pop()
                if code not in found:
                    found.add(code)
                    stack.extend(children.get(code, ()))
        if not matching:  # codes that no longer exist match no study
            return qs.none()
        coded = Study.codes.through.objects
        for codes in matching.values():
            qs = qs.filter(pk__in=coded.filter(code_id__in=sorted(codes)).values("study_id"))
        return qs


# Names a code set's slug cannot take: the filters', the API's other query parameters and the
# fields of a study (the studies CSV names its columns after them), so that a code set never
# reads as one of them.
RESERVED_NAMES: frozenset[str] = frozenset({
    *StudyFilterSet.base_filters,
    "map", "intervention", "outcome", "study", "page", "page_size", "format", "updated_since", "ordering", "since",
    "study_confidence", "code_set", "code_sets", "codes", *STUDY_FIELDS,
    *(f.name for f in Study._meta.get_fields()),
})


def _empty(value: Any) -> bool:
    return value in (None, "", ())


class StudyFilters:
    """Validated filter values: immutable and hashable, applied through `StudyFilterSet`.

    `StudyFilters(design=("rct",), year_min=2010)` or `StudyFilters.from_query(request.GET)`;
    unset filters read as empty (`filters.design == ()`, `filters.year_min is None`).
    """

    __slots__ = ("_values",)

    def __init__(self, **values: Any) -> None:
        unknown = set(values) - set(StudyFilterSet.base_filters)
        if unknown:
            raise TypeError(f"Unknown filter(s): {', '.join(sorted(unknown))}")
        ordered = {name: values[name] for name in StudyFilterSet.base_filters if name in values}
        object.__setattr__(self, "_values", tuple(
            (name, tuple(v) if isinstance(v, list) else v) for name, v in ordered.items() if not _empty(v)
        ))

    @staticmethod
    def parameter_names() -> frozenset[str]:
        """The query parameters the filters read."""
        return frozenset(StudyFilterSet(queryset=None).form.fields)

    @classmethod
    def from_query(
        cls, params: Mapping[str, Any], *, maps: Iterable[EvidenceMap | int] | None = None,
        others: Iterable[str] | None = None,
    ) -> StudyFilters:
        """Read filters from request.GET (or a dict); raise FilterError naming a bad parameter.

        `maps` are the maps the query covers: code ids must be codes of their code sets
        (without `maps`, a `code` parameter is refused). With `others` (the names the caller
        reads itself), any other parameter is refused, so that a misspelt filter is never
        silently ignored.
        """
        if others is not None:
            allowed = cls.parameter_names() | set(others)
            for name in params:
                if name not in allowed:
                    raise FilterError(name, _("Unknown parameter; the filters are: %(allowed)s.") % {
                        "allowed": ", ".join(sorted(allowed))})
        filterset = StudyFilterSet(data=params, queryset=Study.objects.none(), maps=maps)
        form = filterset.form
        if not form.is_valid():
            name, messages = next(iter(form.errors.items()))
            raise FilterError(name, str(messages[0]))
        filters = cls(**form.cleaned_data)
        year_min, year_max = filters.year_min, filters.year_max
        if year_min and year_max and year_min > year_max:
            raise FilterError("year_min", _("%(low)s is after year_max %(high)s.") % {"low": year_min, "high": year_max})
        return filters

    def __getattr__(self, name: str) -> Any:
        if name not in StudyFilterSet.base_filters:
            raise AttributeError(name)
        found = dict(object.__getattribute__(self, "_values")).get(name)
        if found is None and isinstance(StudyFilterSet.base_filters[name], ManyValuesFilter):
            return ()
        if found is None and isinstance(StudyFilterSet.base_filters[name], SearchFilter):
            return ""
        return found

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("StudyFilters is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        # Cached results carry their filters: pickle them as the values they were made from.
        return (_rebuild_filters, (dict(self._values),))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StudyFilters) and self._values == other._values

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        return f"StudyFilters({', '.join(f'{k}={v!r}' for k, v in self._values)})"

    @property
    def active(self) -> bool:
        return bool(self._values)

    def texts(self, name: str) -> tuple[str, ...]:
        """A filter's values as they are written in a query string ("yes", "2010", "rct")."""
        value = dict(self._values).get(name)
        if value is None:
            return ()
        if isinstance(value, tuple):
            return value
        if isinstance(value, bool):
            return ("yes" if value else "no",)
        return (str(value),)

    def to_query(self) -> str:
        return urlencode([(name, text) for name, _ in self._values for text in self.texts(name)])

    def apply(self, studies: QuerySet[Study]) -> QuerySet[Study]:
        filterset = StudyFilterSet(queryset=studies)
        for name, value in self._values:
            studies = filterset.filters[name].filter(studies, value)
        return studies


def _rebuild_filters(values: dict[str, Any]) -> StudyFilters:
    return StudyFilters(**values)
