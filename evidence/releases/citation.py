"""How to cite a release of a map, or one cell of it: plain text, BibTeX and RIS.

A release is cited as a data set: the map's organisation as its (corporate) author, the map's
title, the release's number and date, and its URL (absolute: the caller builds it from the
request). A cell is cited as a part of the release, titled "Intervention × Outcome". RIS is
written by rispy (the library the RIS importer reads with); BibTeX has no library here, and its
rules for a @misc entry are few: braces around values, special characters escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date

import rispy

from evidence.models import EvidenceMap, Release
from evidence.releases.context import reading

RIS_TYPE = "application/x-research-info-systems"
BIBTEX_TYPE = "application/x-bibtex"

_BIBTEX_SPECIAL = re.compile(r"([&%$#_{}~^\\])")
_BIBTEX_REPLACE = {"~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def _bibtex_text(value: str) -> str:
    def escape(match: re.Match[str]) -> str:
        char = match.group(1)
        return _BIBTEX_REPLACE.get(char, "\\" + char)

    return _BIBTEX_SPECIAL.sub(escape, value)


@dataclass(frozen=True)
class Citation:
    """One thing to cite: a release, or a cell of it (`part` is the cell's title)."""

    organisation: str
    map_title: str
    number: int
    released: date
    url: str
    slug: str
    part: str = ""

    @property
    def title(self) -> str:
        return f"{self.part}. In: {self.map_title}" if self.part else self.map_title

    @property
    def key(self) -> str:
        suffix = "-" + re.sub(r"[^a-z0-9]+", "-", self.part.lower()).strip("-") if self.part else ""
        return f"{self.slug}-release-{self.number}{suffix}"

    def text(self) -> str:
        """APA-like: "Organisation. (2026). Title (Release 2, 2 December 2026) [Evidence and gap map]. URL"."""
        author = f"{self.organisation}. " if self.organisation else ""
        when = f"{self.released.day} {self.released:%B %Y}"
        if self.part:
            body = f"{self.part}. In {self.map_title} (Release {self.number}, {when}) [Evidence and gap map]"
        else:
            body = f"{self.map_title} (Release {self.number}, {when}) [Evidence and gap map]"
        return f"{author}({self.released.year}). {body}. {self.url}"

    def bibtex(self) -> str:
        fields = []
        if self.organisation:
            fields.append(("author", "{" + _bibtex_text(self.organisation) + "}"))  # a corporate author
        fields += [
            ("title", _bibtex_text(self.part) if self.part else _bibtex_text(self.map_title)),
        ]
        if self.part:
            fields.append(("booktitle", _bibtex_text(self.map_title)))
        if self.organisation:
            fields.append(("publisher", _bibtex_text(self.organisation)))
        fields += [
            ("year", str(self.released.year)),
            ("month", self.released.strftime("%b").lower()),
            ("version", str(self.number)),
            ("note", f"Release {self.number} of {self.released.isoformat()}; evidence and gap map"),
            ("url", self.url),
        ]
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
        return f"@misc{{{self.key},\n{body}\n}}\n"

    def ris(self) -> str:
        entry: dict[str, object] = {
            "type_of_reference": "DATA",
            "title": self.part or self.map_title,
            "year": str(self.released.year),
            "date": self.released.strftime("%Y/%m/%d"),
            "edition": f"Release {self.number}",
            "urls": [self.url],
            "id": self.key,
        }
        if self.part:
            entry["secondary_title"] = self.map_title
        if self.organisation:
            entry["authors"] = [self.organisation]
            entry["publisher"] = self.organisation
        text: str = rispy.dumps([entry])
        return text


def release_citation(release: Release, url: str, *, part: str = "") -> Citation:
    """The citation of `release` at `url`, or of its part `part` (a cell's title): the map's
    title and organisation as the release has them, whatever the map is called now."""
    with reading(release):
        evidence_map = EvidenceMap.objects.get(pk=release.evidence_map_id)
    return Citation(
        organisation=evidence_map.organisation,
        map_title=evidence_map.title,
        number=release.number,
        released=release.released_at.astimezone(UTC).date(),
        url=url,
        slug=evidence_map.slug,
        part=part,
    )


def cell_title(intervention: str, outcome: str) -> str:
    return f"{intervention} × {outcome}"
