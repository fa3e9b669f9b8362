"""CSV: one flat row per record, in the vocabulary of `evidence.columns` (the JSON's field
names, nested objects as `parent.child`, multi-valued fields joined by "|")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import BaseRenderer

from evidence.columns import csv_lines, flat


def rows_of(data: Any) -> list[Mapping[str, Any]]:
    """The rows in a response body: a list, a table, a page's results, a map's cells, or one object."""
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping):
        for key in ("rows", "results", "cells"):
            if isinstance(data.get(key), list):
                return list(data[key])
        return [data]
    return []


def table(columns: list[str], rows: Any) -> dict[str, Any]:
    """What a view returns for CSV: the columns are written even when there are no rows."""
    return {"columns": columns, "rows": rows}


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Mapping[str, Any] | None = None
    ) -> bytes:
        rows = [flat(row) for row in rows_of(data)]
        columns: dict[str, None] = {}
        if isinstance(data, Mapping) and isinstance(data.get("columns"), list):
            columns.update(dict.fromkeys(data["columns"]))
        else:
            for row in rows:
                columns.update(dict.fromkeys(row))
        if not columns:
            return b""
        return "".join(csv_lines(list(columns), rows)).encode(self.charset)
