"""Files readers take away: studies as CSV and RIS, a cell's effect sizes as CSV.

Pure functions over model instances that the views fetched first; they run no queries of
their own. Readers in other formats (importers) live beside them in this app.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from evidence.models import CodeSet
from evidence.synthesis.presenter import rounded
from evidence.tables import csv_text
from studies.models import EffectSize, Study

STUDY_COLUMNS = [
    "id", "authors", "year", "title", "source", "volume", "issue", "pages", "doi", "url", "design", "study_confidence",
    "countries", "region", "population", "interventions", "outcomes", "abstract",
]


def studies_csv(studies: Iterable[Study], *, code_sets: Sequence[CodeSet] = ()) -> str:
    """Studies with their coding, then a column per code set (named by its slug) with the
    study's codes of that set; interventions, outcomes and codes must be prefetched."""

    def codes_of(study: Study) -> list[str]:
        by_set: dict[int, list[str]] = {}
        for code in study.codes.all():
            by_set.setdefault(code.code_set_id, []).append(code.name)
        return ["; ".join(by_set.get(code_set.pk, ())) for code_set in code_sets]

    return csv_text(
        [*STUDY_COLUMNS, *(code_set.slug for code_set in code_sets)],
        (
            [
                s.pk, s.authors, "" if s.year is None else s.year, s.title, s.source, s.volume, s.issue, s.pages,
                s.doi, s.url, s.get_design_display(),
                s.get_confidence_display(), "; ".join(c.code for c in s.countries), s.region,
                s.population, "; ".join(n.name for n in s.interventions.all()),
                "; ".join(n.name for n in s.outcomes.all()), s.abstract, *codes_of(s),
            ]
            for s in studies
        ),
    )


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


EFFECT_COLUMNS = [
    "effect_id", "study_id", "study", "label", "intervention", "outcome", "input_kind", "inputs",
    "g", "se", "ci_low", "ci_high", "orientation", "g_reported", "conversion_note",
]
REVERSED = "reversed so that positive means improvement"


def effects_csv(effects: Iterable[EffectSize], *, reversed_outcomes: Collection[int] = ()) -> str:
    """Effect sizes with their study, the reported input and g as the cell pools it (study
    selected): reversed for the outcomes in `reversed_outcomes` (the cell's
    `Cell.reversed_outcomes`), which `orientation` says, with the reported g beside it."""

    def row(es: EffectSize) -> list[object]:
        sign = -1.0 if es.outcome_id in reversed_outcomes else 1.0
        low, high = sorted((sign * es.ci_low_g, sign * es.ci_high_g))
        return [
            es.pk, es.study_id, es.study.short_citation, es.label, es.intervention.name,
            es.outcome.name, es.get_input_kind_display(),
            "; ".join(f"{name} = {value:g}" if isinstance(value, float) else f"{name} = {value}"
                      for name, value in es.reported_inputs()),
            rounded(sign * es.g), rounded(es.se_g), rounded(low), rounded(high),
            REVERSED if sign < 0 else "as reported", rounded(es.g), es.conversion_note,
        ]

    return csv_text(EFFECT_COLUMNS, (row(es) for es in effects))
