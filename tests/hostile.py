"""A corpus of hostile and careless input, for every write path (tests/hardening/test_hostile.py).

Each entry is a value someone may send, by malice or by accident. Every write path must either
refuse it with a clear error naming the field (an API 400, an admin form error, an import
error naming the record and the field) or store it harmlessly (as sent, and shown escaped),
leaving the rest of the database unchanged.
"""

from __future__ import annotations

from typing import Any

# Free text: titles, abstracts, labels, notes.
TEXTS: dict[str, str] = {
    "NUL character": "before\x00after",
    "lone surrogate": "broken \ud800 text",
    "right-to-left override": "\u202egnp.exe\u202c report",
    "invisible marks": "a\u200b\u200e\u200f\ufeffb",
    "combining marks and emoji": "Z\u0351\u0367a\u0308lgo 🏳️\u200d🌈",
    "markup": '<script>alert("x")</script><img src=x onerror=alert(1)>',
    "template syntax": "{{ request }} {% now 'Y' %} ${7*7}",
    "SQL": "'; DROP TABLE studies_study; --",
    "very long": "é" * 1_000_001,  # the 1 MB abstract of the issue, in two-byte characters
    "control characters": "bell\x07 escape\x1b[31m",
}

# URL fields.
URLS: dict[str, str] = {
    "javascript URL": "javascript:alert(document.cookie)",
    "data URL": "data:text/html,<script>alert(1)</script>",
    "markup in a URL": 'https://example.org/"><script>alert(1)</script>',
    "very long URL": "https://example.org/" + "a" * 5_000,
    "vbscript URL": "vbscript:msgbox(1)",
}

# Numbers: huge, tiny, not a number, and things that are not numbers at all.
NUMBERS: dict[str, Any] = {
    "huge": 1e308,
    "huge negative": -1e308,
    "1e160": 1e160,
    "tiny": 5e-324,
    "zero": 0.0,
    "negative zero": -0.0,
    "huge integer": 10**40,
    "NaN as text": "NaN",
    "infinity as text": "Infinity",
    "minus infinity as text": "-inf",
    "number with junk": "12abc",
    "empty text": "",
    "boolean": True,
    "list": [1],
    "object": {"value": 1},
}

# Values of the wrong type for a text field.
WRONG_TYPES: dict[str, Any] = {
    "number": 12,
    "boolean": False,
    "list": ["a", "b"],
    "object": {"a": "b"},
    "nested deep": [[[[[[[["deep"]]]]]]]],
}


def deep(depth: int) -> Any:
    """A value nested `depth` lists deep."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value
