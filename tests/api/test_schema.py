"""The OpenAPI schema: valid, documented, and honoured by the API (a bounded schemathesis run)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from django.utils.http import http_date
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from rest_framework.test import APIClient
from schemathesis import checks as sm_checks

from interchange.demo import DEMO_SLUG

pytestmark = pytest.mark.django_db

# Generated cases per GET operation: enough to try filters, bad values and paths, and keep
# the whole run well under a minute.
EXAMPLES_PER_OPERATION = 20


def test_schema_is_valid_openapi_3() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    assert {
        "/api/v1/maps/", "/api/v1/maps/{slug}/", "/api/v1/maps/{slug}/interventions/",
        "/api/v1/maps/{slug}/outcomes/", "/api/v1/maps/{slug}/code-sets/", "/api/v1/maps/{slug}/cells/",
        "/api/v1/maps/{slug}/cells/{intervention_id}/{outcome_id}/", "/api/v1/studies/",
        "/api/v1/studies/{id}/", "/api/v1/effect-sizes/", "/api/v1/effect-sizes/{id}/",
        "/api/v1/tokens/", "/api/v1/tokens/{id}/",
        "/api/v1/maps/{slug}/changes/", "/api/v1/maps/{slug}/dump/", "/api/v1/maps/{slug}/releases/",
        "/api/v1/maps/{slug}/releases/compare/",
    } == paths
    # Every field of every object is described or self-explanatory, and names are stable.
    cell = schema["components"]["schemas"]["CellOutput"]["properties"]
    assert {"intervention_id", "outcome_id", "n_studies", "n_effects", "estimate", "ci_low", "ci_high",
            "pi_low", "pi_high", "tau2", "i2", "label", "confidence"} <= set(cell)
    assert cell["estimate"]["description"]
    error = schema["components"]["schemas"]["ErrorDetail"]["properties"]
    assert set(error) == {"status", "code", "message", "fields"}
    # Code sets: the map's own trees, the codes of each study, and one `code` filter parameter
    # (integer ids, repeatable) that stays the same whatever code sets the maps have.
    code_set = schema["components"]["schemas"]["CodeSetOutput"]["properties"]
    assert {"id", "slug", "name", "is_filter", "is_segment", "codes"} <= set(code_set)
    code = schema["components"]["schemas"]["CodeOutput"]["properties"]
    assert {"id", "name", "parent_id", "depth", "children", "external_id"} <= set(code)
    study = schema["components"]["schemas"]["StudyOutput"]["properties"]
    assert study["codes"]["type"] == "array"
    for path in ("/api/v1/studies/", "/api/v1/maps/{slug}/cells/",
                 "/api/v1/maps/{slug}/cells/{intervention_id}/{outcome_id}/"):
        parameters = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}
        assert parameters["code"]["schema"] == {"type": "array", "items": {"type": "integer"}}, path
        assert "codes below it" in parameters["code"]["description"]


def test_schema_passes_openapi_spec_validator(api: APIClient) -> None:
    schema = api.get("/api/v1/schema/?format=json").json()
    validate(schema)  # raises on the first problem


def test_schema_is_plain_for_generators(api: APIClient) -> None:
    """What a client generator needs to be told rather than guess."""
    schema = api.get("/api/v1/schema/?format=json").json()
    # Reads are public: GETs take the document's requirements, which include the empty one;
    # writes name the token.
    assert schema["security"][-1] == {} and {"tokenAuth": []} in schema["security"]
    components = schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            if method == "get":
                assert "security" not in operation, where
            else:
                assert operation["security"] == [{"tokenAuth": []}, {"cookieAuth": []}], where
                assert "format" not in {p["name"] for p in operation.get("parameters", [])}, where
                for media in operation.get("requestBody", {}).get("content", {}):
                    assert media == "application/json", where
            # Ids in paths are integers, as in bodies.
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] != "slug":
                    assert parameter["schema"]["type"] == "integer", (where, parameter)
                # No inline enums: every list of values is a named, shared component.
                target = parameter["schema"].get("items", parameter["schema"])
                assert "enum" not in target, (where, parameter)
            # A description of its own, never a base class's docstring.
            assert operation.get("description") and "JSON views" not in operation["description"], where
    enums = {name: c for name, c in components.items() if c.get("enum") and name not in ("NullEnum", "BlankEnum")}
    values = [frozenset(v for v in c["enum"] if v not in ("", None)) for c in enums.values()]
    assert len(values) == len(set(values)), "two components list the same values"
    assert {"StudyDesign", "ConfidenceLevel", "Region", "StudyStatus", "PoolingMethod", "PoolingTest", "CellModel",
            "CellVcov", "EffectBand", "EffectLabelDirection", "I2Definition", "EffectDirection", "YesNo"} <= set(enums)
    assert components["EffectDirection"]["x-enum-varnames"] == ["FAVOURS_INTERVENTION", "FAVOURS_COMPARISON"]
    cell = components["CellOutput"]["properties"]
    assert cell["model"]["oneOf"][0] == {"$ref": "#/components/schemas/CellModel"}
    # A label and a confidence are always objects, their members null for a cell without one.
    assert components["EffectLabel"]["properties"]["band"]["oneOf"][0] == {"$ref": "#/components/schemas/EffectBand"}
    assert components["Confidence"]["properties"]["level"]["oneOf"][0] == {
        "$ref": "#/components/schemas/ConfidenceLevel"
    }
    study = components["StudyOutput"]["properties"]
    assert {"$ref": "#/components/schemas/StudyDesign"} in study["design"].get("allOf", study["design"].get("oneOf", []))
    assert "read-only" not in json.dumps(schema["info"]).lower()
    detail = schema["paths"]["/api/v1/maps/{slug}/cells/{intervention_id}/{outcome_id}/"]["get"]
    assert "pooled_effects" in detail["description"]


def test_schema_endpoint(api: APIClient) -> None:
    response = api.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Evidence and gap map portal API"
    assert api.get("/api/v1/schema/").status_code == 200  # YAML


def test_docs_page_is_self_contained(api: APIClient) -> None:
    response = api.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "GET" in html and "/api/v1/maps/{slug}/cells/" in html and "CellOutput" in html
    # The only absolute addresses are this server's, in the examples that fetch a cell.
    assert set(re.findall(r"http://[^/\s\"]+", html)) == {"http://testserver"}
    assert "<script" not in html and "cdn" not in html.lower()
    assert 'src="http' not in html and 'href="http' not in html
    assert "reproduce_cell" in html and "coef_test(fit, vcov = &quot;CR2&quot;" in html


def test_schemathesis_get_operations(demo_map) -> None:  # type: ignore[no-untyped-def]
    """Every GET operation, fed generated parameters against the demo map: never a 5xx, and
    every response conforms to the schema (status code, content type, body)."""
    started = time.monotonic()
    # As Django's test client does: keep the test's database connection (and its transaction)
    # open across requests instead of closing it when each request finishes.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        _run_schemathesis("GET", {}, EXAMPLES_PER_OPERATION)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert time.monotonic() - started < 60


def test_schemathesis_write_operations(demo_map, reviewer) -> None:  # type: ignore[no-untyped-def]
    """Writes with a reviewer's token: generated bodies are accepted or refused with a documented
    4xx, never a 5xx; each example runs inside the test's transaction."""
    from api import tokens

    key = tokens.issue(user=reviewer, name="tests")[1]
    started = time.monotonic()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        _run_schemathesis(["POST", "PATCH", "DELETE"], {"Authorization": f"Token {key}"}, 10)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert time.monotonic() - started < 60


DEMO_CELLS: list[tuple[int, int]] = []


def _run_schemathesis(methods: str | list[str], headers: dict[str, str], examples: int) -> None:
    from evidence.models import EvidenceMap
    from evidence.synthesis import map_evidence

    cells = map_evidence(EvidenceMap.objects.get(slug=DEMO_SLUG)).cells
    DEMO_CELLS[:] = sorted(cells)[:: max(1, len(cells) // 4)]
    app = get_wsgi_application()
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", app).include(method=methods)
    chosen = [
        sm_checks.not_a_server_error,
        sm_checks.status_code_conformance,
        sm_checks.content_type_conformance,
        sm_checks.response_schema_conformance,
    ]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations

    for operation in operations:
        strategy = operation.as_strategy()
        if "{slug}" in operation.path:
            # Random slugs only find 404s: also ask about the demo map.
            fixed = [{"slug": DEMO_SLUG}]
            if "{intervention_id}" in operation.path:
                # ... and about cells that hold studies, aggregate cells among them.
                fixed = [{"slug": DEMO_SLUG, "intervention_id": i, "outcome_id": o} for i, o in DEMO_CELLS]
            strategy = st.one_of(strategy, *(operation.as_strategy(path_parameters=p) for p in fixed))

        @settings(
            max_examples=examples, deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def check(case: schemathesis.Case) -> None:
            # Called in-process through WSGI, where nothing would decompress a gzip body.
            response = case.call(headers={"Accept-Encoding": "identity", **headers})
            case.validate_response(response, checks=chosen)

        check()


@pytest.mark.parametrize("url", ["/api/v1/schema/", "/api/v1/schema/?format=json", "/api/v1/docs/"])
def test_schema_and_docs_have_validators(api: APIClient, url: str) -> None:
    """The schema and the documentation carry a strong ETag (a digest of the body) and the
    release's Last-Modified, and answer 304 to a client whose copy is current."""
    first = api.get(url)
    assert first.status_code == 200
    etag, modified = first["ETag"], first["Last-Modified"]
    assert etag == f'"{hashlib.sha256(first.content).hexdigest()[:32]}"'  # strong: no W/
    assert parsedate_to_datetime(modified) <= datetime.now(UTC)
    assert first["Cache-Control"] == "no-cache"

    again = api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag and again["Last-Modified"] == modified
    assert api.get(url, HTTP_IF_NONE_MATCH='"something-else"').status_code == 200
    assert api.get(url, HTTP_IF_MODIFIED_SINCE=modified).status_code == 304
    earlier = http_date(parsedate_to_datetime(modified).timestamp() - 1)
    assert api.get(url, HTTP_IF_MODIFIED_SINCE=earlier).status_code == 200


def test_schema_formats_have_their_own_etag(api: APIClient) -> None:
    yaml_tag = api.get("/api/v1/schema/")["ETag"]
    json_tag = api.get("/api/v1/schema/?format=json")["ETag"]
    assert yaml_tag != json_tag
    assert api.get("/api/v1/schema/?format=json", HTTP_IF_NONE_MATCH=yaml_tag).status_code == 200


def test_release_modified_is_the_newest_source_file(tmp_path: Path) -> None:
    from api import docs

    for package, age in (("api", 300), ("evidence", 100), ("studies", 200)):
        (tmp_path / package / "sub").mkdir(parents=True)
        source = tmp_path / package / "sub" / "module.py"
        source.write_text("")
        os.utime(source, (1_700_000_000 - age, 1_700_000_000 - age))
    cached = tmp_path / "api" / "__pycache__"
    cached.mkdir()
    (cached / "module.cpython.pyc").write_text("")  # compiled later: not a change of the code
    docs.release_modified.cache_clear()
    try:
        with override_settings(BASE_DIR=tmp_path):
            assert docs.release_modified() == 1_700_000_000 - 100
    finally:
        docs.release_modified.cache_clear()
