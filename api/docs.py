"""The API's documentation: the OpenAPI schema, and the page rendered on the server from it.

No JavaScript and nothing from a CDN: the page is plain HTML with its own small stylesheet.
Both are generated from the code alone, so they carry a strong ETag (a digest of the body) and
a Last-Modified of the code release (`release_modified`), and answer 304 to a client whose copy
is current, as every other GET of the API does.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template import Context, Engine
from django.templatetags.static import static
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date, quote_etag
from django.views.decorators.http import require_GET
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request

from evidence.synthesis import reproduce

_ENGINE = Engine(dirs=[str(Path(__file__).parent / "templates")], autoescape=True)
_METHODS = ("get", "post", "put", "patch", "delete")
# The code the schema and the page are generated from (the API, the models and presenter it
# describes, the settings), and the kinds of file that hold it.
_SOURCES = ("api", "evidence", "studies", "config")
_SOURCE_SUFFIXES = frozenset({".py", ".html", ".css"})


@cache
def release_modified() -> int:
    """When the running release's code last changed, as a Unix time: the newest modification
    time of its source files (set when the release is checked out, built or deployed)."""
    newest = 0.0
    for package in _SOURCES:
        for path in (Path(settings.BASE_DIR) / package).rglob("*"):
            if path.suffix in _SOURCE_SUFFIXES and "__pycache__" not in path.parts:
                newest = max(newest, path.stat().st_mtime)
    return int(newest)


def conditional(request: HttpRequest, response: HttpResponse) -> HttpResponseBase:
    """`response` (rendered, 200) with a strong ETag (a digest of its body) and the release's
    Last-Modified; a 304 instead when the client's If-None-Match or If-Modified-Since says its
    copy is current."""
    etag = quote_etag(hashlib.sha256(response.content).hexdigest()[:32])
    modified = release_modified()
    answer = get_conditional_response(request, etag=etag, last_modified=modified) or response
    answer["ETag"] = etag
    answer["Last-Modified"] = http_date(modified)
    answer["Cache-Control"] = "no-cache"
    if response.has_header("Vary"):
        answer["Vary"] = response["Vary"]
    return answer


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema (YAML, or JSON with `?format=json`), with validators."""

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method != "GET" or response.status_code != 200:
            return response
        response.render()  # the digest is of the bytes sent
        return conditional(request._request, response)


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
def docs_page(request: HttpRequest) -> HttpResponseBase:
    template = _ENGINE.get_template("api/docs.html")
    cells_url = request.build_absolute_uri(reverse("api:cells", kwargs={"slug": "MAP_SLUG"}))
    context = {**page_context(_schema()), **reproduce.examples(cells_url), "stylesheet": static("api/docs.css")}
    html = template.render(Context(context))
    return conditional(request, HttpResponse(html, content_type="text/html; charset=utf-8"))
