"""CSV: one flat row per study, effect size or cell (nested objects become dotted columns)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import BaseRenderer

from evidence.tables import csv_text


def flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"label": {"text": "Small"}} -> {"label.text": "Small"}; lists are joined with ";", and
    lists of objects (a study's codes) are written as JSON."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value):
            flat[name] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        elif isinstance(value, list | tuple):
            flat[name] = ";".join(str(v) for v in value)
        else:
            flat[name] = value
    return flat


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def rows_of(data: Any) -> list[Mapping[str, Any]]:
    """The rows in a response body: a list, a table, a page's results, a map's cells, or one object."""
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping):
        for key in ("rows", "results", "cells"):
            if isinstance(data.get(key), list):
                return list(data[key])
        if isinstance(data.get("error"), Mapping):
            return [data["error"]]
        return [data]
    return []


def table(columns: list[str], rows: list[Mapping[str, Any]]) -> dict[str, Any]:
    """What a view returns for CSV: the columns are written even when there are no rows."""
    return {"columns": columns, "rows": rows}


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Mapping[str, Any] | None = None
    ) -> bytes:
        rows = [flatten(row) for row in rows_of(data)]
        columns: dict[str, None] = {}
        if isinstance(data, Mapping) and isinstance(data.get("columns"), list):
            columns.update(dict.fromkeys(data["columns"]))
        for row in rows:
            columns.update(dict.fromkeys(row))
        if not columns:
            return b""
        body = csv_text(list(columns), ([_cell(row.get(column)) for column in columns] for row in rows))
        return body.encode(self.charset)
