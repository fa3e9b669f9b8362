"""Reading an EPPI-Reviewer JSON export (what EPPI-Mapper reads) into typed records.

`read_file` decodes the bytes (UTF-8, with or without a byte-order mark; any other encoding is
refused with a message that says where the first undecodable bytes are and which encoding the
file looks like), parses the JSON and checks its shape: every value the importer uses must have
the type EPPI-Reviewer writes, every identifier must be unique, and keys the importer does not
know are listed (they are ignored). Each problem names the record (SetId, AttributeId, ItemId,
OutcomeId) and the key, as the file has them. The format is described in
`shared/formats/eppi-reviewer-json.md`; the meaning of an outcome's Data1…Data14 is in
`interchange.eppi.outcomes`.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from interchange.importing.report import Report, listing

# Keys EPPI-Reviewer writes that the importer reads or knowingly leaves aside; others are listed.
TOP_KEYS = {"CodeSets", "References"}
CODE_SET_KEYS = {"SetName", "SetId", "ReviewSetId", "SetDescription", "SetType", "Attributes", "SetOrder"}
ATTRIBUTE_KEYS = {
    "AttributeId", "AttributeSetId", "OriginalAttributeID", "AttributeName", "AttributeDescription",
    "AttributeSetDescription", "AttributeType", "AttributeTypeId", "ExtURL", "ExtType", "Attributes", "AttributeOrder",
}
REFERENCE_KEYS = {
    "ItemId", "Title", "ParentTitle", "ShortTitle", "Year", "Month", "Authors", "ParentAuthors", "Abstract", "DOI",
    "URL", "Keywords", "Volume", "Issue", "Pages", "Publisher", "City", "Country", "Institution", "TypeName",
    "TypeId", "ItemStatus", "ItemStatusTooltip", "QuickCitation", "DateCreated", "DateEdited", "CreatedBy",
    "EditedBy", "Comments", "StandardNumber", "Edition", "Availability", "OldItemId", "Codes", "Outcomes",
    "IsIncluded", "IsDeleted", "IsLocked", "SearchText", "ArchivedDocuments",
}
CODE_KEYS = {"AttributeId", "AdditionalText", "ArmId", "ArmTitle", "ItemAttributeFullTextDetails", "ItemArm"}
OUTCOME_KEYS = {
    "OutcomeId", "ItemSetId", "OutcomeTypeId", "OutcomeTypeName", "ManuallyEnteredOutcomeTypeId",
    "UnifiedOutcomeTypeId", "ItemAttributeIdIntervention", "ItemAttributeIdControl", "ItemAttributeIdOutcome",
    "Title", "ShortTitle", "OutcomeDescription", "InterventionText", "ControlText", "OutcomeText",
    "ItemTimepointId", "ItemTimepointMetric", "ItemTimepointValue", "TimepointDisplayValue", "ItemArmIdGrp1",
    "ItemArmIdGrp2", "grp1ArmName", "grp2ArmName", "IsSelected", "CanSelect", "OutcomeCodes", "feWeight",
    "reWeight", "SMD", "SESMD", "R", "SER", "OddsRatio", "SEOddsRatio", "RiskRatio", "SERiskRatio",
    "RiskDifference", "SERiskDifference", "MeanDifference", "SEMeanDifference", "PetoOR", "SEPetoOR", "ES", "SEES",
    "NRows", "CILower", "CIUpper", "CIUpperSMD", "CILowerSMD", "CIUpperR", "CILowerR", "CIUpperOddsRatio",
    "CILowerOddsRatio", "CIUpperRiskRatio", "CILowerRiskRatio", "CIUpperRiskDifference", "CILowerRiskDifference",
    "CIUpperPetoOddsRatio", "CILowerPetoOddsRatio", "CIUpperMeanDifference", "CILowerMeanDifference", "ESDesc",
    "SEDesc", "ItemId",
}
# Numbered families: Data1..Data14 and their descriptions, the outcome classification columns.
OUTCOME_KEY_PATTERN = re.compile(r"^(Data([1-9]|1[0-4])(Desc)?|occ\d+|aa\d+|aq\d+)$")
# The values EPPI-Reviewer computes for an outcome that the importer compares with its own.
EPPI_COMPUTED = ("SMD", "SESMD", "OddsRatio", "R")

# EPPI-Reviewer's "included" status; references with another status are not studies of the map.
INCLUDED = "I"


@dataclass
class Attribute:
    attribute_id: int
    name: str
    description: str
    attribute_type: str
    set_id: int
    children: list[Attribute] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"AttributeId {self.attribute_id}"


@dataclass
class CodeSet:
    set_id: int
    name: str
    description: str
    attributes: list[Attribute] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"SetId {self.set_id}"


@dataclass
class Code:
    attribute_id: int
    additional_text: str


@dataclass
class Outcome:
    outcome_id: int
    type_id: int
    type_name: str
    intervention: int  # AttributeId of the intervention (row), 0 when not set
    control: int
    outcome: int  # AttributeId of the outcome (column), 0 when not set
    title: str
    description: str
    intervention_text: str
    control_text: str
    outcome_text: str
    timepoint: str
    data: tuple[float, ...]  # Data1 … Data14 (index 0 is Data1)
    computed: dict[str, float]  # what EPPI-Reviewer computed (SMD, SESMD, OddsRatio, R), when present
    item_id: int = 0

    @property
    def ref(self) -> str:
        return f"ItemId {self.item_id}, outcome {self.outcome_id}"


@dataclass
class Reference:
    item_id: int
    position: int  # 1-based, in the file's order
    values: dict[str, str]  # the text fields, stripped ("" when absent)
    codes: list[Code] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    has_codes_key: bool = True

    @property
    def ref(self) -> str:
        return f"ItemId {self.item_id}"


@dataclass
class EppiFile:
    code_sets: list[CodeSet]
    references: list[Reference]
    attributes: dict[int, Attribute]  # every attribute, by AttributeId
    sets: dict[int, CodeSet]


class Unreadable(Exception):
    """The file cannot be read at all (encoding, JSON syntax, top-level shape); the report says why."""


# --------------------------------------------------------------------------------------
# Bytes to text
# --------------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"),
)
_RECORD_ID = re.compile(rb'"(ItemId|AttributeId|SetId)"\s*:\s*"?(\d+)')
MAX_ENCODING_PROBLEMS = 20


def _where(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    # The record: the last identifier before the place (the reference's ItemId, or the code's
    # AttributeId in the code sets). A window is enough, and keeps this fast on a big file.
    window = max(0, offset - 200_000)
    found = list(_RECORD_ID.finditer(data, window, offset))
    near = f", near {found[-1].group(1).decode()} {found[-1].group(2).decode()}" if found else ""
    return f"line {line}, column {column}{near}"


def _guess(data: bytes) -> str:
    """A likely name for a file's 8-bit encoding, for the message."""
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return "an 8-bit encoding such as ISO-8859-1 (Latin-1)"
    return "Windows-1252 (Western European, what Excel and Notepad often save)"


def decode(data: bytes, report: Report, *, extension: str = "json") -> str:
    """UTF-8 text, with or without a byte-order mark; anything else is refused with where and why
    (`extension` names the kind of file in the example command)."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            report.error(
                "encoding", "the file", "",
                f"the file is {name} (it starts with a {name} byte-order mark); the importer reads UTF-8: "
                f"export the file again as UTF-8, or convert it (for example: iconv -f {name} -t UTF-8)",
            )
            raise Unreadable
    text = data[3:] if data.startswith(codecs.BOM_UTF8) else data
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Name every place that is not UTF-8 (up to a limit), then say what the file looks like.
    offset = 3 if text is not data else 0
    places: list[str] = []
    position = 0
    while position < len(text) and len(places) < MAX_ENCODING_PROBLEMS:
        try:
            text[position:].decode("utf-8")
            break
        except UnicodeDecodeError as exc:
            bad = position + exc.start
            places.append(f"byte 0x{text[bad]:02X} at {_where(data, bad + offset)}")
            position = position + exc.end
    guess = _guess(text)
    for place in places:
        report.error("encoding", "the file", "", f"text that is not UTF-8: {place}")
    report.error(
        "encoding", "the file", "",
        f"the file is not UTF-8; it looks like {guess}. Export it again as UTF-8, or convert it "
        f"(for example: iconv -f WINDOWS-1252 -t UTF-8 in.{extension} > out.{extension})",
    )
    raise Unreadable


def parse_json(text: str, report: Report) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        report.error("json", "the file", "", f"{exc.msg} at line {exc.lineno}, column {exc.colno}")
        raise Unreadable from None


# --------------------------------------------------------------------------------------
# JSON to records
# --------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, report: Report) -> None:
        self.report = report
        self.unknown: dict[tuple[str, str], list[str]] = {}

    def keys(self, obj: dict[str, Any], known: set[str], what: str, ref: str,
             pattern: re.Pattern[str] | None = None) -> None:
        for key in obj:
            if key not in known and not (pattern and pattern.match(key)):
                self.unknown.setdefault((what, key), []).append(ref)

    def report_unknown(self) -> None:
        for (what, key), refs in self.unknown.items():
            self.report.note(
                "unknown_key", f"{len(refs):,} {what}", key,
                f"not a key this importer reads; ignored (in {listing(refs, limit=3)})",
            )

    def identifier(self, obj: dict[str, Any], key: str, ref: str, *, required: bool = True) -> int | None:
        value = obj.get(key)
        if value is None or value == "":
            if required:
                self.report.error("bad_value", ref, key, "is missing; every record needs its identifier")
            return None
        if isinstance(value, bool):
            value = None
        elif isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            self.report.error("bad_value", ref, key, f"{obj.get(key)!r} is not a whole number")
            return None
        return value

    def text(self, obj: dict[str, Any], key: str, ref: str) -> str:
        value = obj.get(key)
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.report.error("bad_value", ref, key, f"should be text, not {type(value).__name__}")
            return ""
        return str(value).strip()

    def number(self, obj: dict[str, Any], key: str, ref: str) -> float | None:
        value = obj.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                self.report.error("bad_value", ref, key, f"{obj[key]!r} is not a number")
                return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.report.error("bad_value", ref, key, f"{obj[key]!r} is not a number")
            return None
        number = float(value)
        if not math.isfinite(number):
            self.report.error("bad_value", ref, key, f"{obj[key]!r} is not a finite number")
            return None
        return number

    def objects(self, obj: dict[str, Any], key: str, ref: str) -> list[dict[str, Any]]:
        value = obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.report.error("structure", ref, key, f"should be a list, not {type(value).__name__}")
            return []
        good = [item for item in value if isinstance(item, dict)]
        if len(good) != len(value):
            self.report.error("structure", ref, key, "holds something other than objects")
        return good

    # ---- code sets ----

    def attribute(self, obj: dict[str, Any], set_id: int, parent_ref: str) -> Attribute | None:
        attribute_id = self.identifier(obj, "AttributeId", f"an attribute under {parent_ref}")
        if attribute_id is None:
            return None
        ref = f"AttributeId {attribute_id}"
        self.keys(obj, ATTRIBUTE_KEYS, "attributes", ref)
        attribute = Attribute(
            attribute_id=attribute_id,
            name=" ".join(self.text(obj, "AttributeName", ref).split()),
            description=self.text(obj, "AttributeDescription", ref),
            attribute_type=self.text(obj, "AttributeType", ref),
            set_id=set_id,
        )
        if not attribute.name:
            self.report.error("bad_value", ref, "AttributeName", "is empty; a code needs a name")
        for child in self.objects(self._children(obj, ref), "AttributesList", ref):
            parsed = self.attribute(child, set_id, ref)
            if parsed is not None:
                attribute.children.append(parsed)
        return attribute

    def _children(self, obj: dict[str, Any], ref: str) -> dict[str, Any]:
        value = obj.get("Attributes")
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.report.error("structure", ref, "Attributes", "should be an object holding AttributesList")
            return {}
        return value

    def code_set(self, obj: dict[str, Any], position: int) -> CodeSet | None:
        set_id = self.identifier(obj, "SetId", f"code set {position}")
        if set_id is None:
            return None
        ref = f"SetId {set_id}"
        self.keys(obj, CODE_SET_KEYS, "code sets", ref)
        code_set = CodeSet(
            set_id=set_id, name=" ".join(self.text(obj, "SetName", ref).split()),
            description=self.text(obj, "SetDescription", ref),
        )
        if not code_set.name:
            self.report.error("bad_value", ref, "SetName", "is empty; a code set needs a name")
        for child in self.objects(self._children(obj, ref), "AttributesList", ref):
            parsed = self.attribute(child, set_id, ref)
            if parsed is not None:
                code_set.attributes.append(parsed)
        return code_set

    # ---- references ----

    def reference(self, obj: dict[str, Any], position: int) -> Reference | None:
        item_id = self.identifier(obj, "ItemId", f"reference {position} (counting from 1)")
        if item_id is None:
            return None
        ref = f"ItemId {item_id}"
        self.keys(obj, REFERENCE_KEYS, "references", ref)
        values = {
            key: self.text(obj, key, ref)
            for key in ("Title", "ShortTitle", "ParentTitle", "Year", "Authors", "Abstract", "DOI", "URL",
                        "Keywords", "Volume", "Issue", "Pages", "ItemStatus", "Institution", "TypeName")
        }
        reference = Reference(item_id=item_id, position=position, values=values, has_codes_key="Codes" in obj)
        for code in self.objects(obj, "Codes", ref):
            attribute_id = self.identifier(code, "AttributeId", f"{ref}, a code")
            if attribute_id is None:
                continue
            self.keys(code, CODE_KEYS, "codes of references", ref)
            reference.codes.append(Code(attribute_id, self.text(code, "AdditionalText", ref)))
        for outcome in self.objects(obj, "Outcomes", ref):
            parsed = self.outcome(outcome, item_id)
            if parsed is not None:
                reference.outcomes.append(parsed)
        return reference

    def outcome(self, obj: dict[str, Any], item_id: int) -> Outcome | None:
        outcome_id = self.identifier(obj, "OutcomeId", f"ItemId {item_id}, an outcome")
        if outcome_id is None:
            return None
        ref = f"ItemId {item_id}, outcome {outcome_id}"
        self.keys(obj, OUTCOME_KEYS, "outcomes", ref, OUTCOME_KEY_PATTERN)
        type_id = self.identifier(obj, "OutcomeTypeId", ref)
        data = tuple(self.number(obj, f"Data{i}", ref) or 0.0 for i in range(1, 15))
        computed = {key: value for key in EPPI_COMPUTED if (value := self.number(obj, key, ref)) is not None}
        timepoint = self.text(obj, "TimepointDisplayValue", ref) or " ".join(
            part for part in (self.text(obj, "ItemTimepointValue", ref), self.text(obj, "ItemTimepointMetric", ref)) if part
        )
        return Outcome(
            outcome_id=outcome_id,
            type_id=-1 if type_id is None else type_id,
            type_name=self.text(obj, "OutcomeTypeName", ref),
            intervention=self.identifier(obj, "ItemAttributeIdIntervention", ref, required=False) or 0,
            control=self.identifier(obj, "ItemAttributeIdControl", ref, required=False) or 0,
            outcome=self.identifier(obj, "ItemAttributeIdOutcome", ref, required=False) or 0,
            title=" ".join(self.text(obj, "Title", ref).split()),
            description=self.text(obj, "OutcomeDescription", ref),
            intervention_text=self.text(obj, "InterventionText", ref),
            control_text=self.text(obj, "ControlText", ref),
            outcome_text=self.text(obj, "OutcomeText", ref),
            timepoint=timepoint,
            data=data,
            computed=computed,
            item_id=item_id,
        )


def _flatten(attributes: list[Attribute]) -> list[Attribute]:
    out: list[Attribute] = []
    for attribute in attributes:
        out.append(attribute)
        out += _flatten(attribute.children)
    return out


def read_json(data: Any, report: Report) -> EppiFile:
    """Typed records from parsed JSON; problems go to `report`."""
    if not isinstance(data, dict):
        report.error("structure", "the file", "", "the file should hold one JSON object with CodeSets and References")
        raise Unreadable
    reader = _Reader(report)
    reader.keys(data, TOP_KEYS, "top-level keys", "the file")
    for key in ("CodeSets", "References"):
        if key not in data:
            report.error("structure", "the file", key, "is missing; an EPPI-Reviewer export has CodeSets and References")
    code_sets = [
        parsed for i, obj in enumerate(reader.objects(data, "CodeSets", "the file"), start=1)
        if (parsed := reader.code_set(obj, i)) is not None
    ]
    references = [
        reference for i, obj in enumerate(reader.objects(data, "References", "the file"), start=1)
        if (reference := reader.reference(obj, i)) is not None
    ]
    reader.report_unknown()

    sets: dict[int, CodeSet] = {}
    for code_set in code_sets:
        if code_set.set_id in sets:
            report.error("duplicate_id", code_set.ref, "SetId", "is used by two code sets")
        sets[code_set.set_id] = code_set
    attributes: dict[int, Attribute] = {}
    for code_set in code_sets:
        for attribute in _flatten(code_set.attributes):
            if attribute.attribute_id in attributes:
                other = attributes[attribute.attribute_id]
                report.error(
                    "duplicate_id", attribute.ref, "AttributeId",
                    f"is used twice: “{other.name}” (SetId {other.set_id}) and “{attribute.name}” (SetId {attribute.set_id})",
                )
            attributes[attribute.attribute_id] = attribute
    item_ids = Counter(r.item_id for r in references)
    for item_id, n in item_ids.items():
        if n > 1:
            positions = [str(r.position) for r in references if r.item_id == item_id]
            report.error(
                "duplicate_id", f"ItemId {item_id}", "ItemId",
                f"is used by {n} references (numbers {', '.join(positions)} in the file); an ItemId names one reference",
            )
    outcome_ids = Counter(o.outcome_id for r in references for o in r.outcomes)
    for outcome_id, n in outcome_ids.items():
        if n > 1:
            owners = sorted({r.item_id for r in references for o in r.outcomes if o.outcome_id == outcome_id})
            report.error(
                "duplicate_id", f"outcome {outcome_id}", "OutcomeId",
                f"is used by {n} outcomes (of ItemId {', '.join(map(str, owners))}); an OutcomeId names one outcome",
            )
    return EppiFile(code_sets=code_sets, references=references, attributes=attributes, sets=sets)


def read_file(data: bytes, report: Report) -> EppiFile:
    """Decode, parse and read an export; raises Unreadable when nothing more can be read."""
    return read_json(parse_json(decode(data, report), report), report)
