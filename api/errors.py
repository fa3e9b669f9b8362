"""One error format for every API failure, and the exception handler that produces it.

    {"error": {"status": 400, "code": "invalid", "message": "...", "fields": {"year": ["..."]}}}

`fields` is present for validation errors only: each key is a request field or query
parameter, each value a list of messages.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

from evidence.filters import FilterError

# Model field names that the API spells differently.
FIELD_NAMES = {"evidence_map": "map", "__all__": "non_field_errors"}


class InvalidParameter(exceptions.ValidationError):
    """A query parameter that cannot be used; `fields` names it."""

    default_code = "invalid_parameter"

    def __init__(self, name: str, message: str) -> None:
        super().__init__({name: [message]}, code="invalid_parameter")


def model_errors(exc: DjangoValidationError) -> exceptions.ValidationError:
    """A model's full_clean() errors as a DRF validation error, keyed by API field names."""
    detail = as_serializer_error(exc)
    return exceptions.ValidationError({FIELD_NAMES.get(k, k): v for k, v in detail.items()})


def _flatten(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub, messages in _flatten(value).items():
                    out[f"{key}.{sub}"] = messages
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                for index, item in enumerate(value):
                    for sub, messages in _flatten(item).items():
                        out[f"{key}.{index}.{sub}"] = messages
            else:
                out[str(key)] = [str(m) for m in (value if isinstance(value, list) else [value])]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [str(m) for m in detail]}
    return {"non_field_errors": [str(detail)]}


def _first_code(detail: Any, default: str) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_code(value, default)
    if isinstance(detail, list) and detail:
        return _first_code(detail[0], default)
    return str(getattr(detail, "code", None) or default)


def error_body(status_code: int, code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"status": status_code, "code": code, "message": message}
    if fields is not None:
        error["fields"] = fields
    return {"error": error}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with model and filter validation errors as 400 and one body format."""
    if isinstance(exc, DjangoValidationError):
        exc = model_errors(exc)
    elif isinstance(exc, FilterError):
        exc = InvalidParameter(exc.field, exc.message)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        # The services' refusals name the role that is missing and the record.
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        code = "invalid_parameter" if _first_code(exc.detail, "invalid") == "invalid_parameter" else "invalid"
        names = ", ".join(fields)
        message = f"Invalid {'parameter' if code == 'invalid_parameter' else 'input'}: {names}."
        response.data = error_body(response.status_code, code, message, fields)
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        response.data = error_body(response.status_code, _first_code(detail, exc.default_code), str(detail))
    return response
