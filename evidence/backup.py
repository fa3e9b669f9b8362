"""Backing up and restoring the whole database (`make backup`, `make restore`).

PostgreSQL: `pg_dump --format=custom` and `pg_restore --clean --single-transaction`, with the
connection settings of DATABASE_URL (the password passed in the environment, never on the
command line). SQLite: a consistent copy through SQLite's online backup, which is safe while
the portal runs.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections


class BackupError(Exception):
    pass


def default_path(vendor: str) -> Path:
    """backups/egm-<UTC date and time>.<dump|sqlite3> under the project."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Path(settings.BASE_DIR) / "backups" / f"egm-{stamp}.{'dump' if vendor == 'postgresql' else 'sqlite3'}"


def _pg(program: str, alias: str) -> tuple[list[str], dict[str, str]]:
    found = shutil.which(program)
    if found is None:
        raise BackupError(f"{program} is not installed (on Debian: apt-get install postgresql-client).")
    db: Any = settings.DATABASES[alias]
    args = [found, "--no-owner", "--no-privileges"]
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            args += [flag, str(db[key])]
    env = {**os.environ, "PGPASSWORD": str(db.get("PASSWORD") or "")}
    return args, env


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip() or done.returncode}")


def backup(path: Path | None = None, *, alias: str = "default") -> Path:
    """Write the whole database to `path` (default: `default_path`); returns the path."""
    connection = connections[alias]
    path = path or default_path(connection.vendor)
    path.parent.mkdir(parents=True, exist_ok=True)
    if connection.vendor == "postgresql":
        args, env = _pg("pg_dump", alias)
        _run([*args, "--format=custom", "--file", str(path), "--dbname", str(connection.settings_dict["NAME"])], env)
    elif connection.vendor == "sqlite":
        connection.ensure_connection()
        target = sqlite3.connect(path)
        try:
            connection.connection.backup(target)
        finally:
            target.close()
    else:
        raise BackupError(f"No backup for the {connection.vendor} database.")
    return path


def restore(path: Path, *, alias: str = "default") -> None:
    """Replace the whole database with the backup at `path`."""
    if not path.is_file():
        raise BackupError(f"There is no backup file {path}.")
    connection = connections[alias]
    if connection.vendor == "postgresql":
        connection.close()  # holds no lock on what pg_restore drops
        args, env = _pg("pg_restore", alias)
        _run([*args, "--clean", "--if-exists", "--single-transaction", "--exit-on-error",
              "--dbname", str(connection.settings_dict["NAME"]), str(path)], env)
    elif connection.vendor == "sqlite":
        source = sqlite3.connect(path)
        try:
            if source.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{path} is not a sound SQLite database.")
            connection.ensure_connection()
            source.backup(connection.connection)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{path} is not a SQLite backup: {exc}") from exc
        finally:
            source.close()
    else:
        raise BackupError(f"No restore for the {connection.vendor} database.")
