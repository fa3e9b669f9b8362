"""One error format for every API failure, and the exception handler that produces it.

    {"error": {"status": 400, "code": "invalid", "message": "...", "fields": {"year": ["..."]}}}

`fields` is present for validation errors only: each key is a request field or query
parameter, each value a list of messages.

Errors that DRF does not see come out in the same format too: the project's `handler400` and
`handler500` (config/urls.py) answer requests under /api/ with `bad_request` and
`server_error` below, and an exception that reaches the handler unhandled is logged and
answered as a 500 in this format (unless DEBUG is on, when Django's debug page shows it).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

from api.parsers import RequestTooLarge
from evidence.filters import FilterError

logger = logging.getLogger("django.request")

API_PREFIX = "/api/"

# Model field names that the API spells differently.
FIELD_NAMES = {"evidence_map": "map", "__all__": "non_field_errors"}


class InvalidParameter(exceptions.ValidationError):
    """A query parameter that cannot be used; `fields` names it."""

    default_code = "invalid_parameter"

    def __init__(self, name: str, message: str) -> None:
        super().__init__({name: [message]}, code="invalid_parameter")


# In the client's language (Accept-Language), as every message of the API's errors.
SERVER_ERROR = gettext_lazy("Something went wrong on our side; nothing was changed. Please try again later.")


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
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    response = exception_handler(exc, context)
    if response is None:
        if settings.DEBUG:
            return None  # Django's debug page, with the traceback
        request = context.get("request")
        logger.error("Internal Server Error: %s", getattr(request, "path", "?"), exc_info=exc)
        return Response(error_body(500, "server_error", str(SERVER_ERROR)), status=500)
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        code = "invalid_parameter" if _first_code(exc.detail, "invalid") == "invalid_parameter" else "invalid"
        names = ", ".join(fields)
        if code == "invalid_parameter":
            message = _("Invalid parameter: %(names)s.") % {"names": names}
        else:
            message = _("Invalid input: %(names)s.") % {"names": names}
        response.data = error_body(response.status_code, code, message, fields)
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        response.data = error_body(response.status_code, _first_code(detail, exc.default_code), str(detail))
    return response


def server_error_response() -> JsonResponse:
    return JsonResponse(error_body(500, "server_error", str(SERVER_ERROR)), status=500)


def server_error(request: HttpRequest) -> HttpResponse:
    """The project's handler500: the API's error format under /api/, Django's page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return server_error_response()
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The project's handler400 (a body too large, a bad Host, ...): the API's format under /api/."""
    if request.path.startswith(API_PREFIX):
        if isinstance(exception, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return JsonResponse(error_body(413, "request_too_large", str(RequestTooLarge(limit).detail)), status=413)
        return JsonResponse(error_body(400, "bad_request", _("The request cannot be read.")), status=400)
    return defaults.bad_request(request, exception)
