"""OpenAPI parameters derived from the one declaration of the map filters (StudyFilterSet)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter

from evidence.filters import CodeField, ManyValuesField, StudyFilterSet, YearField, YesNoField


def filter_parameters() -> list[OpenApiParameter]:
    """One query parameter per declared filter, with its type, allowed values and help text."""
    parameters = []
    form = StudyFilterSet(queryset=None).form
    for name, field in form.fields.items():
        description = str(field.help_text)
        if isinstance(field, CodeField):
            parameters.append(OpenApiParameter(name, int, many=True, description=description))
        elif isinstance(field, ManyValuesField):
            # Country codes are too many to list; their help text names the standard.
            enum = [value for value, _ in field.choices] if field._choices and not callable(field._choices) else None
            parameters.append(OpenApiParameter(name, str, many=True, enum=enum, description=description))
        elif isinstance(field, YearField):
            parameters.append(OpenApiParameter(name, int, description=description))
        elif isinstance(field, YesNoField):
            parameters.append(OpenApiParameter(name, str, enum=["yes", "no"], description=description))
        else:
            parameters.append(OpenApiParameter(name, str, description=description))
    return parameters
