"""The API's documentation page, rendered on the server from the OpenAPI schema.

No JavaScript and nothing from a CDN: the page is plain HTML with its own small stylesheet.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template import Context, Engine
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET
from drf_spectacular.generators import SchemaGenerator

from evidence.synthesis import reproduce

_ENGINE = Engine(dirs=[str(Path(__file__).parent / "templates")], autoescape=True)
_METHODS = ("get", "post", "put", "patch", "delete")


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "allOf" in schema:
        return " & ".join(_type(s) for s in schema["allOf"])
    if "oneOf" in schema:
        return " | ".join(_type(s) for s in schema["oneOf"])
    kind = str(schema.get("type", "object"))
    if kind == "array":
        kind = f"array of {_type(schema.get('items', {}))}"
    if schema.get("enum"):
        kind += f" ({', '.join(str(v) for v in schema['enum'] if v not in ('', None))})"
    if schema.get("nullable"):
        kind += ", or null"
    return kind


def _body(content: dict[str, Any]) -> str:
    types = [f"{media}: {_type(body.get('schema', {}))}" for media, body in content.items()]
    return "; ".join(types)


def page_context(schema: dict[str, Any]) -> dict[str, Any]:
    operations = []
    for path, item in schema.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            operations.append({
                "id": op.get("operationId", ""),
                "method": method.upper(),
                "path": path,
                "summary": op.get("summary", ""),
                "description": op.get("description", ""),
                "parameters": [
                    {"name": p["name"], "where": p["in"], "type": _type(p.get("schema", {})),
                     "required": p.get("required", False), "description": p.get("description", "")}
                    for p in op.get("parameters", [])
                ],
                "request": _body(op.get("requestBody", {}).get("content", {})),
                "responses": [
                    {"status": code, "description": r.get("description", ""), "body": _body(r.get("content", {}))}
                    for code, r in op.get("responses", {}).items()
                ],
                "secured": any("tokenAuth" in s for s in op.get("security", [])),
            })
    components = []
    for name, component in sorted(schema.get("components", {}).get("schemas", {}).items()):
        required = set(component.get("required", []))
        components.append({
            "name": name,
            "description": component.get("description", ""),
            "fields": [
                {"name": field, "type": _type(spec), "required": field in required,
                 "read_only": spec.get("readOnly", False), "description": spec.get("description", "")}
                for field, spec in component.get("properties", {}).items()
            ],
            "enum": component.get("enum", []),
        })
    return {"info": schema.get("info", {}), "operations": operations, "components": components}


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)  # type: ignore[no-untyped-call]
    return schema


@require_GET
def docs_page(request: HttpRequest) -> HttpResponse:
    template = _ENGINE.get_template("api/docs.html")
    cells_url = request.build_absolute_uri(reverse("api:cells", kwargs={"slug": "MAP_SLUG"}))
    context = {**page_context(_schema()), **reproduce.examples(cells_url), "stylesheet": static("api/docs.css")}
    html = template.render(Context(context))
    return HttpResponse(html, content_type="text/html; charset=utf-8")
