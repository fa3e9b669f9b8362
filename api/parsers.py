"""The one body format the API's writes take: JSON, with a size and a depth limit.

A body larger than DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 (read no further than the limit),
JSON nested deeper than MAX_DEPTH a 400, and so is text that JSON cannot carry into a
database: a string (or a key) with a lone surrogate, named by its place in the body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers

MAX_DEPTH = 64


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "request_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit} bytes.")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def check_tree(data: Any) -> None:
    """Raise a 400 for nesting deeper than MAX_DEPTH or a string with a lone surrogate
    (iterative, so the check itself cannot overflow the stack)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise exceptions.ValidationError({path or "non_field_errors": ["contains a lone surrogate, which is not text."]})
            continue
        if not isinstance(value, Mapping | list):
            continue
        if depth > MAX_DEPTH:
            raise exceptions.ParseError(f"JSON parse error: nested deeper than {MAX_DEPTH} levels.")
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        for key, item in items:
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _SURROGATE.search(key):
                raise exceptions.ValidationError({"non_field_errors": ["A key contains a lone surrogate, which is not text."]})
            stack.append((item, name, depth + 1))


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        # Read one byte past the limit, never the whole of an oversized body.
        raw: bytes = b"" if stream is None else stream.read(-1 if limit is None else limit + 1)
        if limit is not None and len(raw) > limit:
            raise RequestTooLarge(limit)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise exceptions.ParseError(f"JSON parse error: the body is not {encoding} text.") from None
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except RecursionError:
            raise exceptions.ParseError(f"JSON parse error: nested deeper than {MAX_DEPTH} levels.") from None
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error: {exc}") from None
        check_tree(data)
        return data
