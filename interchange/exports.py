"""Files readers take away: studies as CSV and RIS, a cell's effect sizes as CSV.

Pure functions over model instances that the views fetched first; they run no queries of
their own. Readers in other formats (importers) live beside them in this app.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from evidence.columns import (
    EFFECT_SIZE_FIELDS,
    STUDY_FIELDS,
    csv_lines,
    effect_size_record,
    study_record,
)
from evidence.models import CodeSet
from studies.models import EffectSize, Study


def studies_csv(studies: Iterable[Study], *, code_sets: Sequence[CodeSet] = ()) -> str:
    """The studies in the API's vocabulary (`evidence.columns`: the same columns as
    /api/v1/studies/?format=csv), then a column per code set (named by its slug) with the
    study's codes of that set, "|"-joined; map, interventions, outcomes and codes must be loaded."""

    def codes_of(study: Study) -> dict[str, list[str]]:
        by_set: dict[int, list[str]] = {}
        for code in sorted(study.codes.all(), key=lambda c: c.pk):  # as `code_labels`
            by_set.setdefault(code.code_set_id, []).append(code.name)
        return {code_set.slug: by_set.get(code_set.pk, []) for code_set in code_sets}

    columns = [*STUDY_FIELDS, *(code_set.slug for code_set in code_sets)]
    return "".join(csv_lines(columns, ({**study_record(s), **codes_of(s)} for s in studies)))


def _ris_line(tag: str, value: object) -> str:
    text = " ".join(str(value).split())  # one line: RIS has no continuation lines
    return f"{tag}  - {text}"


def studies_ris(studies: Iterable[Study], *, study_url: dict[int, str] | None = None) -> str:
    """The studies as RIS records (TY, AU, PY, TI, T2, VL, IS, SP/EP, DO, UR, AB, KW, ER), one per study.

    `study_url` gives each study's page on the portal, used when it has no URL of its own.
    """
    lines: list[str] = []
    for s in studies:
        lines.append(_ris_line("TY", "JOUR" if "journal" in s.source.lower() else "GEN"))
        for author in s.authors.split(";"):
            if author.strip():
                lines.append(_ris_line("AU", author.strip()))
        if s.year is not None:
            lines.append(_ris_line("PY", s.year))
        lines.append(_ris_line("TI", s.title))
        if s.source:
            lines.append(_ris_line("T2", s.source))
        for tag, value in (("VL", s.volume), ("IS", s.issue)):
            if value:
                lines.append(_ris_line(tag, value))
        if s.pages:
            first, _, last = s.pages.partition("-")
            lines.append(_ris_line("SP", first.strip()))
            if last.strip():
                lines.append(_ris_line("EP", last.strip()))
        if s.doi:
            lines.append(_ris_line("DO", s.doi))
        url = s.url or s.doi_url or (study_url or {}).get(s.pk, "")
        if url:
            lines.append(_ris_line("UR", url))
        if s.abstract:
            lines.append(_ris_line("AB", s.abstract))
        for keyword in s.keywords.splitlines():
            if keyword.strip():
                lines.append(_ris_line("KW", keyword))
        lines.append("ER  - ")
        lines.append("")
    return "\r\n".join(lines)


REVERSED = "reversed so that positive means improvement"
# The cell's download: the API's effect-size columns, then how the cell pools each one.
CELL_EFFECT_FIELDS = (*EFFECT_SIZE_FIELDS, "orientation", "g_pooled", "ci_low_pooled", "ci_high_pooled")


def effects_csv(effects: Iterable[EffectSize], *, reversed_outcomes: Collection[int] = ()) -> str:
    """Effect sizes in the API's vocabulary (the columns of /api/v1/effect-sizes/?format=csv),
    g and its variance in full precision (study, its map, intervention and outcome selected),
    then g and its interval as the cell pools them: reversed for the outcomes in
    `reversed_outcomes` (the cell's `Cell.reversed_outcomes`), which `orientation` says."""

    def record(es: EffectSize) -> dict[str, object]:
        sign = -1.0 if es.outcome_id in reversed_outcomes else 1.0
        low, high = sorted((sign * es.ci_low_g, sign * es.ci_high_g))
        return {
            **effect_size_record(es), "orientation": REVERSED if sign < 0 else "as reported",
            "g_pooled": sign * es.g, "ci_low_pooled": low, "ci_high_pooled": high,
        }

    return "".join(csv_lines(list(CELL_EFFECT_FIELDS), (record(es) for es in effects)))
