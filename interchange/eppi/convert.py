"""An EPPI-Reviewer export as a map: what the team picked as rows, columns, segments, filters,
designs and countries, and every reference, code and outcome turned into a `MapRecord`.

* `--rows` and `--columns` take AttributeIds (each becomes a top-level row or column with its
  descendants) or SetIds (the code set's top-level attributes, with theirs); a study sits in
  the rows and columns it is coded with.
* Every code set becomes a code set of the map (`CodeSet`, external id = SetId; `Code`,
  external id = AttributeId, with its tree), and each reference's codes its codings.
* `--segments` and `--filters` take SetIds: the code set that segments the bubbles, and those
  offered as filters.
* `--designs` and `--countries` take a SetId or an AttributeId whose descendant codes name
  study designs or countries (`interchange.importing.vocabulary`).
* References become studies (ItemId as external id; EPPI-Reviewer's fields as listed in
  `STUDY_LABELS`), outcomes effect sizes (`interchange.eppi.outcomes`). Where the file also has
  EPPI-Reviewer's own SMD, Hedges' g computed here is compared with it and every difference
  larger than 1e-6 is listed with its reason.

An ID may be written `set:N` or `attribute:N` when N is both a SetId and an AttributeId.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from interchange.eppi.outcomes import (
    SMD_TYPES,
    TYPE_NAMES,
    Bad,
    Mapped,
    Skip,
    cluster_caveat,
    eppi_smd,
    smd_method_differences,
    to_input,
)
from interchange.eppi.read import INCLUDED, Attribute, CodeSet, EppiFile, Outcome, Reference
from interchange.importing.records import (
    CodeSetRecord,
    EffectRecord,
    MapRecord,
    NodeRecord,
    StudyRecord,
)
from interchange.importing.report import Report, listing, plural
from interchange.importing.vocabulary import country_for, design_for, is_global
from studies.effect_sizes import ConversionError
from studies.effect_sizes.registry import compute_effect
from studies.models import normalise_doi

TOLERANCE = 1e-6
AUTHORS_MAX = 1000
LABEL_MAX = 300
URL_MAX = 1000

# Our study fields, and what EPPI-Reviewer calls them (for messages).
STUDY_LABELS: dict[str, str] = {
    "external_id": "ItemId", "title": "Title", "short_title": "ShortTitle", "authors": "Authors", "year": "Year",
    "source": "ParentTitle", "volume": "Volume", "issue": "Issue", "pages": "Pages", "doi": "DOI", "url": "URL",
    "abstract": "Abstract", "keywords": "Keywords", "design": "Codes (study design)",
    "countries": "Codes (countries)", "is_global": "Codes (countries)",
}
EFFECT_LABELS = {"label": "Title", "notes": "OutcomeDescription", "external_id": "OutcomeId", "input_kind": "OutcomeTypeId"}


@dataclass(frozen=True)
class Selection:
    """What the team picked, as the command line or the admin's form gives it (IDs as text)."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    segments: str | None = None
    filters: tuple[str, ...] = ()
    designs: str | None = None
    countries: str | None = None
    publish: bool = False  # new studies published at once; drafts otherwise


def parse_ids(text: str | None) -> tuple[str, ...]:
    """"5822500, set:93634" -> ("5822500", "set:93634")."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def descendants(attribute: Attribute) -> Iterable[Attribute]:
    for child in attribute.children:
        yield child
        yield from descendants(child)


def _all(items: Iterable[Attribute]) -> list[Attribute]:
    out: list[Attribute] = []
    for item in items:
        out.append(item)
        out += descendants(item)
    return out


class _Selector:
    """Resolves the IDs of a selection against the file, reporting what does not fit."""

    def __init__(self, eppi: EppiFile, report: Report) -> None:
        self.eppi = eppi
        self.report = report

    def one(self, token: str, option: str) -> CodeSet | Attribute | None:
        kind, _, number = token.rpartition(":")
        kind = kind.strip().lower()
        if not number.strip().isdigit() or kind not in ("", "set", "attribute"):
            self.report.error("selection", "the selection", option, f"“{token}” is not a SetId or an AttributeId (such as 5822500)")
            return None
        n = int(number)
        code_set = self.eppi.sets.get(n) if kind in ("", "set") else None
        attribute = self.eppi.attributes.get(n) if kind in ("", "attribute") else None
        if code_set is not None and attribute is not None:
            self.report.error(
                "selection", "the selection", option,
                f"{n} is both a SetId (“{code_set.name}”) and an AttributeId (“{attribute.name}”); "
                f"write set:{n} or attribute:{n}",
            )
            return None
        if code_set is None and attribute is None:
            self.report.error("selection", "the selection", option, f"{token} is neither a SetId nor an AttributeId of the file")
            return None
        return code_set or attribute

    def roots(self, tokens: tuple[str, ...], option: str) -> list[Attribute]:
        """The top-level rows or columns: each attribute, or each top-level attribute of a set."""
        roots: list[Attribute] = []
        for token in tokens:
            found = self.one(token, option)
            if isinstance(found, CodeSet):
                if not found.attributes:
                    self.report.error("selection", "the selection", option, f"the code set {found.ref} “{found.name}” has no codes")
                roots += found.attributes
            elif found is not None:
                roots.append(found)
        if not tokens:
            self.report.error("selection", "the selection", option, "is empty; give at least one SetId or AttributeId")
        return roots

    def code_set(self, token: str, option: str) -> CodeSet | None:
        found = self.one(token, option)
        if isinstance(found, Attribute):
            self.report.error(
                "selection", "the selection", option,
                f"{found.ref} is a code (“{found.name}”); give the SetId of a whole code set (its set is SetId {found.set_id})",
            )
            return None
        return found

    def vocabulary(self, token: str | None, option: str) -> list[Attribute]:
        """The codes under a set or an attribute (not the attribute itself)."""
        if token is None:
            return []
        found = self.one(token, option)
        if isinstance(found, CodeSet):
            return _all(found.attributes)
        return list(descendants(found)) if found is not None else []


def _node(attribute: Attribute) -> NodeRecord:
    return NodeRecord(
        key=str(attribute.attribute_id), name=attribute.name, ref=attribute.ref, description=attribute.description,
        children=[_node(child) for child in attribute.children],
    )


def _check_disjoint(groups: dict[str, list[Attribute]], report: Report) -> None:
    """No code may be a row twice, a column twice, or both a row and a column."""
    seen: dict[int, str] = {}
    for option, roots in groups.items():
        for root in roots:
            for attribute in _all([root]):
                where = f"{option} (under {root.ref})"
                if attribute.attribute_id in seen:
                    report.error(
                        "selection", "the selection", option,
                        f"{attribute.ref} “{attribute.name}” is both in {seen[attribute.attribute_id]} and in {where}",
                    )
                else:
                    seen[attribute.attribute_id] = where


# --------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------

_YEAR = re.compile(r"^\d{4}$")
_DOI = re.compile(r"10\.\d{4,9}/[^\s;,]+", re.IGNORECASE)
_url = URLValidator(schemes=["http", "https"])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def clean_doi(raw: str) -> tuple[str, str]:
    """(DOI in normal form, what was done) from what a reference manager put in the field."""
    if not raw:
        return "", ""
    found = _DOI.findall(raw)
    if not found:
        return "", f"“{raw}” is not a DOI; left out"
    doi = normalise_doi(found[0].rstrip(".)]}>\"'"))
    if len(found) > 1:
        return doi, f"holds {len(found)} DOIs; the first, {doi}, is kept"
    return doi, ""


def clean_authors(raw: str) -> tuple[str, str]:
    """'Smith A ; Jones B ; ' -> 'Smith A; Jones B', cut with "et al." to fit the field."""
    names = [" ".join(part.split()) for part in raw.split(";")]
    names = [name for name in names if name]
    text = "; ".join(names)
    if len(text) <= AUTHORS_MAX:
        return text, ""
    kept: list[str] = []
    for name in names:
        if len("; ".join([*kept, name, "et al."])) > AUTHORS_MAX:
            break
        kept.append(name)
    return "; ".join([*kept, "et al."]), f"{len(names)} authors do not fit; the first {len(kept)} are kept, then “et al.”"


def clean_url(raw: str) -> tuple[str, str]:
    if not raw:
        return "", ""
    url = raw.split()[0]
    if url.lower().startswith("www."):
        url = "https://" + url
    if len(url) > URL_MAX:
        return "", f"is longer than {URL_MAX} characters; left out"
    try:
        _url(url)
    except ValidationError:
        return "", f"“{raw}” is not a web address; left out"
    return url, ""


def clean_keywords(raw: str) -> str:
    return "\n".join(line.strip() for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip())


@dataclass
class _Vocabulary:
    """Codes that name a design or a country, and the ones that name nothing we know."""

    designs: dict[int, str] = field(default_factory=dict)
    countries: dict[int, str] = field(default_factory=dict)
    global_codes: set[int] = field(default_factory=set)
    unknown_designs: dict[int, str] = field(default_factory=dict)
    unknown_countries: dict[int, str] = field(default_factory=dict)
    design_uses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    country_uses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    without_design: list[str] = field(default_factory=list)  # references with no design code

    @classmethod
    def build(cls, designs: list[Attribute], countries: list[Attribute]) -> _Vocabulary:
        vocabulary = cls()
        for attribute in designs:
            design = design_for(attribute.name)
            if design is None:
                vocabulary.unknown_designs[attribute.attribute_id] = attribute.name
            else:
                vocabulary.designs[attribute.attribute_id] = design
        for attribute in countries:
            code = country_for(attribute.name)
            if code is not None:
                vocabulary.countries[attribute.attribute_id] = code
            elif is_global(attribute.name):
                vocabulary.global_codes.add(attribute.attribute_id)
            elif not attribute.children:  # a region or a group of countries is not a country
                vocabulary.unknown_countries[attribute.attribute_id] = attribute.name
        return vocabulary


class _Converter:
    def __init__(self, eppi: EppiFile, selection: Selection, report: Report) -> None:
        self.eppi = eppi
        self.selection = selection
        self.report = report

    def study(self, reference: Reference, vocabulary: _Vocabulary, rows: set[str], columns: set[str]) -> StudyRecord:
        ref = reference.ref
        values = reference.values
        report = self.report
        fields: dict[str, object] = {
            "title": _one_line(values["Title"]),
            "short_title": _one_line(values["ShortTitle"]),
            "source": _one_line(values["ParentTitle"]),
            "volume": _one_line(values["Volume"]),
            "issue": _one_line(values["Issue"]),
            "pages": _one_line(values["Pages"]),
            "abstract": values["Abstract"],
            "keywords": clean_keywords(values["Keywords"]),
        }
        if not fields["title"]:
            report.error("invalid", ref, "Title", "is empty; a study needs a title")
        fields["authors"], what = clean_authors(values["Authors"])
        if what:
            report.warning("cleaned", ref, "Authors", what)
        if not fields["authors"]:
            report.note("no_authors", ref, "Authors", "none given; the study is cited by its title")
        year = values["Year"]
        if not year:
            fields["year"] = None
            report.note("no_year", ref, "Year", "none given; the study is imported without one (cited as n.d.)")
        elif _YEAR.match(year):
            fields["year"] = int(year)
        else:
            fields["year"] = None
            report.error("bad_value", ref, "Year", f"“{year}” is not a year (four digits, such as 2014)")
        fields["doi"], what = clean_doi(values["DOI"])
        if what:
            report.warning("cleaned", ref, "DOI", what)
        fields["url"], what = clean_url(values["URL"])
        if what:
            report.warning("cleaned", ref, "URL", what)
        if not values["Abstract"]:
            report.note("no_abstract", ref, "Abstract", "none given; the study is imported without one")

        codes: list[int] = []
        for code in reference.codes:
            if code.attribute_id not in self.eppi.attributes:
                report.error("unknown_attribute", ref, "Codes", f"AttributeId {code.attribute_id} is not in any code set of the file")
            elif code.attribute_id not in codes:
                codes.append(code.attribute_id)
        if not codes:
            report.note("no_codes", ref, "Codes", "none; the study is imported but sits in no cell of the map")

        defaults: dict[str, object] = {"status": "published" if self.selection.publish else "draft"}
        designs = [vocabulary.designs[c] for c in codes if c in vocabulary.designs]
        for c in codes:
            if c in vocabulary.unknown_designs:
                vocabulary.design_uses[c] += 1
            if c in vocabulary.unknown_countries:
                vocabulary.country_uses[c] += 1
        if designs:
            fields["design"] = designs[0]
            if len(set(designs)) > 1:
                report.warning(
                    "design", ref, "Codes (study design)",
                    f"several designs are coded ({', '.join(dict.fromkeys(designs))}); the first, {designs[0]}, is used",
                )
        else:
            defaults["design"] = "other"
            if self.selection.designs:
                vocabulary.without_design.append(ref)
        coded_countries = sorted({vocabulary.countries[c] for c in codes if c in vocabulary.countries})
        if coded_countries or any(c in vocabulary.global_codes for c in codes):
            fields["countries"] = coded_countries
            fields["is_global"] = any(c in vocabulary.global_codes for c in codes)
        keys = {str(c) for c in codes}
        return StudyRecord(
            key=str(reference.item_id), ref=ref, fields=fields, defaults=defaults, labels=STUDY_LABELS,
            codes=keys, interventions=keys & rows, outcomes=keys & columns, doi=str(fields["doi"]),
        )

    def effect(self, outcome: Outcome, rows: set[str], columns: set[str]) -> EffectRecord | None:
        ref, report = outcome.ref, self.report
        placed = True
        for value, key, words, keys in (
            (outcome.intervention, "ItemAttributeIdIntervention", "rows", rows),
            (outcome.outcome, "ItemAttributeIdOutcome", "columns", columns),
        ):
            if value == 0:
                report.warning("skipped_outcome", ref, key, f"is not set, so the outcome has no place among the map's {words}; not imported")
                placed = False
            elif value not in self.eppi.attributes:
                report.error("unknown_attribute", ref, key, f"AttributeId {value} is not in any code set of the file")
                placed = False
            elif str(value) not in keys:
                name = self.eppi.attributes[value].name
                report.warning("skipped_outcome", ref, key, f"AttributeId {value} “{name}” is not one of the map's {words}; not imported")
                placed = False
        try:
            mapped = to_input(outcome.type_id, outcome.data)
        except Skip as skip:
            if placed:
                report.warning("skipped_outcome", ref, skip.field, f"{skip.message}; not imported")
            return None
        except Bad as bad:
            report.error("effect_input", ref, bad.field, bad.message)
            return None
        if not placed:
            return None
        for caveat in mapped.caveats:
            report.warning("derived", ref, TYPE_NAMES.get(outcome.type_id, ""), caveat)
        clustering = cluster_caveat(outcome.type_id, outcome.data)
        if clustering:
            report.warning("derived", ref, "Data9, Data10", clustering)
        self.compare(outcome, mapped)
        label = outcome.title or " – ".join(
            part for part in (outcome.outcome_text, f"{outcome.intervention_text} vs {outcome.control_text}"
                              if outcome.intervention_text or outcome.control_text else "") if part
        ) or f"Outcome {outcome.outcome_id}"
        if len(label) > LABEL_MAX:
            report.warning("cleaned", ref, "Title", f"is longer than {LABEL_MAX} characters; shortened")
            label = label[: LABEL_MAX - 1] + "…"
        return EffectRecord(
            key=str(outcome.outcome_id), ref=ref, study=str(outcome.item_id),
            intervention=str(outcome.intervention), outcome=str(outcome.outcome),
            fields={"label": label, "input_kind": mapped.input_kind, **mapped.inputs, "notes": _notes(outcome, mapped)},
            labels={**EFFECT_LABELS, **mapped.labels},
        )

    def compare(self, outcome: Outcome, mapped: Mapped) -> None:
        """Our g against EPPI-Reviewer's SMD (and our odds ratio against its, for 2 x 2 tables)."""
        theirs = outcome.computed
        if outcome.type_id in SMD_TYPES and "SMD" in theirs and (outcome.type_id != 0 or mapped.input_kind == "es_se"):
            what, their_value = "SMD", theirs["SMD"]
        elif outcome.type_id == 2 and theirs.get("OddsRatio", 0) > 0:
            what, their_value = "Odds ratio", theirs["OddsRatio"]
        else:
            return
        try:
            estimate = compute_effect(mapped.input_kind, mapped.inputs)
        except ConversionError:
            return  # the planner reports the input that cannot be converted
        ours = estimate.g if what == "SMD" else math.exp(estimate.native_yi)
        self.report.compared[what] += 1
        difference = ours - their_value if what == "SMD" else math.log(ours) - math.log(their_value)
        if abs(difference) <= TOLERANCE:
            return
        self.report.differing[what] += 1
        ref = outcome.ref
        if what == "Odds ratio":
            self.report.warning(
                "smd_disagreement", ref, "OddsRatio",
                f"ours {ours:.6g}, the file's {their_value:.6g}: the file's odds ratio does not follow from its 2 x 2 table",
            )
            return
        expected = eppi_smd(outcome.type_id, outcome.data)
        numbers = f"our g {ours:.6f}, the file's SMD {their_value:.6f} (difference {difference:+.2g})"
        if expected is not None and abs(expected - their_value) <= TOLERANCE:
            reasons = smd_method_differences(outcome.type_id, outcome.data) or ["rounding"]
            self.report.note("smd_disagreement", ref, "SMD", f"{numbers}; the methods differ: {'; '.join(reasons)}")
        else:
            got = "" if expected is None else f" (EPPI-Reviewer's formula gives {expected:.6f})"
            self.report.warning(
                "smd_disagreement", ref, "SMD",
                f"{numbers}; the file's SMD does not follow from the outcome's own numbers{got}: check the outcome's data",
            )

    def convert(self) -> MapRecord:
        eppi, selection, report = self.eppi, self.selection, self.report
        selector = _Selector(eppi, report)
        row_roots = selector.roots(selection.rows, "rows")
        column_roots = selector.roots(selection.columns, "columns")
        _check_disjoint({"rows": row_roots, "columns": column_roots}, report)
        segment = selector.code_set(selection.segments, "segments") if selection.segments else None
        filters = [found for token in selection.filters if (found := selector.code_set(token, "filters")) is not None]
        vocabulary = _Vocabulary.build(
            selector.vocabulary(selection.designs, "designs"), selector.vocabulary(selection.countries, "countries"),
        )
        record = MapRecord(
            source=f"EPPI-Reviewer JSON, {plural(len(eppi.references), 'reference')}",
            interventions=[_node(a) for a in row_roots],
            outcomes=[_node(a) for a in column_roots],
            code_sets=[
                CodeSetRecord(
                    key=str(s.set_id), name=s.name, ref=s.ref, description=s.description,
                    codes=[_node(a) for a in s.attributes],
                )
                for s in eppi.code_sets
            ],
            segment_code_set=None if segment is None else str(segment.set_id),
            filter_code_sets={str(s.set_id) for s in filters},
        )
        rows = {str(a.attribute_id) for a in _all(row_roots)}
        columns = {str(a.attribute_id) for a in _all(column_roots)}
        for reference in eppi.references:
            status = reference.values["ItemStatus"]
            if status and status != INCLUDED:
                report.warning(
                    "skipped_reference", reference.ref, "ItemStatus",
                    f"is “{status}”, not included in the review; not imported"
                    + (f" (with its {plural(len(reference.outcomes), 'outcome')})" if reference.outcomes else ""),
                )
                continue
            record.studies.append(self.study(reference, vocabulary, rows, columns))
            for outcome in reference.outcomes:
                effect = self.effect(outcome, rows, columns)
                if effect is not None:
                    record.effects.append(effect)
        self.vocabulary_report(vocabulary)
        return record

    def vocabulary_report(self, vocabulary: _Vocabulary) -> None:
        if vocabulary.without_design:
            n = len(vocabulary.without_design)
            self.report.note(
                "design", plural(n, "reference"), "Codes (study design)",
                f"no design the map knows is coded ({listing(vocabulary.without_design)}); new studies among "
                "them are Other, studies on the map keep theirs",
            )
        for codes, uses, what, fallback in (
            (vocabulary.unknown_designs, vocabulary.design_uses, "a study design the map knows",
             "their design is Other for new studies and left as it is for studies on the map"),
            (vocabulary.unknown_countries, vocabulary.country_uses, "a country",
             "they are imported without it"),
        ):
            kind = "design" if codes is vocabulary.unknown_designs else "country"
            for attribute_id, name in codes.items():
                n = uses.get(attribute_id, 0)
                used = f"coded for {plural(n, 'reference')}; {fallback}" if n else "coded for no reference"
                self.report.warning(kind, f"AttributeId {attribute_id}", "AttributeName", f"“{name}” is not {what} ({used})")


def _notes(outcome: Outcome, mapped: Mapped) -> str:
    """Where the effect size comes from, in words (kept with it)."""
    parts = [f"EPPI-Reviewer outcome {outcome.outcome_id} ({TYPE_NAMES.get(outcome.type_id, outcome.type_name)})."]
    if outcome.description:
        parts.append(outcome.description)
    for words, text in (("Intervention", outcome.intervention_text), ("Comparison", outcome.control_text),
                        ("Outcome", outcome.outcome_text), ("Timepoint", outcome.timepoint)):
        if text:
            parts.append(f"{words}: {text}.")
    if mapped.derived:
        parts.append("Derived on import: " + "; ".join(mapped.derived) + ".")
    return "\n".join(parts)


def to_map_record(eppi: EppiFile, selection: Selection, report: Report) -> MapRecord:
    """The map that an export and a selection describe; problems go to `report`."""
    return _Converter(eppi, selection, report).convert()


def code_tree(eppi: EppiFile) -> list[str]:
    """The file's code sets as indented lines (SetId and AttributeId, name, references coded),
    for choosing rows, columns, segments and filters."""
    uses: dict[int, int] = defaultdict(int)
    for reference in eppi.references:
        for attribute_id in {code.attribute_id for code in reference.codes}:
            uses[attribute_id] += 1
    lines: list[str] = []

    def add(attribute: Attribute, depth: int) -> None:
        count = f" — {plural(uses[attribute.attribute_id], 'reference')}" if uses.get(attribute.attribute_id) else ""
        lines.append(f"{'  ' * depth}{attribute.attribute_id}  {attribute.name}{count}")
        for child in attribute.children:
            add(child, depth + 1)

    for code_set in eppi.code_sets:
        lines.append(f"SetId {code_set.set_id}  {code_set.name} ({plural(len(_all(code_set.attributes)), 'code')})")
        for attribute in code_set.attributes:
            add(attribute, 1)
    return lines

