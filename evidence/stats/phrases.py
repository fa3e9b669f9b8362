"""English sentences that the interface can say in another language.

The statistics and synthesis layers describe their results in English, and the API returns
that English. A `Phrase` is such a sentence (a `str`, so everything that reads it as text
keeps working) that also remembers the message it was made from and its parameters, so that
the portal can look the message up in its translation catalogue and fill in the parameters
itself (portal.i18n.say). No Django here: `_` and `ngettext` only build phrases; the names are
the ones `manage.py makemessages` looks for, so that every message is extracted into the
catalogue.
"""

from __future__ import annotations

from typing import Any


class Phrase(str):
    """English text made from `message` (a %-format with named parameters) and `params`."""

    message: str
    plural: str
    number: int | None  # the count that chose between `message` and `plural`
    params: dict[str, Any]

    def __new__(cls, message: str, params: dict[str, Any], *, plural: str = "", number: int | None = None) -> Phrase:
        template = plural if number is not None and number != 1 else message
        text = super().__new__(cls, template % params if params else template)
        text.message, text.plural, text.number, text.params = message, plural, number, params
        return text

    def __reduce__(self) -> Any:  # kept in the cache like any other result
        return (_rebuild, (self.message, self.params, self.plural, self.number))


def _rebuild(message: str, params: dict[str, Any], plural: str, number: int | None) -> Phrase:
    return Phrase(message, params, plural=plural, number=number)


def _(message: str, **params: Any) -> Phrase:
    """A sentence from `message` with named %-parameters (which may be phrases themselves)."""
    return Phrase(message, params)


def ngettext(singular: str, plural: str, count: int, **params: Any) -> Phrase:
    """A sentence in the singular or plural by `count` (a parameter of the same name too)."""
    return Phrase(singular, {"count": count, **params}, plural=plural, number=count)
