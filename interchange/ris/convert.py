"""A RIS file (what reference managers and databases export) as new draft studies of a map.

`read_citations` turns bytes into rispy's records, reporting what it cannot read;
`to_map_record` turns them into a `MapRecord` of studies only, leaving out every citation that
is already on the map, or earlier in the file, by DOI, then by normalised title and year. Those
duplicates are listed in the report and never written; the rest go through the import pipeline
(`interchange.importing`) like any other import. What does not live here: the framework, code
sets and effect sizes (a RIS file has none of them).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import rispy

from interchange.eppi.convert import clean_doi, clean_keywords, clean_url
from interchange.eppi.read import Unreadable, decode
from interchange.importing.records import MapRecord, StudyRecord
from interchange.importing.report import Report, plural

AUTHORS_MAX = 1000

# Our study fields, and the RIS tags they come from (for messages).
STUDY_LABELS: dict[str, str] = {
    "external_id": "ID",
    "title": "TI",
    "short_title": "ST",
    "authors": "AU",
    "year": "PY",
    "source": "JO",
    "volume": "VL",
    "issue": "IS",
    "pages": "SP, EP",
    "doi": "DO",
    "url": "UR",
    "abstract": "AB",
    "keywords": "KW",
    "design": "TY",
}
# rispy's keys that this importer reads; any other tag found is listed as ignored.
READ_KEYS = frozenset(
    {
        "type_of_reference",
        "id",
        "title",
        "primary_title",
        "short_title",
        "authors",
        "first_authors",
        "year",
        "publication_year",
        "date",
        "journal_name",
        "alternate_title1",
        "alternate_title2",
        "alternate_title3",
        "secondary_title",
        "volume",
        "number",
        "start_page",
        "end_page",
        "doi",
        "urls",
        "abstract",
        "notes_abstract",
        "keywords",
        "end_of_reference",
    }
)
_TAGS = {key: tag for tag, key in rispy.TAG_KEY_MAPPING.items()}
_YEAR = re.compile(r"^\s*(\d{4})(?:[/\-\s.]|$)")


@dataclass(frozen=True)
class Existing:
    """A study of the map, as de-duplication sees it."""

    citation: str
    doi: str
    title_year: tuple[str, int | None]
    external_id: str = ""


def normalise_title(title: str) -> str:
    """Case, accents, punctuation and spacing left out: 'The Effect of Cash-Transfers.' and
    'the effect of cash transfers' are one title."""
    text = unicodedata.normalize("NFKD", title.casefold())
    text = "".join(c if c.isalnum() else " " for c in text if not unicodedata.combining(c))
    return " ".join(text.split())


def read_citations(data: bytes, report: Report) -> list[dict[str, Any]]:
    """rispy's records of a RIS file (UTF-8, with or without a byte-order mark)."""
    text = decode(data, report, extension="ris")
    try:
        records: list[dict[str, Any]] = rispy.loads(text)
    except (OSError, ValueError) as exc:  # rispy raises IOError for a file without "TY  -"
        report.error("structure", "the file", "", f"the file is not a RIS file: {exc}")
        raise Unreadable from None
    if not records:
        report.error(
            "structure",
            "the file",
            "",
            "the file holds no RIS record (each starts with a line “TY  - ”)",
        )
        raise Unreadable
    return records


def split_author(raw: str) -> str:
    """'Smith, John A.' -> 'Smith JA'; 'World Bank' (no comma: an organisation) as it is."""
    text = " ".join(raw.split())
    surname, comma, given = text.partition(",")
    if not comma:
        return text
    given = given.split(",")[0]  # 'Smith, J., Jr.' keeps the name, not the suffix
    initials = "".join(
        part[0].upper() for part in re.split(r"[\s.\-]+", given) if part and part[0].isalpha()
    )
    return f"{surname.strip()} {initials}".strip()


def _authors(record: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for raw in [*record.get("authors", []), *record.get("first_authors", [])]:
        for part in str(raw).split(";"):
            name = split_author(part)
            if name and name not in names:
                names.append(name)
    return names


def _text(record: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = record.get(key)
        if isinstance(value, list):
            value = value[0] if value else ""
        if value:
            return " ".join(str(value).split())
    return ""


class _Converter:
    def __init__(self, report: Report, existing: list[Existing]) -> None:
        self.report = report
        self.by_doi = {e.doi: e.citation for e in existing if e.doi}
        self.by_title: dict[tuple[str, int | None], str] = {}
        self.by_key = {e.external_id: e.citation for e in existing if e.external_id}
        for e in existing:
            self.by_title.setdefault(e.title_year, e.citation)
        self.unknown: dict[str, list[str]] = {}

    def study(self, record: dict[str, Any], position: int) -> StudyRecord | None:
        report = self.report
        ris_id = _text(record, "id")
        ref = f"record {position}" + (f" (ID {ris_id})" if ris_id else "")
        for key in record:
            if key not in READ_KEYS:
                tags = record[key].keys() if key == "unknown_tag" else [_TAGS.get(key, key)]
                for tag in tags:
                    self.unknown.setdefault(str(tag), []).append(ref)
        fields: dict[str, Any] = {
            "title": _text(record, "title", "primary_title"),
            "short_title": _text(record, "short_title")[:300],
            "source": _text(
                record,
                "journal_name",
                "secondary_title",
                "alternate_title3",
                "alternate_title1",
                "alternate_title2",
            )[:500],
            "volume": _text(record, "volume"),
            "issue": _text(record, "number"),
            "abstract": str(record.get("abstract") or record.get("notes_abstract") or "").strip(),
            "keywords": clean_keywords("\n".join(str(k) for k in record.get("keywords", []))),
        }
        if not fields["title"]:
            report.error("invalid", ref, "TI", "is empty; a study needs a title")
            # A stand-in, never written (the error stops the import), so that the planner does
            # not report the same field a second time in its own words.
            fields["title"] = f"(no title: {ref})"
        start, end = _text(record, "start_page"), _text(record, "end_page")
        fields["pages"] = f"{start}-{end}" if start and end and end != start else start or end
        names = _authors(record)
        authors = "; ".join(names)
        if len(authors) > AUTHORS_MAX:
            kept: list[str] = []
            for name in names:
                if len("; ".join([*kept, name, "et al."])) > AUTHORS_MAX:
                    break
                kept.append(name)
            authors = "; ".join([*kept, "et al."])
            report.warning(
                "cleaned",
                ref,
                "AU",
                f"{len(names)} authors do not fit; the first {len(kept)} are kept, then “et al.”",
            )
        fields["authors"] = authors
        if not authors:
            report.note("no_authors", ref, "AU", "none given; the study is cited by its title")
        year_text = _text(record, "year", "publication_year", "date")
        found = _YEAR.match(year_text)
        if not year_text:
            fields["year"] = None
            report.note(
                "no_year",
                ref,
                "PY",
                "none given; the study is imported without one (cited as n.d.)",
            )
        elif found:
            fields["year"] = int(found.group(1))
        else:
            fields["year"] = None
            report.error(
                "bad_value", ref, "PY", f"“{year_text}” is not a year (four digits, such as 2014)"
            )
        fields["doi"], what = clean_doi(_text(record, "doi"))
        if what:
            report.warning("cleaned", ref, "DO", what)
        fields["url"], what = clean_url(_text(record, "urls"))
        if what:
            report.warning("cleaned", ref, "UR", what)
        if not fields["abstract"]:
            report.note("no_abstract", ref, "AB", "none given; the study is imported without one")

        title_year = (normalise_title(fields["title"]), fields["year"])
        doi = fields["doi"]
        duplicate = self.by_doi.get(doi) if doi else None
        how = f"DOI {doi}"
        if duplicate is None and title_year[0]:
            duplicate = self.by_title.get(title_year)
            how = "title and year"
        identity = f"doi:{doi}" if doi else f"title:{title_year[0]}|{title_year[1]}"
        key = "ris:" + hashlib.sha1(identity.encode()).hexdigest()[:16]
        if duplicate is None and key in self.by_key:
            # Imported from a RIS file before, and edited on the map since: the map's is kept.
            duplicate, how = self.by_key[key], "citation as an earlier RIS import of"
        if duplicate is not None:
            report.note(
                "duplicate",
                ref,
                "DO" if how.startswith("DOI") else "TI, PY",
                f"same {how} {duplicate}; not imported"
                if how.startswith("citation")
                else f"same {how} as {duplicate}; not imported",
            )
            return None
        if doi:
            self.by_doi[doi] = ref + " of the file"
        if title_year[0]:
            self.by_title.setdefault(title_year, ref + " of the file")
        return StudyRecord(
            key=key,
            ref=ref,
            fields=fields,
            defaults={"status": "draft", "design": "other"},
            labels=STUDY_LABELS,
            doi=doi,
        )


def to_map_record(
    records: list[dict[str, Any]], report: Report, *, existing: list[Existing]
) -> MapRecord:
    """New studies for the citations that the map (`existing`) and the file do not have yet."""
    converter = _Converter(report, existing)
    record = MapRecord(source=f"RIS, {plural(len(records), 'citation')}", whole_map=False)
    for position, citation in enumerate(records, start=1):
        study = converter.study(citation, position)
        if study is not None:
            record.studies.append(study)
    for tag, refs in converter.unknown.items():
        report.note(
            "unknown_key",
            f"{plural(len(refs), 'record')}",
            tag,
            f"this tag is not read; ignored ({', '.join(refs[:5])}{' …' if len(refs) > 5 else ''})",
        )
    return record
