"""The map page's filter form, drawn from the one declaration of the filters (StudyFilterSet)."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms

from evidence.filters import CodeTreeWidget, StudyFilters, StudyFilterSet
from portal.i18n import say


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    selected: bool
    depth: int = 0  # in a tree of options: 0 at the top
    children: tuple[Option, ...] = ()


@dataclass(frozen=True)
class OptionGroup:
    """A group of a filter's options (a code set's codes), its options as a tree."""

    label: str
    id: str
    options: tuple[Option, ...]


@dataclass(frozen=True)
class FilterField:
    name: str
    id: str
    label: str
    help_text: str
    kind: str  # checkboxes, tree, multiselect, select, number or search
    options: tuple[Option, ...] = ()
    value: str = ""
    attrs: tuple[tuple[str, str], ...] = ()
    groups: tuple[OptionGroup, ...] = ()  # kind "tree": one group per code set


def _kind(widget: forms.Widget) -> str:
    if isinstance(widget, CodeTreeWidget):
        return "tree"
    if isinstance(widget, forms.CheckboxSelectMultiple):
        return "checkboxes"
    if isinstance(widget, forms.SelectMultiple):
        return "multiselect"
    if isinstance(widget, forms.Select):
        return "select"
    if isinstance(widget, forms.NumberInput):
        return "number"
    return "search"


def _option_tree(codes: list[tuple[int, str, int]], chosen: tuple[str, ...]) -> tuple[Option, ...]:
    """(id, name, depth) rows, depth first, as nested options."""

    def take(start: int, depth: int) -> tuple[list[Option], int]:
        options: list[Option] = []
        i = start
        while i < len(codes) and codes[i][2] >= depth:
            pk, name, _ = codes[i]
            children, i = take(i + 1, depth + 1)
            options.append(Option(str(pk), name, str(pk) in chosen, depth, tuple(children)))
        return options, i

    return tuple(take(0, 0)[0])


def filter_fields(filterset: StudyFilterSet, filters: StudyFilters) -> list[FilterField]:
    """Every declared filter with what the form shows: its options, and what `filters` chose.

    The `code` filter is shown only when the map offers code sets as filters: one group of
    nested checkboxes per code set.
    """
    fields = []
    for name, field in filterset.form.fields.items():
        chosen = filters.texts(name)
        widget = field.widget
        kind = _kind(widget)
        if kind == "tree":
            groups = tuple(
                OptionGroup(label, f"filter-{name}-{slug}", _option_tree(list(codes), chosen))
                for label, slug, codes in widget.groups
            )
            if groups:
                fields.append(FilterField(
                    name=name, id=f"filter-{name}", label=say(str(field.label)), help_text=str(field.help_text),
                    kind=kind, groups=groups,
                ))
            continue
        options = tuple(
            Option(str(value), say(str(label)), str(value) in chosen)
            for value, label in getattr(widget, "choices", ())
            if kind in ("checkboxes", "multiselect", "select")
        )
        attrs = field.widget_attrs(widget) if kind == "number" else {}
        fields.append(FilterField(
            name=name, id=f"filter-{name.replace('_', '-')}", label=say(str(field.label)), help_text=str(field.help_text),
            kind=kind, options=options, value=chosen[0] if chosen and kind in ("number", "search") else "",
            attrs=tuple((k, str(v)) for k, v in attrs.items()),
        ))
    return fields


def _chosen(options: tuple[Option, ...]) -> list[str]:
    found: list[str] = []
    for option in options:
        if option.selected:
            found.append(option.label)
        found.extend(_chosen(option.children))
    return found


def chosen_filters(fields: list[FilterField]) -> list[tuple[str, str]]:
    """(label, chosen values in words) of each filter in use, as the form labels them."""
    found = []
    for field in fields:
        if field.kind == "tree":
            chosen = [label for group in field.groups for label in _chosen(group.options)]
        elif field.options:
            chosen = _chosen(field.options)
        else:
            chosen = [field.value] if field.value else []
        if chosen:
            found.append((str(field.label), ", ".join(chosen)))
    return found


def described_filters(fields: list[FilterField]) -> str:
    """The chosen filters in words: "Study design: RCT; Published from: 2010"."""
    return "; ".join(f"{label}: {values}" for label, values in chosen_filters(fields))
