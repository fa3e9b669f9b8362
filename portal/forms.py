"""The map page's filter form, drawn from the one declaration of the filters (StudyFilterSet)."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms

from evidence.filters import StudyFilters, StudyFilterSet


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    selected: bool


@dataclass(frozen=True)
class FilterField:
    name: str
    id: str
    label: str
    help_text: str
    kind: str  # checkboxes, multiselect, select, number or search
    options: tuple[Option, ...] = ()
    value: str = ""
    attrs: tuple[tuple[str, str], ...] = ()


def _kind(widget: forms.Widget) -> str:
    if isinstance(widget, forms.CheckboxSelectMultiple):
        return "checkboxes"
    if isinstance(widget, forms.SelectMultiple):
        return "multiselect"
    if isinstance(widget, forms.Select):
        return "select"
    if isinstance(widget, forms.NumberInput):
        return "number"
    return "search"


def filter_fields(filterset: StudyFilterSet, filters: StudyFilters) -> list[FilterField]:
    """Every declared filter with what the form shows: its options, and what `filters` chose."""
    fields = []
    for name, field in filterset.form.fields.items():
        chosen = filters.texts(name)
        widget = field.widget
        kind = _kind(widget)
        options = tuple(
            Option(str(value), str(label), str(value) in chosen)
            for value, label in getattr(widget, "choices", ())
            if kind in ("checkboxes", "multiselect", "select")
        )
        attrs = field.widget_attrs(widget) if kind == "number" else {}
        fields.append(FilterField(
            name=name, id=f"filter-{name.replace('_', '-')}", label=str(field.label), help_text=str(field.help_text),
            kind=kind, options=options, value=chosen[0] if chosen and kind in ("number", "search") else "",
            attrs=tuple((k, str(v)) for k, v in attrs.items()),
        ))
    return fields
