"""The schema's own parts: OpenAPI parameters derived from the one declaration of the map
filters (StudyFilterSet), and the post-processing that makes the schema plain for generators."""

from __future__ import annotations

import copy
from typing import Any, cast

from django.conf import settings
from django.db import models
from django.utils.module_loading import import_string
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


# Names of the enums that only query parameters use (the others come from ENUM_NAME_OVERRIDES).
_PARAMETER_ENUMS = {frozenset({"yes", "no"}): "YesNo", frozenset({"csv", "json"}): "ListFormat"}
_REF = "#/components/schemas/"


def _overrides() -> dict[str, Any]:
    return cast(dict[str, Any], settings.SPECTACULAR_SETTINGS.get("ENUM_NAME_OVERRIDES", {}))


def _enum_values(schema: dict[str, Any]) -> frozenset[Any]:
    return frozenset(v for v in schema.get("enum", []) if v not in ("", None))


def _rename_refs(node: Any, renamed: dict[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF) and ref[len(_REF):] in renamed:
            node["$ref"] = _REF + renamed[ref[len(_REF):]]
        for value in node.values():
            _rename_refs(value, renamed)
    elif isinstance(node, list):
        for value in node:
            _rename_refs(value, renamed)


def _share_enums(components: dict[str, Any]) -> dict[frozenset[Any], str]:
    """One component per set of values: enums of the same values under other names (a
    presenter's Literal and a model's choices) become references to the named one."""
    overrides = _overrides()
    # A model's choices name the enum before a presenter's list of the same values.
    rank = {name: 0 if str(source).split(".")[1] == "models" else 1 for name, source in overrides.items()}
    by_values: dict[frozenset[Any], str] = {}
    renamed: dict[str, str] = {}
    enums = [name for name, schema in components.items() if schema.get("enum") and _enum_values(schema)]
    for name in sorted(enums, key=lambda n: (rank.get(n, 2), n)):
        values = _enum_values(components[name])
        if values in by_values:
            renamed[name] = by_values[values]
        else:
            by_values[values] = name
    for name in renamed:
        del components[name]
    _rename_refs(components, renamed)
    return by_values


def _varnames(components: dict[str, Any]) -> None:
    """Integer enums name their members (x-enum-varnames), so that generated clients do not
    call them VALUE_1 and VALUE_NEGATIVE_1."""
    for name, source in _overrides().items():
        choices = import_string(source) if isinstance(source, str) else source
        if name in components and isinstance(choices, type) and issubclass(choices, models.IntegerChoices):
            order = {member.value: member.name for member in choices}
            components[name]["x-enum-varnames"] = [order[v] for v in components[name]["enum"] if v in order]


# The `release` parameter of the views that read a map's releases (api.views.base.ApiView.
# read_release): every GET under a map but its changes and its list of releases, and the lists
# that take a `map`.
RELEASE_PARAMETER = {
    "in": "query", "name": "release", "required": False,
    "schema": {"type": "integer", "minimum": 1},
    "description": "Read release n of the map (/api/v1/maps/{slug}/releases/ lists them). Without it a "
    "client reads the map's latest release, or, signed in as one of its members, its working copy; a "
    "map without releases is read as it is now. An unknown release is a 404.",
}
_NOT_RELEASED = ("/changes/", "/releases/")


def _reads_releases(path: str) -> bool:
    if path in ("/api/v1/studies/", "/api/v1/effect-sizes/"):
        return True
    return path.startswith("/api/v1/maps/{slug}/") and not path.endswith(_NOT_RELEASED)


def postprocess(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """What drf-spectacular leaves for a generator to guess, settled: public reads, shared
    named enums (query parameters too), named integer enum members, no `format` on writes."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    by_values = _share_enums(components)
    _varnames(components)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method == "get":
                # Reads need no token (one only shows drafts too): they take the document's
                # requirements, whose empty alternative says so. Generators read an operation's
                # own list, even with an empty alternative in it, as "a token is required".
                result["security"] = [*operation.pop("security", []), {}]
            parameters = operation.get("parameters", [])
            if method == "get" and _reads_releases(path):
                parameters = [*parameters, copy.deepcopy(RELEASE_PARAMETER)]
            if method != "get":
                parameters = [p for p in parameters if not (p["in"] == "query" and p["name"] == "format")]
            for parameter in parameters:
                schema = parameter["schema"]
                target = schema.get("items", schema) if schema.get("type") == "array" else schema
                values = _enum_values(target)
                if not values:
                    continue
                name = by_values.get(values) or _PARAMETER_ENUMS.get(values) or f"{parameter['name'].title()}Enum"
                if name not in components:
                    components[name] = {"enum": sorted(values), "type": target.get("type", "string")}
                    by_values[values] = name
                target.clear()
                target["$ref"] = _REF + name
            if parameters:
                operation["parameters"] = parameters
            else:
                operation.pop("parameters", None)
    return result
