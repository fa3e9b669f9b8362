"""One vocabulary for every table handed out: the API's JSON and CSV, the portal's downloads
and the map dump.

- A record is a flat mapping of field names to values; the JSON carries it as it is and the CSV
  has one column per field, with the same name. A coded field comes with its label alongside
  (`design` and `design_label`); a missing value is null in JSON and an empty CSV cell (empty
  text is missing too: never "").
- Nested objects (a cell's `label` and `confidence`) are always objects, never null, so that
  `pandas.json_normalize` and the CSV both name their members `label.text`, `label.band`, ...
- A multi-valued field is always a JSON array, and in CSV its values joined by "|" (nothing for
  none), with a "|" or "\\" inside a value written "\\|" and "\\\\"; `split_values` reads it back.
  Lists of objects (a study's `codes`) are JSON only: their ids and labels are separate fields.
- Numbers are written in full (Python's shortest exact form): nothing is rounded.

The records themselves: `study_record` and `effect_size_record` here, a cell's from
`evidence.synthesis.presenter.cell_record`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from evidence.tables import safe_cell
from studies.effect_sizes.registry import INPUT_FIELDS
from studies.models import EffectSize, Study

SEPARATOR = "|"
ESCAPE = "\\"


def join_values(values: Iterable[object]) -> str:
    """["a", "b|c"] -> 'a|b\\|c'."""
    return SEPARATOR.join(
        csv_value(v).replace(ESCAPE, ESCAPE * 2).replace(SEPARATOR, ESCAPE + SEPARATOR) for v in values
    )


def split_values(text: str) -> list[str]:
    """The inverse of join_values (values come back as text)."""
    if text == "":
        return []
    values, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == ESCAPE:
            escaped = True
        elif char == SEPARATOR:
            values.append("".join(current))
            current = []
        else:
            current.append(char)
    values.append("".join(current))
    return values


def csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return join_values(value)
    if isinstance(value, datetime):
        return iso(value) or ""
    return str(value)


def flat(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"label": {"text": "Small"}} -> {"label.text": "Small"}, as pandas.json_normalize names
    it; lists of objects are left out (JSON only)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat(value, f"{name}."))
        elif isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value):
            continue
        else:
            out[name] = value
    return out


def _cell(value: Any) -> object:
    # Text is kept from being read as a spreadsheet formula; numbers (a negative g) are not text.
    return safe_cell(csv_value(value)) if isinstance(value, str | list | tuple) else csv_value(value)


def csv_lines(columns: Sequence[str], rows: Iterable[Mapping[str, Any]], *, batch: int = 500) -> Iterator[str]:
    """The header, then the rows (flattened records) in batches: for streaming a long table."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for n, row in enumerate(rows, 1):
        writer.writerow([_cell(row.get(column)) for column in columns])
        if n % batch == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def blank_as_null(value: Any) -> Any:
    """Missing text is null, as missing numbers are; so is a stored NaN or infinity (only a row
    written past validation can hold one), which JSON cannot carry."""
    if value == "" or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


def iso(value: datetime | None) -> str | None:
    """A time as ISO 8601 in UTC with a Z, microseconds kept: the same text in JSON and CSV."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- Studies and effect sizes ---

STUDY_FIELDS = (
    "id", "map", "external_id", "authors", "year", "title", "short_title", "source", "volume", "issue", "pages",
    "doi", "url", "abstract", "keywords", "countries", "is_global", "region", "population", "design",
    "design_label", "confidence", "confidence_label", "status", "status_label", "intervention_ids",
    "intervention_labels", "outcome_ids", "outcome_labels", "code_ids", "code_labels", "created_at", "updated_at",
)
# JSON only (a list of objects): the study's codes with their code sets.
STUDY_JSON_ONLY = ("codes",)
STUDY_JSON_FIELDS = (*STUDY_FIELDS[:-2], *STUDY_JSON_ONLY, *STUDY_FIELDS[-2:])


def study_record(study: Study) -> dict[str, Any]:
    """A study with its map, codings (prefetched: interventions, outcomes, codes) and labels."""
    interventions = sorted(study.interventions.all(), key=lambda n: n.pk)
    outcomes = sorted(study.outcomes.all(), key=lambda n: n.pk)
    codes = sorted(study.codes.all(), key=lambda c: (c.code_set_id, c.pk))
    record: dict[str, Any] = {
        "id": study.pk, "map": study.evidence_map.slug, "external_id": study.external_id,
        "authors": study.authors, "year": study.year, "title": study.title, "short_title": study.short_title,
        "source": study.source, "volume": study.volume, "issue": study.issue, "pages": study.pages,
        "doi": study.doi, "url": study.url, "abstract": study.abstract, "keywords": study.keywords,
        "countries": [country.code for country in study.countries], "is_global": study.is_global,
        "region": study.region, "population": study.population,
        "design": study.design, "design_label": study.get_design_display() if study.design else None,
        "confidence": study.confidence,
        "confidence_label": study.get_confidence_display() if study.confidence else None,
        "status": study.status, "status_label": study.get_status_display(),
        "intervention_ids": [n.pk for n in interventions], "intervention_labels": [n.name for n in interventions],
        "outcome_ids": [n.pk for n in outcomes], "outcome_labels": [n.name for n in outcomes],
        "code_ids": [c.pk for c in codes], "code_labels": [c.name for c in codes],
        "codes": [{"id": c.pk, "name": c.name, "code_set": c.code_set_id} for c in codes],
        "created_at": iso(study.created_at), "updated_at": iso(study.updated_at),
    }
    return {key: blank_as_null(value) for key, value in record.items()}


EFFECT_SIZE_FIELDS = (
    "id", "map", "external_id", "study_id", "study_label", "intervention_id", "intervention_label", "outcome_id",
    "outcome_label", "label", "input_kind", "input_kind_label", *INPUT_FIELDS, "g", "var_g", "se_g", "ci_low_g",
    "ci_high_g", "native_metric", "native_yi", "native_vi", "conversion_note", "notes", "created_at", "updated_at",
)


def effect_size_record(effect: EffectSize) -> dict[str, Any]:
    """An effect size with its study, cell and labels (study, its map, intervention and outcome
    selected), its input fields (the registry's) and g in full precision."""
    record: dict[str, Any] = {
        "id": effect.pk, "map": effect.study.evidence_map.slug, "external_id": effect.external_id,
        "study_id": effect.study_id, "study_label": effect.study.short_citation,
        "intervention_id": effect.intervention_id, "intervention_label": effect.intervention.name,
        "outcome_id": effect.outcome_id, "outcome_label": effect.outcome.name,
        "label": effect.label, "input_kind": effect.input_kind, "input_kind_label": effect.get_input_kind_display(),
        **{name: getattr(effect, name) for name in INPUT_FIELDS},
        "g": effect.g, "var_g": effect.var_g, "se_g": effect.se_g, "ci_low_g": effect.ci_low_g,
        "ci_high_g": effect.ci_high_g, "native_metric": effect.native_metric, "native_yi": effect.native_yi,
        "native_vi": effect.native_vi, "conversion_note": effect.conversion_note, "notes": effect.notes,
        "created_at": iso(effect.created_at), "updated_at": iso(effect.updated_at),
    }
    return {key: blank_as_null(value) for key, value in record.items()}
