"""What an import found: every problem at once, each naming its record and field in the words
of the file, so that a reviewer can find and fix it there.

Three severities. An *error* stops the import (nothing is written until the file is fixed); a
*warning* says that something was imported with a change or left out; a *note* lists
something imported as it is that a reviewer should know about (a reference with no year, an
effect size whose SMD differs from the source's, a record of the map that the file lacks).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


# Headings of the report's groups, by problem kind, in the order the report lists them.
# A kind not listed here is shown under its own name after these.
KIND_TITLES: dict[str, str] = {
    "encoding": "The file is not UTF-8",
    "json": "The file is not valid JSON",
    "structure": "The file does not have the shape of an EPPI-Reviewer export",
    "bad_value": "Values that cannot be read",
    "duplicate_id": "Identifiers used twice",
    "unknown_attribute": "Unknown AttributeIds",
    "selection": "The chosen rows, columns, segments, filters, designs or countries",
    "framework": "Rows and columns",
    "invalid": "Values the map cannot take",
    "effect_input": "Effect-size data that cannot be converted",
    "conflict": "Records that clash with the map",
    "skipped_outcome": "Outcomes not imported",
    "skipped_reference": "References not imported",
    "cleaned": "Values cleaned or left out on import",
    "design": "Study designs",
    "country": "Countries",
    "duplicate": "Citations already on the map or earlier in the file (not imported)",
    "no_codes": "References with no codes",
    "no_year": "References with no year",
    "no_abstract": "References with no abstract",
    "no_authors": "References with no authors",
    "unknown_key": "Keys this importer does not read (ignored)",
    "smd_disagreement": "Effect sizes whose Hedges' g differs from the source's SMD by more than 1e-6",
    "derived": "Effect-size inputs derived from what the source reports",
    "missing": "Records of the map that the file does not have (kept, not deleted)",
}


@dataclass(frozen=True)
class Problem:
    """One thing the import found; `record` and `field` name it as the file does."""

    severity: Severity
    kind: str
    record: str  # "ItemId 4012", "ItemId 4012, outcome 77", "code set “Design” (SetId 12)", "the file"
    field: str  # "Year", "Data5 (group 1 SD)"; empty for the record as a whole
    message: str

    def __str__(self) -> str:
        where = f"{self.record}, {self.field}" if self.field else self.record
        return f"{where}: {self.message}"


@dataclass
class Report:
    """The problems of one import, in the order they were found, and what was checked."""

    problems: list[Problem] = field(default_factory=list)
    # How many values were compared with the source's own (e.g. "SMD": 1200), and of those,
    # how many differ (each difference is also a problem of kind "smd_disagreement").
    compared: Counter[str] = field(default_factory=Counter)
    differing: Counter[str] = field(default_factory=Counter)

    def add(self, severity: Severity, kind: str, record: str, field: str, message: str) -> None:
        self.problems.append(Problem(severity, kind, record, field, message))

    def error(self, kind: str, record: str, field: str, message: str) -> None:
        self.add(Severity.ERROR, kind, record, field, message)

    def warning(self, kind: str, record: str, field: str, message: str) -> None:
        self.add(Severity.WARNING, kind, record, field, message)

    def note(self, kind: str, record: str, field: str, message: str) -> None:
        self.add(Severity.NOTE, kind, record, field, message)

    def of(self, severity: Severity) -> list[Problem]:
        return [p for p in self.problems if p.severity == severity]

    @property
    def errors(self) -> list[Problem]:
        return self.of(Severity.ERROR)

    @property
    def has_errors(self) -> bool:
        return any(p.severity == Severity.ERROR for p in self.problems)

    def kinds(self, severity: Severity | None = None) -> Counter[str]:
        return Counter(p.kind for p in self.problems if severity is None or p.severity == severity)

    def grouped(self, severity: Severity) -> list[tuple[str, list[Problem]]]:
        """The problems of one severity by kind, under their headings, in KIND_TITLES' order."""
        groups: dict[str, list[Problem]] = defaultdict(list)
        for problem in self.problems:
            if problem.severity == severity:
                groups[problem.kind].append(problem)
        order = {kind: i for i, kind in enumerate(KIND_TITLES)}
        return [
            (KIND_TITLES.get(kind, kind), groups[kind])
            for kind in sorted(groups, key=lambda k: (order.get(k, len(order)), k))
        ]

    def lines(self, *, limit: int | None = None) -> Iterator[str]:
        """The report as text: errors, then warnings, then notes, by kind; `limit` caps the
        lines of each warning and note group (errors are always listed in full)."""
        for severity, title in (
            (Severity.ERROR, "Errors (nothing is imported until they are fixed)"),
            (Severity.WARNING, "Warnings"),
            (Severity.NOTE, "Notes"),
        ):
            groups = self.grouped(severity)
            if not groups:
                continue
            yield f"{title}:"
            for heading, problems in groups:
                yield f"  {heading} ({len(problems):,}):"
                cap = None if severity == Severity.ERROR else limit
                shown = problems if cap is None else problems[:cap]
                for problem in shown:
                    yield f"    - {problem}"
                if len(shown) < len(problems):
                    yield f"    … and {len(problems) - len(shown):,} more"
        for what, n in sorted(self.compared.items()):
            differing = self.differing[what]
            yield (
                f"{what} compared with the source's for {n:,} effect sizes: "
                f"{n - differing:,} agree to 1e-6, {differing:,} differ."
            )


def plural(n: int, one: str, many: str = "") -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def listing(items: Iterable[str], *, limit: int = 5) -> str:
    """'a, b, c and 4 more' for messages that name a few examples."""
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit:,} more"
