"""A release materialised for reading: its document's rows in a read-only SQLite file.

On the first read of a release (in each process) its document is written into a SQLite file of
the release cache (settings.RELEASE_CACHE_DIR) with the schema of every model, so that every
existing read path (the portal's pages, the exports, the API) reads a release through the ORM
exactly as it reads the working copy: the router (evidence.releases.router) sends their reads
of the snapshot's models there. The file is built under a temporary name and renamed into
place, so concurrent workers never see half a file; its name holds the release's id and the
digest of its document, so it is never stale. Rows are written as the database would store
them (no `auto_now`, no `save()`): the copy holds the release's values, byte for byte.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.db import connections, transaction
from django.db.models import Model
from django.db.utils import load_backend

from evidence.models import Release
from evidence.releases import snapshot
from evidence.releases.context import alias_of

_lock = threading.Lock()
_aliases: set[str] = set()


def cache_dir() -> Path:
    return Path(settings.RELEASE_CACHE_DIR)


def path_of(release: Release) -> Path:
    return cache_dir() / f"{alias_of(release)}.sqlite3"


def _name(path: Path, *, read_only: bool) -> str:
    return f"file:{path}?mode=ro" if read_only else str(path)


def _opened() -> Any:
    # The connections of this thread. A release's connection is added there, not to the
    # configured databases (connections.settings): it exists only where a release is read,
    # and Django's test cases refuse connections to configured aliases a test did not name.
    return connections._connections  # type: ignore[attr-defined]


def materialise(release: Release) -> str:
    """The database alias of the release's read-only copy, building the copy on first use."""
    alias = alias_of(release)
    path = path_of(release)
    existing = getattr(_opened(), alias, None)
    if existing is not None and existing.settings_dict["NAME"] == _name(path, read_only=True) and path.exists():
        return alias
    with _lock:
        if not path.exists():
            build(release, path)
    _register(alias, path, read_only=True)
    return alias


def _register(alias: str, path: Path, *, read_only: bool) -> None:
    """Open `path` as the database `alias` in this thread."""
    _unregister(alias)
    configured = connections.configure_settings({
        "default": connections.settings["default"],
        alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": _name(path, read_only=read_only)},
    })[alias]
    wrapper = load_backend(configured["ENGINE"]).DatabaseWrapper(configured, alias)
    setattr(_opened(), alias, wrapper)
    _aliases.add(alias)


def _unregister(alias: str) -> None:
    wrapper = getattr(_opened(), alias, None)
    if wrapper is not None:
        try:
            wrapper.close()
        finally:
            delattr(_opened(), alias)


def forget_all() -> None:
    """Close this thread's connections to release copies (tests, after each test)."""
    for alias in list(_aliases):
        _unregister(alias)


def build(release: Release, path: Path) -> None:
    """Write the release's document into a new SQLite file at `path` (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    alias = f"release_build_{uuid.uuid4().hex}"
    _register(alias, temporary, read_only=False)
    try:
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode = OFF")
            cursor.execute("PRAGMA synchronous = OFF")
        with connection.schema_editor() as editor:
            for model in apps.get_models():
                if model._meta.managed and not model._meta.proxy:
                    editor.create_model(model)
        with transaction.atomic(using=alias):
            _insert(alias, snapshot.decode(release.document))
        _unregister(alias)
        os.replace(temporary, path)
    finally:
        _unregister(alias)
        temporary.unlink(missing_ok=True)


def _objects(model: type[Model], rows: list[dict[str, Any]]) -> list[Any]:
    label = model._meta.label_lower
    return list(serializers.deserialize(
        "python", [{"model": label, **row} for row in rows], ignorenonexistent=True
    ))


def _insert(alias: str, document: dict[str, Any]) -> None:
    connection = connections[alias]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for section, model in snapshot.SECTIONS.items():
            rows = document[section]
            found = _objects(model, [rows] if section == "map" else rows)
            fields = list(model._meta.concrete_fields)
            columns = ", ".join(quote(str(f.column)) for f in fields)
            marks = ", ".join(["%s"] * len(fields))
            cursor.executemany(
                f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})",
                [[f.get_db_prep_save(getattr(item.object, f.attname), connection) for f in fields] for item in found],
            )
            for field in model._meta.many_to_many:
                through: Any = field.remote_field.through
                source = quote(field.m2m_column_name())
                target = quote(field.m2m_reverse_name())
                cursor.executemany(
                    f"INSERT INTO {quote(through._meta.db_table)} ({source}, {target}) VALUES (%s, %s)",
                    [(item.object.pk, other) for item in found for other in item.m2m_data.get(field.name, [])],
                )
