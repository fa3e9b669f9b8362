"""Which release the current request reads (none: the working copy)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evidence.models import Release

_reading: ContextVar[Release | None] = ContextVar("reading_release", default=None)


def current() -> Release | None:
    """The release being read, or None for the working copy."""
    return _reading.get()


def alias_of(release: Release) -> str:
    """The database alias of a release's materialised copy."""
    return f"release_{release.pk}_{release.document_sha256[:12]}"


def cache_scope() -> str:
    """What keys of computed results add while a release is read (nothing for the working
    copy), so that a release never reads the working copy's cache or the other way round."""
    release = _reading.get()
    return "" if release is None else f"release:{release.pk}:"


@contextmanager
def reading(release: Release | None) -> Iterator[Release | None]:
    """Read `release` (None: the working copy) inside the block: the ORM's reads of the
    snapshot's models go to its materialised copy (evidence.releases.router)."""
    if release is not None:
        from evidence.releases.store import materialise

        materialise(release)
    token = _reading.set(release)
    try:
        yield release
    finally:
        _reading.reset(token)


def streamed_within(release: Release | None, content: Iterator[Any]) -> Iterator[Any]:
    """A streaming response's content, read from `release` as its view was (a streamed body
    is read after the view has returned)."""
    with reading(release):
        yield from content
