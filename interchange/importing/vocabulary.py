"""Names as review teams write them, mapped to the map's own choices: study designs
(studies.models.StudyDesign) and countries (ISO 3166-1 codes, through django-countries).

Any importer that reads a design or a country by name uses these (EPPI-Reviewer codes now,
spreadsheet columns later). A name that maps to nothing is the caller's to report.
"""

from __future__ import annotations

import re
import unicodedata

from django_countries import countries

from studies.models import StudyDesign


def normalise(name: str) -> str:
    """Lower case, no accents or punctuation, British spelling of "randomised", single spaces."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = text.replace("randomiz", "randomis").replace("&", " and ")
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


_DESIGN_SYNONYMS: dict[str, str] = {
    "rct": StudyDesign.RCT,
    "randomised trial": StudyDesign.RCT,
    "cluster rct": StudyDesign.RCT,
    "experimental": StudyDesign.RCT,
    "experiment": StudyDesign.RCT,
    "field experiment": StudyDesign.RCT,
    "rdd": StudyDesign.RDD,
    "its": StudyDesign.ITS,
    "iv": StudyDesign.IV,
    "did": StudyDesign.DID,
    "diff in diff": StudyDesign.DID,
    "psm": StudyDesign.MATCHING,
    "qed": StudyDesign.OTHER_QED,
    "quasi experimental": StudyDesign.OTHER_QED,
    "quasi experimental design": StudyDesign.OTHER_QED,
    "controlled before and after": StudyDesign.OTHER_QED,
    "mixed methods": StudyDesign.MIXED,
    "mixed method": StudyDesign.MIXED,
    "review": StudyDesign.SYSTEMATIC_REVIEW,
    "meta analysis": StudyDesign.SYSTEMATIC_REVIEW,
    "other design": StudyDesign.OTHER,
}
# Rules on words a longer name contains, tried in this order (the first that fits wins).
_DESIGN_RULES: tuple[tuple[str, str], ...] = (
    ("regression discontinuity", StudyDesign.RDD),
    ("interrupted time series", StudyDesign.ITS),
    ("instrumental variable", StudyDesign.IV),
    ("difference in difference", StudyDesign.DID),
    ("matching", StudyDesign.MATCHING),
    ("quasi", StudyDesign.OTHER_QED),
    ("non randomised", StudyDesign.OTHER_QED),
    ("randomised", StudyDesign.RCT),
    ("mixed method", StudyDesign.MIXED),
    ("systematic review", StudyDesign.SYSTEMATIC_REVIEW),
    ("meta analys", StudyDesign.SYSTEMATIC_REVIEW),
    ("qualitative", StudyDesign.QUALITATIVE),
)
_DESIGNS: dict[str, str] = {
    **{normalise(label): str(value) for value, label in StudyDesign.choices},
    **{normalise(str(value)): str(value) for value in StudyDesign.values},
    **{normalise(name): str(value) for name, value in _DESIGN_SYNONYMS.items()},
}


def design_for(name: str) -> str | None:
    """The StudyDesign value a design's name means, or None."""
    key = normalise(name)
    if key in _DESIGNS:
        return _DESIGNS[key]
    for words, design in _DESIGN_RULES:
        if words in key:
            return str(design)
    return None


# Names in common use that django-countries does not know (it knows ISO names, common short
# names such as "Vietnam" or "Bolivia", and old names such as "Swaziland").
_COUNTRY_ALIASES: dict[str, str] = {
    "united states": "US", "united states of america": "US", "usa": "US", "us": "US",
    "uk": "GB", "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
    "dr congo": "CD", "drc": "CD", "congo dr": "CD", "congo democratic republic": "CD",
    "congo democratic republic of the": "CD", "democratic republic of congo": "CD",
    "republic of the congo": "CG", "congo republic": "CG", "congo brazzaville": "CG",
    "ivory coast": "CI", "cape verde": "CV", "burma": "MM", "the gambia": "GM",
    "united republic of tanzania": "TZ", "lao pdr": "LA", "lao": "LA",
    "republic of korea": "KR", "korea republic of": "KR", "korea south": "KR", "north korea": "KP",
    "west bank and gaza": "PS", "occupied palestinian territories": "PS", "gaza": "PS",
    "kyrgyz republic": "KG", "slovak republic": "SK", "egypt arab rep": "EG", "yemen rep": "YE",
    "iran islamic rep": "IR", "venezuela rb": "VE", "micronesia fed sts": "FM", "st lucia": "LC",
    "east timor": "TL", "swaziland": "SZ", "macedonia": "MK", "holland": "NL", "the netherlands": "NL",
    "the philippines": "PH", "the bahamas": "BS", "bosnia": "BA", "russian federation": "RU",
    "turkiye": "TR",
}
_GLOBAL = ("global", "worldwide", "world", "international", "multiple countries", "multi country",
           "multicountry", "several countries", "cross country", "many countries")


def country_for(name: str) -> str | None:
    """The ISO 3166-1 alpha-2 code a country's name (or its alpha-2 or alpha-3 code) means, or None."""
    text = name.strip()
    if not text:
        return None
    found = countries.by_name(text)
    if isinstance(found, str) and found:
        return found
    key = normalise(text)
    for name in (key, key.removeprefix("the ")):
        if name in _COUNTRY_ALIASES:
            return _COUNTRY_ALIASES[name]
    if key.startswith("the "):
        found = countries.by_name(text[4:])
        if isinstance(found, str) and found:
            return found
    if re.fullmatch(r"[A-Za-z]{2,3}", text):
        code = countries.alpha2(text.upper())
        return code or None
    return None


def is_global(name: str) -> bool:
    """Whether a "country" name means a study of many countries or the whole world."""
    key = normalise(name)
    return any(key == word or key.startswith(word + " ") for word in _GLOBAL)
